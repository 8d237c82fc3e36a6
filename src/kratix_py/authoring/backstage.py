"""``kratix-py backstage PROMISE``: a Backstage Scaffolder Template and catalog entities for a Promise.

The Template (``scaffolder.backstage.io/v1beta3``) asks for the request's name and namespace and,
on a second page, for the fields of the Promise's API, its form generated from the request CRD's
schema (types, enums, defaults, descriptions, required fields: :mod:`kratix_py.authoring.formschema`).
Its step creates the request:

* ``apply`` flavour: the ``kubernetes:apply`` action applies the request to the platform cluster;
* ``pull-request`` flavour: ``fetch:template`` writes the request file from a ``skeleton/`` folder
  and ``publish:github:pull-request`` proposes it to a GitOps repository.

The catalog entities (``backstage.io/v1alpha1``) are a Component for the Promise and an API for its
request CRD, both annotated ``kratix.io/promise-name`` so Backstage plugins can find the Promise.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kratix_py.api import Promise, RequestGVK
from kratix_py.errors import CommandError

TEMPLATE_API_VERSION = "scaffolder.backstage.io/v1beta3"
CATALOG_API_VERSION = "backstage.io/v1alpha1"
ANNOTATION_PROMISE_NAME = "kratix.io/promise-name"
ANNOTATION_PROMISE_VERSION = "kratix.io/promise-version"
ANNOTATION_REQUEST_KIND = "kratix.io/request-kind"
ANNOTATION_REQUEST_API_VERSION = "kratix.io/request-api-version"
TEMPLATE_FILE = "template.yaml"
CATALOG_FILE = "catalog-info.yaml"
SKELETON_DIR = "skeleton"
SKELETON_FILE = "${{ values.name }}.yaml"
FLAVOURS = ("apply", "pull-request")

_MAX_ENTITY_NAME = 63
_REQUEST_NAME_PATTERN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_METADATA_PARAMETERS = ("name", "namespace", "repoUrl")


@dataclass(frozen=True)
class BackstageOptions:
    flavour: str = "apply"
    owner: str = "platform-team"
    lifecycle: str = "production"
    system: str | None = None
    requests_path: str | None = None
    """Folder of the GitOps repository the pull-request flavour writes requests to."""


def entity_name(base: str, suffix: str) -> str:
    """``<base>-<suffix>`` within Backstage's 63 characters (cut and hashed when longer)."""
    name = f"{base}-{suffix}"
    if len(name) <= _MAX_ENTITY_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    return f"{name[: _MAX_ENTITY_NAME - 7].rstrip('-.')}-{digest}"


def _parameter_keys(spec_fields: Mapping[str, Any]) -> dict[str, str]:
    """Form key of each spec field: its own name, unless the name/namespace pages already use it."""
    keys = {}
    for name in spec_fields:
        key = name
        if key in _METADATA_PARAMETERS:
            key = "spec" + name[0].upper() + name[1:]
        keys[name] = key
    return keys


def _spec_schema(promise: Promise) -> dict[str, Any]:
    crd = promise.api_crd()
    assert crd is not None
    schema = crd.stored_version().schema_ or {}
    root = schema.get("openAPIV3Schema") or {}
    spec = (root.get("properties") or {}).get("spec") or {}
    return dict(spec)


def _annotations(promise: Promise, gvk: RequestGVK) -> dict[str, str]:
    annotations = {
        ANNOTATION_PROMISE_NAME: promise.name,
        ANNOTATION_REQUEST_KIND: gvk.kind,
        ANNOTATION_REQUEST_API_VERSION: gvk.api_version,
    }
    if promise.promise_version:
        annotations[ANNOTATION_PROMISE_VERSION] = promise.promise_version
    return annotations


def _description(promise: Promise, gvk: RequestGVK) -> str:
    crd = promise.api_crd()
    root = ((crd.stored_version().schema_ or {}).get("openAPIV3Schema") or {}) if crd else {}
    described = root.get("description") or (root.get("properties") or {}).get("spec", {}).get("description")
    return str(described or f"Request a {gvk.kind} from the platform (Promise {promise.name}).")


def scaffolder_template(promise: Promise, options: BackstageOptions) -> dict[str, Any]:
    """The Scaffolder Template for requesting the Promise's kind."""
    from kratix_py.authoring.formschema import spec_form

    gvk = promise.request_gvk()
    assert gvk is not None
    fields, required = spec_form(_spec_schema(promise))
    keys = _parameter_keys(fields)
    request_page: dict[str, Any] = {
        "title": f"{gvk.kind} request",
        "required": ["name", "namespace"],
        "properties": {
            "name": {
                "title": "Name",
                "type": "string",
                "description": f"Name of the {gvk.kind} (lower-case letters, digits and '-').",
                "pattern": _REQUEST_NAME_PATTERN,
                "maxLength": 63,
                "ui:autofocus": True,
            },
            "namespace": {
                "title": "Namespace",
                "type": "string",
                "description": f"Namespace the {gvk.kind} request is created in.",
                "default": "default",
                "pattern": _REQUEST_NAME_PATTERN,
                "maxLength": 63,
            },
        },
    }
    spec_page: dict[str, Any] = {
        "title": f"{gvk.kind} configuration",
        "properties": {keys[name]: field for name, field in fields.items()},
    }
    if required:
        spec_page["required"] = [keys[name] for name in required]
    parameters = [request_page, spec_page]
    spec_values = {name: f"${{{{ parameters.{keys[name]} }}}}" for name in fields}
    if options.flavour == "apply":
        steps = [_apply_step(gvk, spec_values)]
        output: dict[str, Any] = {
            "text": [
                {
                    "title": f"{gvk.kind} requested",
                    "content": f"The {gvk.kind} **${{{{ parameters.name }}}}** was requested in namespace "
                    f"**${{{{ parameters.namespace }}}}**. Follow it with "
                    f"`kubectl get {gvk.plural} -n ${{{{ parameters.namespace }}}} ${{{{ parameters.name }}}}`.",
                }
            ]
        }
    else:
        parameters.append(
            {
                "title": "Repository",
                "required": ["repoUrl"],
                "properties": {
                    "repoUrl": {
                        "title": "GitOps repository",
                        "type": "string",
                        "description": "The repository the platform applies requests from.",
                        "ui:field": "RepoUrlPicker",
                        "ui:options": {"allowedHosts": ["github.com"]},
                    }
                },
            }
        )
        steps = _pull_request_steps(gvk, spec_values, options.requests_path or f"requests/{gvk.plural}")
        output = {
            "links": [{"title": "Pull request", "url": "${{ steps['pull-request'].output.remoteUrl }}"}]
        }
    metadata: dict[str, Any] = {
        "name": entity_name(promise.name, "promise-template"),
        "title": f"{gvk.kind}",
        "description": _description(promise, gvk),
        "annotations": _annotations(promise, gvk),
        "tags": ["kratix", promise.name],
    }
    return {
        "apiVersion": TEMPLATE_API_VERSION,
        "kind": "Template",
        "metadata": metadata,
        "spec": {
            "owner": options.owner,
            "type": "kratix-resource",
            "parameters": parameters,
            "steps": steps,
            "output": output,
        },
    }


def _manifest(gvk: RequestGVK, spec: Mapping[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": gvk.api_version,
        "kind": gvk.kind,
        "metadata": {"name": "${{ parameters.name }}", "namespace": "${{ parameters.namespace }}"},
        "spec": dict(spec),
    }


def _apply_step(gvk: RequestGVK, spec: Mapping[str, str]) -> dict[str, Any]:
    return {
        "id": "kratix-request",
        "name": f"Request the {gvk.kind}",
        "action": "kubernetes:apply",
        "input": {"namespaced": True, "manifest": _manifest(gvk, spec)},
    }


def _pull_request_steps(gvk: RequestGVK, spec: Mapping[str, str], requests_path: str) -> list[dict[str, Any]]:
    return [
        {
            "id": "write-request",
            "name": f"Write the {gvk.kind} request",
            "action": "fetch:template",
            "input": {
                "url": f"./{SKELETON_DIR}",
                "targetPath": f"./{requests_path}/${{{{ parameters.namespace }}}}",
                "values": {
                    "name": "${{ parameters.name }}",
                    "namespace": "${{ parameters.namespace }}",
                    "spec": dict(spec),
                },
            },
        },
        {
            "id": "pull-request",
            "name": "Propose it to the GitOps repository",
            "action": "publish:github:pull-request",
            "input": {
                "repoUrl": "${{ parameters.repoUrl }}",
                "branchName": f"request-{gvk.plural}-${{{{ parameters.namespace }}}}-${{{{ parameters.name }}}}",
                "title": f"Request {gvk.kind} ${{{{ parameters.namespace }}}}/${{{{ parameters.name }}}}",
                "description": f"A new {gvk.kind} request, made with the Backstage template.",
            },
        },
    ]


def skeleton_request(gvk: RequestGVK) -> str:
    """The request file ``fetch:template`` fills in (nunjucks; ``dump`` writes the spec as JSON,
    which is YAML too, whatever the types of its fields)."""
    return (
        f"apiVersion: {gvk.api_version}\n"
        f"kind: {gvk.kind}\n"
        "metadata:\n"
        "  name: ${{ values.name }}\n"
        "  namespace: ${{ values.namespace }}\n"
        "spec: ${{ values.spec | dump }}\n"
    )


def catalog_entities(promise: Promise, options: BackstageOptions) -> list[dict[str, Any]]:
    """A Component for the Promise and an API for its request CRD."""
    import yaml

    from kratix_py.core.request_crd import build_request_crd

    gvk = promise.request_gvk()
    assert gvk is not None
    annotations = _annotations(promise, gvk)
    api_name = entity_name(promise.name, "promise-api")
    component_spec: dict[str, Any] = {
        "type": "kratix-promise",
        "lifecycle": options.lifecycle,
        "owner": options.owner,
        "providesApis": [api_name],
    }
    api_spec: dict[str, Any] = {
        "type": "crd",
        "lifecycle": options.lifecycle,
        "owner": options.owner,
        "definition": yaml.safe_dump(
            build_request_crd(promise.name, promise.spec.api or {}), sort_keys=False, default_flow_style=False
        ),
    }
    if options.system:
        component_spec["system"] = options.system
        api_spec["system"] = options.system
    component = {
        "apiVersion": CATALOG_API_VERSION,
        "kind": "Component",
        "metadata": {
            "name": entity_name(promise.name, "promise"),
            "title": f"{gvk.kind} Promise",
            "description": _description(promise, gvk),
            "annotations": annotations,
            "tags": ["kratix", "promise"],
        },
        "spec": component_spec,
    }
    api = {
        "apiVersion": CATALOG_API_VERSION,
        "kind": "API",
        "metadata": {
            "name": api_name,
            "title": f"{gvk.kind} API",
            "description": f"The {gvk.kind} ({gvk.api_version}) requests Promise {promise.name} fulfils.",
            "annotations": dict(annotations),
            "tags": ["kratix", "crd"],
        },
        "spec": api_spec,
    }
    return [component, api]


def backstage_files(promise: Promise, options: BackstageOptions) -> dict[str, str]:
    """``relative path -> text`` of everything to write (pure)."""
    import yaml

    gvk = promise.request_gvk()
    assert gvk is not None
    files = {
        TEMPLATE_FILE: yaml.safe_dump(
            scaffolder_template(promise, options), sort_keys=False, allow_unicode=True
        ),
        CATALOG_FILE: yaml.safe_dump_all(
            catalog_entities(promise, options), sort_keys=False, allow_unicode=True
        ),
    }
    if options.flavour == "pull-request":
        files[f"{SKELETON_DIR}/{SKELETON_FILE}"] = skeleton_request(gvk)
    return files


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("promise", type=Path, help="the Promise YAML file")
    parser.add_argument(
        "--output", type=Path, metavar="DIR", help=f"write {TEMPLATE_FILE} and {CATALOG_FILE} here"
    )
    parser.add_argument(
        "--flavour", choices=FLAVOURS, default="apply", help="how the request is made (default apply)"
    )
    parser.add_argument(
        "--owner", default="platform-team", help="owner of the entities (default platform-team)"
    )
    parser.add_argument(
        "--lifecycle", default="production", help="lifecycle of the entities (default production)"
    )
    parser.add_argument("--system", help="the Backstage System the entities belong to")
    parser.add_argument(
        "--requests-path",
        help="pull-request flavour: repository folder for requests (default requests/<plural>)",
    )


def run(args: argparse.Namespace) -> int:
    from kratix_py.authoring.inputs import load_promise, require_api

    loaded = load_promise(args.promise)
    require_api(loaded, "offer in Backstage")
    options = BackstageOptions(
        flavour=args.flavour,
        owner=args.owner,
        lifecycle=args.lifecycle,
        system=args.system,
        requests_path=args.requests_path,
    )
    if options.flavour == "pull-request" and args.output is None:
        raise CommandError(
            f"the pull-request flavour also writes a {SKELETON_DIR}/ folder: pass --output DIR"
        )
    files = backstage_files(loaded.promise, options)
    if args.output is None:
        sys.stdout.write(files[TEMPLATE_FILE] + "---\n" + files[CATALOG_FILE])
        return 0
    for relative, text in files.items():
        target = args.output / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target}")
    return 0
