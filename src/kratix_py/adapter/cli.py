"""``kratix-py pipeline-adapter reader|work-writer|status-writer``: the adapter steps as commands.

This is what kratix-py's own containers run in every pipeline pod (behaviour spec §2.2). Kratix's
step names ``work-creator`` and ``update-status`` are accepted as aliases. Heavy imports (the
Kubernetes client) happen in :func:`run`, so ``kratix-py --help`` stays fast.
"""

from __future__ import annotations

import argparse

from kratix_py.adapter.arguments import ARGUMENTS, KRATIX_STEP_NAMES, STEP_HELP, STEP_NAMES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One sub-command per step, each with its own options."""
    steps = parser.add_subparsers(dest="step", metavar="STEP", required=True)
    aliases = {
        step: [alias for alias, target in KRATIX_STEP_NAMES.items() if target == step] for step in STEP_NAMES
    }
    for step in STEP_NAMES:
        step_parser = steps.add_parser(
            step, aliases=aliases[step], help=STEP_HELP[step], description=STEP_HELP[step]
        )
        step_parser.set_defaults(adapter_step=step)
        ARGUMENTS[step](step_parser)


def run(args: argparse.Namespace) -> int:
    """Run the chosen step in this container: real paths, ``os.environ``, errors on stderr."""
    from kratix_py.adapter.context import ContainerContext
    from kratix_py.adapter.steps import STEPS

    return STEPS[args.adapter_step](ContainerContext(), args)
