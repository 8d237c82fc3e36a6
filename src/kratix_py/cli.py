"""The ``kratix-py`` command.

Each sub-command lives in its own module with two functions, ``add_arguments(parser)`` and
``run(args) -> int``. Modules keep their heavy imports inside ``run`` so ``kratix-py --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from kratix_py import __version__
from kratix_py.errors import CommandError

# name -> (module implementing `add_arguments(parser)` and `run(args) -> int`, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "local-platform": (
        "kratix_py.local_platform.cli",
        "bring up a whole platform on this machine (Kubernetes API, pods as podman containers, Git server, "
        "operator, a state store and Destination) until Ctrl-C",
    ),
    "operator": (
        "kratix_py.operator.cli",
        "run the kratix-py operator (settings from flags or KRATIX_PY_* environment variables)",
    ),
    "pipeline-adapter": (
        "kratix_py.adapter.cli",
        "run a pipeline pod's kratix-py step: reader, work-writer or status-writer",
    ),
    "render": (
        "kratix_py.authoring.render",
        "run a Promise's pipelines locally in containers and show files, scheduling and status",
    ),
    "validate": (
        "kratix_py.authoring.validate",
        "check a Promise and requests offline (API, schema, defaults, pinned images)",
    ),
    "test": (
        "kratix_py.authoring.testcmd",
        "golden-file tests of a Promise folder (render and compare; --update)",
    ),
    "init": (
        "kratix_py.authoring.init",
        "scaffold a Promise folder: API, Python pipeline, example request, golden test",
    ),
    "backstage": (
        "kratix_py.authoring.backstage",
        "Backstage Scaffolder Template and catalog entities for a Promise",
    ),
    "build-pipeline": (
        "kratix_py.authoring.build",
        "build a Promise's pipeline image (podman) with the kratix_py SDK",
    ),
    "trace": (
        "kratix_py.trace_cmd",
        "show where a request or Promise went (pipelines, Works, placements, Destinations, commits, "
        "GitOps) as a tree; exits non-zero when something on the path is not Ready",
    ),
    "demo": (
        "kratix_py.demo",
        "run the whole kratix-py flow on the local platform and show what happened",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kratix-py",
        description=(
            "kratix-py: a Kratix-compatible platform orchestrator for Kubernetes. "
            "Platform teams publish Promises (an API, workflows and dependencies); app teams request "
            "them; kratix-py runs the pipelines and writes the results to GitOps state stores."
        ),
        epilog="Run 'kratix-py COMMAND --help' for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"kratix-py {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if not (error.name or "").startswith(_LEFT_OUT_OF_THE_IMAGE):
                raise
            # The operator image ships only the operator and the pipeline adapter.
            command_parser = sub.add_parser(name, help=f"{help_text} (not in this installation)")
            command_parser.set_defaults(_missing=error.name)
            continue
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        command_parser.set_defaults(_module=module_name)
        module.add_arguments(command_parser)
    return parser


def _not_installed(command: str, module: str) -> int:
    print(
        f"kratix-py {command}: this installation has no {module} (the operator image ships only "
        "the operator and the pipeline adapter); install kratix-py with pip to use this command",
        file=sys.stderr,
    )
    return 2


_LEFT_OUT_OF_THE_IMAGE = ("kratix_py.local_platform", "kratix_py.testing", "kratix_py.authoring")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_missing", None):
        return _not_installed(args.command, args._missing)
    if not getattr(args, "_module", None):
        parser.print_help()
        return 2
    module = importlib.import_module(args._module)
    try:
        return int(module.run(args) or 0)
    except ModuleNotFoundError as error:
        if not (error.name or "").startswith(_LEFT_OUT_OF_THE_IMAGE):
            raise
        return _not_installed(args.command, error.name or "")
    except CommandError as error:
        print(f"kratix-py {args.command}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
