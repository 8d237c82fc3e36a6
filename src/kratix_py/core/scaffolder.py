"""The Backstage Scaffolder Template (``scaffolder.backstage.io/v1beta3``) for a Promise's requests (pure).

The form asks for the request's name, namespace and owner and, on a second page, for its
``spec``: one object field whose properties come from the request CRD's schema
(:mod:`kratix_py.core.formschema`). Keeping the spec in one object means no spec field can
collide with ``name``, ``namespace`` or ``repoUrl``, and both flavours build the request the
same way.

Two flavours, named by what the Backstage backend must have:

``pull-request`` (the default) needs a stock Backstage only: ``catalog:write`` (a core action)
writes the request, as YAML, to ``<requests path>/<namespace>/<name>.yaml`` in the workspace, and
``publish:github:pull-request`` (``@backstage/plugin-scaffolder-backend-module-github``, which
``@backstage/create-app`` installs) proposes it to the GitOps repository the platform applies
requests from. ``catalog:write`` is used because it is the one core action that writes an object
as YAML without a skeleton folder, so the Template is a single self-contained file that can live
in a state store. The branch is ``kratix/<plural>/<namespace>/<name>`` and ``update: true``, so
running the Template again for the same request updates its pull request (and the file), never
a second one that clashes with the first.

``kube-apply`` pushes the request straight to the platform cluster with ``kube:apply`` from
``@devangelista/backstage-scaffolder-kubernetes``. Its input is exactly ``manifest`` (a YAML
*string*) and ``namespaced`` (a boolean). The action finds the resource through the API
server's discovery, so the CRD's own plural is used (never ``kind + "s"``, which turns ``Redis``
into ``rediss``), and it patches a request that exists, so a second run updates it. The older
``kubernetes:apply`` of ``@muvaf/kubernetes-apply`` is not offered: it derives the plural from
the kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kratix_py.api import Promise, RequestGVK
from kratix_py.core import catalog_names as n
from kratix_py.core.formschema import RequestForm, request_form

FLAVOUR_PULL_REQUEST = "pull-request"
FLAVOUR_KUBE_APPLY = "kube-apply"
FLAVOURS = (FLAVOUR_PULL_REQUEST, FLAVOUR_KUBE_APPLY)
FLAVOUR_NEEDS = {
    FLAVOUR_PULL_REQUEST: "a stock Backstage: core actions and @backstage/plugin-scaffolder-backend-module-github "
    "(publish:github:pull-request), which @backstage/create-app installs",
    FLAVOUR_KUBE_APPLY: "the plugin @devangelista/backstage-scaffolder-kubernetes (action kube:apply) in the "
    "Backstage backend, with access to the platform cluster",
}
"""What the Backstage backend must have for each flavour (``kratix-py backstage --help`` says it)."""
KUBE_APPLY_ACTION = "kube:apply"
PULL_REQUEST_ACTION = "publish:github:pull-request"
WRITE_ACTION = "catalog:write"
TEMPLATE_TYPE = "kratix-resource"

NAME_PATTERN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_MIN_LABELLED_NAME = 16
_REPO_URL_KEYS = ("owner", "repo")


@dataclass(frozen=True)
class TemplateOptions:
    flavour: str = FLAVOUR_PULL_REQUEST
    owner: str = "platform-team"
    lifecycle: str = "production"
    system: str | None = None
    requests_path: str | None = None
    """pull-request: the repository folder requests are written to (default ``requests/<plural>``)."""
    repo_url: str | None = None
    """pull-request: the GitOps repository (``github.com?owner=o&repo=r``); asked for when None."""
    target_branch: str | None = None
    """pull-request: the branch the pull request goes to (the repository's default when None)."""


def check_repo_url(value: str) -> str:
    """``host?owner=o&repo=r``, the form ``publish:github:pull-request`` takes, else CatalogError."""
    host, _, query = value.partition("?")
    params = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
    if not host or "/" in host or any(not params.get(key) for key in _REPO_URL_KEYS):
        raise n.CatalogError(
            f"repository {value!r} is not in the form publish:github:pull-request takes: "
            "github.com?owner=ORG&repo=REPO"
        )
    return value


def request_gvk(promise: Promise) -> RequestGVK:
    gvk = promise.request_gvk()
    if gvk is None:
        raise n.CatalogError(f"Promise {promise.name} has no spec.api, so it offers no requests to make")
    return gvk


def spec_schema(promise: Promise) -> dict[str, Any] | None:
    """The request CRD's ``spec`` schema, or None when requests have no spec."""
    crd = promise.api_crd()
    root = ((crd.stored_version().schema_ or {}).get("openAPIV3Schema") or {}) if crd else {}
    spec = (root.get("properties") or {}).get("spec")
    return dict(spec) if isinstance(spec, Mapping) else None


def promise_form(promise: Promise) -> RequestForm:
    """The spec form, raising CatalogError when the schema has something no form can show."""
    form = request_form(spec_schema(promise) or {})
    if form.fatal:
        raise n.CatalogError(
            f"Promise {promise.name}: the request schema cannot be shown as a Backstage form: "
            + "; ".join(str(problem) for problem in form.fatal)
        )
    return form


def describe(promise: Promise, gvk: RequestGVK) -> str:
    crd = promise.api_crd()
    root = ((crd.stored_version().schema_ or {}).get("openAPIV3Schema") or {}) if crd else {}
    described = root.get("description") or ((root.get("properties") or {}).get("spec") or {}).get(
        "description"
    )
    return str(described or f"Request a {gvk.kind} from the platform (Promise {promise.name}).")


def labelled_name_length(promise_name: str) -> int | None:
    """How long a request name may be so ``<promise>.<name>`` fits a label; None: no label then."""
    room = n.MAX_NAME - len(promise_name) - 1
    return min(room, n.MAX_NAME) if room >= _MIN_LABELLED_NAME else None


def scaffolder_template(promise: Promise, options: TemplateOptions) -> dict[str, Any]:
    """The Template for requesting the Promise's kind; CatalogError for input Backstage would reject."""
    if options.flavour not in FLAVOURS:
        raise n.CatalogError(f"unknown flavour {options.flavour!r}; choose one of {', '.join(FLAVOURS)}")
    gvk = request_gvk(promise)
    n.check_entity_ref(options.owner, "owner")
    if options.system:
        n.check_entity_ref(options.system, "system")
    n.check_text(options.lifecycle, "lifecycle")
    if options.repo_url:
        check_repo_url(options.repo_url)
    form = promise_form(promise)
    has_spec = spec_schema(promise) is not None
    label_room = labelled_name_length(promise.name)
    parameters: list[dict[str, Any]] = [_request_page(gvk, label_room)]
    if form.fields:
        parameters.append(_spec_page(gvk, form))
    manifest = _manifest(promise, gvk, has_spec=has_spec, labelled=label_room is not None)
    if options.flavour == FLAVOUR_KUBE_APPLY:
        steps = [_kube_apply_step(gvk, manifest)]
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
        if not options.repo_url:
            parameters.append(_repository_page())
        steps = _pull_request_steps(gvk, manifest, options)
        output = {
            "links": [{"title": "Pull request", "url": "${{ steps['pull-request'].output.remoteUrl }}"}]
        }
    annotations = {
        n.ANNOTATION_PROMISE_NAME: promise.name,
        n.ANNOTATION_API_NAME: gvk.kind,
        n.ANNOTATION_API_GROUP: gvk.group,
        n.ANNOTATION_REQUEST_KIND: gvk.kind,
        n.ANNOTATION_REQUEST_API_VERSION: gvk.api_version,
    }
    if promise.promise_version:
        annotations[n.ANNOTATION_PROMISE_VERSION] = promise.promise_version
    metadata: dict[str, Any] = {
        "name": n.promise_template_name(promise.name),
        "title": gvk.kind,
        "description": describe(promise, gvk),
        "annotations": annotations,
        "tags": _tags(promise.name, options.flavour),
    }
    spec: dict[str, Any] = {
        "owner": options.owner,
        "type": TEMPLATE_TYPE,
        "lifecycle": options.lifecycle,
        "parameters": parameters,
        "steps": steps,
        "output": output,
    }
    if options.system:
        spec["system"] = options.system
    return {"apiVersion": n.TEMPLATE_API_VERSION, "kind": "Template", "metadata": metadata, "spec": spec}


def _tags(promise_name: str, flavour: str) -> list[str]:
    tags = ["kratix"]
    promise_tag = n.tag(promise_name)
    if promise_tag and promise_tag not in tags:
        tags.append(promise_tag)
    tags.append(flavour)
    return tags


def _request_page(gvk: RequestGVK, label_room: int | None) -> dict[str, Any]:
    name_length = label_room or n.MAX_NAME
    return {
        "title": f"{gvk.kind} request",
        "required": ["name", "namespace", "owner"],
        "properties": {
            "name": {
                "title": "Name",
                "type": "string",
                "description": f"Name of the {gvk.kind}: lower-case letters, digits and '-', at most "
                f"{name_length} characters.",
                "pattern": NAME_PATTERN,
                "maxLength": name_length,
                "ui:autofocus": True,
            },
            "namespace": {
                "title": "Namespace",
                "type": "string",
                "description": f"Namespace the {gvk.kind} request is created in.",
                "default": "default",
                "pattern": NAME_PATTERN,
                "maxLength": n.MAX_NAME,
            },
            "owner": {
                "title": "Owner",
                "type": "string",
                "description": f"Who owns the {gvk.kind} in the catalog.",
                "ui:field": "OwnerPicker",
                "ui:options": {"catalogFilter": {"kind": ["Group", "User"]}},
            },
        },
    }


def _spec_page(gvk: RequestGVK, form: RequestForm) -> dict[str, Any]:
    spec_field: dict[str, Any] = {
        "title": f"{gvk.kind} spec",
        "type": "object",
        "default": {},
        "properties": form.fields,
    }
    if form.description:
        spec_field["description"] = form.description
    if form.required:
        spec_field["required"] = form.required
    return {"title": f"{gvk.kind} configuration", "required": ["spec"], "properties": {"spec": spec_field}}


def _repository_page() -> dict[str, Any]:
    return {
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


def _manifest(promise: Promise, gvk: RequestGVK, *, has_spec: bool, labelled: bool) -> dict[str, Any]:
    """The request as an object of template strings; each value a whole ``${{ }}`` keeps its type."""
    metadata: dict[str, Any] = {
        "name": "${{ parameters.name }}",
        "namespace": "${{ parameters.namespace }}",
    }
    if labelled:
        metadata["labels"] = {n.LABEL_KUBERNETES_ID: f"{promise.name}.${{{{ parameters.name }}}}"}
    metadata["annotations"] = {n.METADATA_OWNER: "${{ parameters.owner }}"}
    manifest: dict[str, Any] = {"apiVersion": gvk.api_version, "kind": gvk.kind, "metadata": metadata}
    if has_spec:
        manifest["spec"] = "${{ parameters.spec or {} }}"
    return manifest


def manifest_yaml(manifest: Mapping[str, Any]) -> str:
    """The manifest as the YAML *string* ``kube:apply`` takes: every value through ``dump``.

    ``dump`` writes JSON, which is YAML too, so a name such as ``123`` stays a string and the spec
    keeps its types, whatever the user typed.
    """
    metadata = manifest["metadata"]
    lines = [
        f"apiVersion: {manifest['apiVersion']}",
        f"kind: {manifest['kind']}",
        "metadata:",
        "  name: ${{ parameters.name | dump }}",
        "  namespace: ${{ parameters.namespace | dump }}",
    ]
    for section in ("labels", "annotations"):
        if metadata.get(section):
            lines.append(f"  {section}:")
            for key, value in metadata[section].items():
                lines.append(f"    {key}: {_dumped(value)}")
    if "spec" in manifest:
        lines.append("spec: ${{ (parameters.spec or {}) | dump }}")
    return "\n".join(lines) + "\n"


def _dumped(template: str) -> str:
    """``${{ x }}`` -> ``${{ x | dump }}``; text around an expression is quoted as it is."""
    if template.startswith("${{") and template.endswith("}}") and template.count("${{") == 1:
        return "${{ " + template[3:-2].strip() + " | dump }}"
    return '"' + template + '"'


def _kube_apply_step(gvk: RequestGVK, manifest: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": "kratix-request",
        "name": f"Request the {gvk.kind}",
        "action": KUBE_APPLY_ACTION,
        "input": {"namespaced": True, "manifest": manifest_yaml(manifest)},
    }


def request_file(gvk: RequestGVK, options: TemplateOptions) -> str:
    folder = (options.requests_path or f"requests/{gvk.plural}").strip("/")
    return f"{folder}/${{{{ parameters.namespace }}}}/${{{{ parameters.name }}}}.yaml"


def _pull_request_steps(
    gvk: RequestGVK, manifest: Mapping[str, Any], options: TemplateOptions
) -> list[dict[str, Any]]:
    pull_request: dict[str, Any] = {
        "repoUrl": options.repo_url or "${{ parameters.repoUrl }}",
        "branchName": f"kratix/{gvk.plural}/${{{{ parameters.namespace }}}}/${{{{ parameters.name }}}}",
        "title": f"{gvk.kind} ${{{{ parameters.namespace }}}}/${{{{ parameters.name }}}}",
        "description": f"The {gvk.kind} request ${{{{ parameters.namespace }}}}/${{{{ parameters.name }}}}, "
        "made with the Backstage template. Running the template again for the same name updates this "
        "pull request.",
        "commitMessage": f"Request {gvk.kind} ${{{{ parameters.namespace }}}}/${{{{ parameters.name }}}}",
        "update": True,
    }
    if options.target_branch:
        pull_request["targetBranchName"] = options.target_branch
    return [
        {
            "id": "write-request",
            "name": f"Write the {gvk.kind} request",
            "action": WRITE_ACTION,
            "input": {"filePath": request_file(gvk, options), "entity": dict(manifest)},
        },
        {
            "id": "pull-request",
            "name": "Propose it to the GitOps repository",
            "action": PULL_REQUEST_ACTION,
            "input": pull_request,
        },
    ]
