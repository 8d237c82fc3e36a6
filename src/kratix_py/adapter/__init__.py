"""What runs inside a pipeline pod besides the user's containers: reader, work-writer, status-writer.

The steps are plain functions of a context (see :mod:`kratix_py.adapter.context`), run either as
``kratix-py pipeline-adapter <step>`` in a container or in-process by the fast pod runner
(:func:`kratix_py.adapter.steps.run_step`).
"""
