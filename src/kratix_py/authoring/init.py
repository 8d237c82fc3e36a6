"""``kratix-py init promise NAME --group G --kind K``: scaffold a Promise folder that works at once.

The folder holds a Promise with a small API (a team name and a size), a Python configure pipeline
written with :mod:`kratix_py.sdk` and its Dockerfile, an example request, a Destination to schedule
against, a README, and one golden test case whose expected output is exactly what the pipeline
produces, so ``validate`` and ``test`` pass on the fresh scaffold once its image is built.

Templates live in ``templates/promise`` as ``*.tmpl`` files filled in with :class:`string.Template`
(``$name``, ``$kind`` ...), which leaves the YAML and Python braces of the templates alone.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from string import Template

from kratix_py.errors import CommandError

TEMPLATES = Path(__file__).parent / "templates" / "promise"
TEMPLATE_SUFFIX = ".tmpl"

_KIND = re.compile(r"[A-Z][A-Za-z0-9]*")
_VERSION = re.compile(r"v[1-9][0-9]*((alpha|beta)[1-9][0-9]*)?")
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_MAX_NAME = 40  # leaves room in the 60-character pipeline id <name>-resource-configure-configure


@dataclass(frozen=True)
class PromiseScaffold:
    """The values every template is filled with."""

    name: str
    group: str
    kind: str
    version: str
    plural: str

    @property
    def image(self) -> str:
        return f"localhost/{self.name}-configure:v0.1.0"

    def values(self) -> dict[str, str]:
        return {
            "name": self.name,
            "group": self.group,
            "kind": self.kind,
            "version": self.version,
            "plural": self.plural,
            "singular": self.kind.lower(),
            "image": self.image,
        }


def scaffold_problem(scaffold: PromiseScaffold) -> str | None:
    """What is wrong with the arguments, in the words of the flag to fix; ``None`` when fine."""
    if not _LABEL.fullmatch(scaffold.name) or len(scaffold.name) > _MAX_NAME:
        return (
            f"NAME {scaffold.name!r} must be lower-case letters, digits and '-' (at most {_MAX_NAME} "
            "characters, starting and ending with a letter or digit), e.g. 'postgresql'"
        )
    labels = scaffold.group.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        return f"--group {scaffold.group!r} must be a DNS domain with at least one dot, e.g. 'marketplace.example.com'"
    if not _KIND.fullmatch(scaffold.kind):
        return f"--kind {scaffold.kind!r} must be CamelCase letters and digits starting upper-case, e.g. 'Database'"
    if not _VERSION.fullmatch(scaffold.version):
        return f"--version {scaffold.version!r} must look like v1, v1beta1 or v1alpha1"
    if not _LABEL.fullmatch(scaffold.plural):
        return f"--plural {scaffold.plural!r} must be lower-case letters and digits, e.g. 'databases'"
    return None


def render_templates(scaffold: PromiseScaffold, templates: Path = TEMPLATES) -> dict[str, str]:
    """``relative path -> text`` of every file of the scaffold (pure: nothing is written)."""
    files: dict[str, str] = {}
    values = scaffold.values()
    for template in sorted(templates.rglob(f"*{TEMPLATE_SUFFIX}")):
        relative = template.relative_to(templates).as_posix().removesuffix(TEMPLATE_SUFFIX)
        relative = Template(relative).substitute(values)
        files[relative] = Template(template.read_text(encoding="utf-8")).substitute(values)
    return files


def write_scaffold(files: Mapping[str, str], directory: Path, *, force: bool = False) -> list[Path]:
    """Write the files; refuse to overwrite existing ones unless ``force``."""
    existing = sorted(relative for relative in files if (directory / relative).exists())
    if existing and not force:
        shown = ", ".join(existing[:3]) + (f" and {len(existing) - 3} more" if len(existing) > 3 else "")
        raise CommandError(f"{directory}: would overwrite {shown}; choose another --dir or pass --force")
    written = []
    for relative, text in files.items():
        target = directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_subparsers(dest="what", metavar="WHAT", required=True)
    promise = what.add_parser(
        "promise",
        help="scaffold a Promise folder",
        description="Scaffold a Promise folder: promise.yaml with a small API, a Python configure "
        "pipeline and its Dockerfile, an example request, Destinations and a golden test case.",
    )
    promise.add_argument("name", help="the Promise's name, e.g. postgresql")
    promise.add_argument(
        "--group", required=True, help="API group of its requests, e.g. marketplace.example.com"
    )
    promise.add_argument("--kind", required=True, help="kind of its requests, e.g. PostgreSQL")
    promise.add_argument(
        "--version", default="v1alpha1", help="API version of its requests (default v1alpha1)"
    )
    promise.add_argument("--plural", help="plural of the kind (default: the kind in lower case + 's')")
    promise.add_argument("--dir", type=Path, help="where to write it (default: ./NAME)")
    promise.add_argument("--force", action="store_true", help="overwrite files that already exist")


def run(args: argparse.Namespace) -> int:
    scaffold = PromiseScaffold(
        name=args.name,
        group=args.group,
        kind=args.kind,
        version=args.version,
        plural=args.plural or f"{args.kind.lower()}s",
    )
    problem = scaffold_problem(scaffold)
    if problem is not None:
        raise CommandError(problem)
    directory = args.dir if args.dir is not None else Path(args.name)
    files = render_templates(scaffold)
    write_scaffold(files, directory, force=args.force)
    print(f"created the {scaffold.kind} Promise in {directory}:")
    for relative in files:
        print(f"  {relative}")
    print(
        "\nnext:\n"
        f"  cd {directory}\n"
        f"  python -m kratix_py.authoring.build pipelines/configure {scaffold.image}\n"
        "  kratix-py validate promise.yaml example-request.yaml\n"
        "  kratix-py render promise.yaml example-request.yaml --destinations destinations.yaml\n"
        "  kratix-py test .\n"
    )
    return 0
