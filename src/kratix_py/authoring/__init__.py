"""Promise authoring tools: develop and check a Promise on a laptop or in CI, without a cluster.

``render`` runs a Promise's pipelines in containers on the in-process local platform and shows
what Kratix would do with the result; ``validate`` checks a Promise and its requests offline;
``test`` compares ``render`` with golden files; ``init`` scaffolds a Promise folder;
``backstage`` turns a Promise's API into a Backstage Scaffolder Template and catalog entities.
Each command is one module with ``add_arguments(parser)`` and ``run(args) -> int``.
"""
