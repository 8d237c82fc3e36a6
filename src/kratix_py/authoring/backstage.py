"""``kratix-py backstage PROMISE``: a Backstage Scaffolder Template and catalog entities for a Promise.

The command is a thin shell over the pure builders the operator uses too: the Template
(:mod:`kratix_py.core.scaffolder`) and the Component and API (:mod:`kratix_py.core.catalog`), so
a Template registered by hand and one the operator writes to a Backstage Destination are the
same. Bad input (a schema no form can show, an owner that is no entity reference, a repository
in the wrong form) ends with one line saying what to change, never with a file Backstage rejects.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from kratix_py.core import catalog
from kratix_py.core.catalog_names import CatalogError
from kratix_py.core.scaffolder import (
    FLAVOUR_KUBE_APPLY,
    FLAVOUR_NEEDS,
    FLAVOUR_PULL_REQUEST,
    FLAVOURS,
    promise_form,
)
from kratix_py.errors import CommandError

TEMPLATE_FILE = catalog.TEMPLATE_FILE
CATALOG_FILE = catalog.CATALOG_FILE


def _epilog() -> str:
    def item(flavour: str, *sentences: str) -> str:
        text = " ".join((f"Needs {FLAVOUR_NEEDS[flavour]}.", *sentences))
        return textwrap.fill(
            text,
            width=96,
            initial_indent=f"  {flavour:<13} ",
            subsequent_indent=" " * 16,
            break_on_hyphens=False,
            break_long_words=False,
        )

    return "\n".join(
        [
            "flavours (--flavour), and what the Backstage backend needs for each:",
            item(
                FLAVOUR_PULL_REQUEST,
                "The default. The request is written as <requests-path>/<namespace>/<name>.yaml and",
                "proposed as a pull request to the repository the platform applies requests from;",
                "running the Template again for the same name updates that pull request.",
            ),
            item(
                FLAVOUR_KUBE_APPLY,
                "The request is applied to the platform cluster (kube:apply finds the CRD's own plural",
                "by discovery); running the Template again updates the request.",
            ),
            "",
            textwrap.fill(
                "Owner, system and lifecycle come from the flags, else from the Promise's backstage.io/owner, "
                "backstage.io/system and backstage.io/lifecycle annotation (or label), else platform-team and "
                f"production. Register {TEMPLATE_FILE} and {CATALOG_FILE} as catalog locations. The operator "
                "writes the same entities, and one per request with its status, to a Destination labelled "
                "environment: backstage (README, 'Backstage').",
                width=98,
                break_on_hyphens=False,
            ),
        ]
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _epilog()
    parser.add_argument("promise", type=Path, help="the Promise YAML file")
    parser.add_argument(
        "--output",
        type=Path,
        metavar="DIR",
        help=f"write {TEMPLATE_FILE} and {CATALOG_FILE} here (else print)",
    )
    parser.add_argument(
        "--flavour",
        choices=FLAVOURS,
        default=FLAVOUR_PULL_REQUEST,
        help=f"how the Template makes the request (default {FLAVOUR_PULL_REQUEST}; see below)",
    )
    parser.add_argument("--owner", help="owner entity reference, e.g. group:default/platform-team")
    parser.add_argument("--system", help="the Backstage System the entities belong to")
    parser.add_argument("--lifecycle", help="lifecycle of the entities (default production)")
    parser.add_argument(
        "--requests-path",
        metavar="DIR",
        help="pull-request: repository folder for requests (default requests/<plural>)",
    )
    parser.add_argument(
        "--repo-url",
        metavar="URL",
        help="pull-request: the GitOps repository as github.com?owner=ORG&repo=REPO "
        "(default: the form asks for it)",
    )
    parser.add_argument(
        "--target-branch",
        metavar="BRANCH",
        help="pull-request: branch to propose to (default: the repository's)",
    )


def run(args: argparse.Namespace) -> int:
    from kratix_py.authoring.inputs import load_promise, require_api

    loaded = load_promise(args.promise)
    require_api(loaded, "offer in Backstage")
    options = catalog.CatalogOptions(
        owner=args.owner,
        system=args.system,
        lifecycle=args.lifecycle,
        flavour=args.flavour,
        requests_path=args.requests_path,
        repo_url=args.repo_url,
        target_branch=args.target_branch,
    )
    try:
        files = catalog.promise_files(loaded.body, options)
        warnings = promise_form(loaded.promise).warnings
    except CatalogError as error:
        raise CommandError(f"{args.promise}: {error}") from None
    for problem in warnings:
        print(f"kratix-py backstage: warning: {args.promise}: {problem}", file=sys.stderr)
    if args.output is None:
        sys.stdout.write(files[TEMPLATE_FILE] + "---\n" + files[CATALOG_FILE])
        return 0
    for relative, text in files.items():
        target = args.output / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target}")
    return 0
