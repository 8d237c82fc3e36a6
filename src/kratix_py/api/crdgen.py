"""Generate the kratix-py CRDs (``crds/``) from the pydantic models: one source for both.

``python -m kratix_py.api.crdgen [--out crds]`` (re)writes the files; ``--check`` only compares
and exits 1 when they are stale. The schemas are *structural*, as the API server requires for
pruning and defaulting: every node has a type, nothing is a ``$ref`` or ``anyOf``, an optional
field is simply not required, and free-form Kubernetes structures are objects that preserve
unknown fields. Defaults and enums come from the models, so the API server defaults and rejects
exactly what the models do, and ``kubectl explain`` shows the models' descriptions.
"""

from __future__ import annotations

import argparse
import datetime
import inspect
import re
import sys
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import annotated_types
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from kratix_py.api import KINDS
from kratix_py.api.destination import Destination
from kratix_py.api.meta import KubeObject
from kratix_py.api.promise import Promise
from kratix_py.api.release import HealthRecord, PromiseRelease
from kratix_py.api.revision import PromiseRevision, ResourceBinding
from kratix_py.api.statestore import BucketStateStore, GitStateStore
from kratix_py.api.work import Work, WorkPlacement
from kratix_py.contract import CATEGORY, GROUP, VERSION

PRESERVE = "x-kubernetes-preserve-unknown-fields"
HEADER = (
    "# Generated from the models in kratix_py.api by `python -m kratix_py.api.crdgen` (`make crds`).\n"
    "# Do not edit by hand: change the models and regenerate.\n"
)


# --- printer columns ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    json_path: str
    type: str = "string"
    description: str = ""
    priority: int = 0  # 1 = only with `kubectl get -o wide`

    def to_dict(self) -> dict[str, Any]:
        column: dict[str, Any] = {"name": self.name, "jsonPath": self.json_path, "type": self.type}
        if self.description:
            column["description"] = self.description
        if self.priority:
            column["priority"] = self.priority
        return column


def _condition(condition_type: str, field: str) -> str:
    return f'.status.conditions[?(@.type=="{condition_type}")].{field}'


AGE = PrinterColumn("Age", ".metadata.creationTimestamp", "date")
READY = PrinterColumn("Ready", _condition("Ready", "status"), description="Condition Ready")

PRINTER_COLUMNS: dict[type[KubeObject], tuple[PrinterColumn, ...]] = {
    Promise: (
        PrinterColumn("Status", ".status.status", description="Available or Unavailable"),
        PrinterColumn("Kind", ".status.kind", description="Kind of the resource requests"),
        PrinterColumn(
            "API Version", ".status.apiVersion", description="API version of the resource requests"
        ),
        PrinterColumn("Version", ".status.version", description="Promise version"),
        PrinterColumn("Message", ".status.message", description="Message from the configure workflow"),
        AGE,
    ),
    Destination: (
        READY,
        PrinterColumn("StateStoreKind", ".spec.stateStoreRef.kind"),
        PrinterColumn("StateStoreName", ".spec.stateStoreRef.name"),
        PrinterColumn("Path", ".spec.path", priority=1),
        AGE,
    ),
    GitStateStore: (
        PrinterColumn("URL", ".spec.url"),
        PrinterColumn("Branch", ".spec.branch"),
        PrinterColumn("Path", ".spec.path", priority=1),
        READY,
        AGE,
    ),
    BucketStateStore: (
        PrinterColumn("Endpoint", ".spec.endpoint"),
        PrinterColumn("Bucket", ".spec.bucketName"),
        PrinterColumn("Path", ".spec.path", priority=1),
        READY,
        AGE,
    ),
    Work: (
        PrinterColumn("Promise", ".spec.promiseName"),
        PrinterColumn("Request", ".spec.resourceName", description="Resource request (empty: Promise-level)"),
        PrinterColumn(
            "Ready", _condition("Ready", "message"), description="Ready, Pending, Misplaced or Failing"
        ),
        AGE,
    ),
    WorkPlacement: (
        PrinterColumn("Destination", ".spec.targetDestinationName"),
        PrinterColumn(
            "Ready", _condition("Ready", "message"), description="Ready, Pending, Misplaced or Failing"
        ),
        PrinterColumn(
            "Written", _condition("WriteSucceeded", "status"), description="Condition WriteSucceeded"
        ),
        AGE,
    ),
    PromiseRelease: (
        PrinterColumn("Status", ".status.status", description="Installed or Error installing"),
        PrinterColumn("Version", ".spec.version"),
        AGE,
    ),
    PromiseRevision: (
        PrinterColumn("Promise", ".spec.promiseRef.name"),
        PrinterColumn("Version", ".spec.version"),
        PrinterColumn("Latest", ".status.latest", "boolean", description="The Promise's current version"),
        AGE,
    ),
    ResourceBinding: (
        PrinterColumn("Version", ".spec.version", description="latest or a pinned revision version"),
        PrinterColumn("Applied", ".status.lastAppliedVersion", description="Version the request last ran"),
        PrinterColumn(
            "Upgraded", _condition("UpgradeSucceeded", "status"), description="Condition UpgradeSucceeded"
        ),
        AGE,
    ),
    HealthRecord: (
        PrinterColumn("Status", ".data.state", description="The health state"),
        AGE,
    ),
}


# --- schemas --------------------------------------------------------------------------------------


def _describe(text: str | None) -> str | None:
    """Docstring -> description: paragraphs kept, hard-wrapped lines joined."""
    if not text:
        return None
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


def _model_description(model: type[BaseModel]) -> str | None:
    return _describe(model.__dict__.get("__doc__"))


def _constraints(metadata: Sequence[Any], schema_type: str) -> dict[str, Any]:
    """OpenAPI keywords for the annotated-types constraints pydantic collected on a field."""
    out: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, annotated_types.MinLen):
            out["minItems" if schema_type == "array" else "minLength"] = item.min_length
        elif isinstance(item, annotated_types.MaxLen):
            out["maxItems" if schema_type == "array" else "maxLength"] = item.max_length
        elif isinstance(item, annotated_types.Ge):
            out["minimum"] = item.ge
        elif isinstance(item, annotated_types.Le):
            out["maximum"] = item.le
        elif isinstance(item, (annotated_types.Gt, annotated_types.Lt)):
            raise TypeError("use ge/le constraints: exclusive bounds are not rendered")
        elif getattr(item, "pattern", None) is not None:
            out["pattern"] = item.pattern
    return out


def _strip_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(members) != 1:
            # A structural schema cannot say "string or integer" (beyond int-or-string); keep models simple.
            raise TypeError(f"unions are not supported in CRD schemas: {annotation!r}")
        return members[0]
    return annotation


def type_schema(annotation: Any) -> dict[str, Any]:
    """The structural schema of one Python type annotation."""
    annotation = _strip_optional(annotation)
    metadata: list[Any] = []
    if typing.get_origin(annotation) is typing.Annotated:
        annotation, *metadata = typing.get_args(annotation)
        annotation = _strip_optional(annotation)
    origin = typing.get_origin(annotation)
    schema: dict[str, Any]
    if annotation is str:
        schema = {"type": "string"}
    elif annotation is bool:
        schema = {"type": "boolean"}
    elif annotation is int:
        schema = {"type": "integer", "format": "int64"}
    elif annotation is float:
        schema = {"type": "number"}
    elif annotation is datetime.datetime:
        schema = {"type": "string", "format": "date-time"}
    elif origin is typing.Literal:
        values = list(typing.get_args(annotation))
        if not all(isinstance(value, str) for value in values):
            raise TypeError(f"only string literals are supported: {annotation!r}")
        schema = {"type": "string", "enum": values}
    elif origin is list:
        (item,) = typing.get_args(annotation)
        schema = {"type": "array", "items": type_schema(item)}
    elif origin is dict:
        key, value = typing.get_args(annotation)
        if key is not str:
            raise TypeError(f"map keys must be strings: {annotation!r}")
        if value is Any:
            schema = {"type": "object", PRESERVE: True}
        else:
            schema = {"type": "object", "additionalProperties": type_schema(value)}
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        schema = model_schema(annotation)
    else:
        raise TypeError(f"no CRD schema for {annotation!r}")
    schema.update(_constraints(metadata, schema["type"]))
    return schema


def _default(field: FieldInfo) -> Any:
    """The default the API server should apply, or ``None`` when it should leave the field out."""
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", by_alias=True, exclude_none=True)
    # Empty collections stay unset: defaulting them would only add noise to every stored object.
    return None if value in (None, [], {}) else value


def field_schema(field: FieldInfo) -> dict[str, Any]:
    schema = type_schema(field.annotation)
    schema.update(_constraints(field.metadata, schema["type"]))
    description = _describe(field.description)
    if description:
        schema["description"] = description
    if not field.is_required() and (default := _default(field)) is not None:
        schema["default"] = default
    extra = field.json_schema_extra
    if isinstance(extra, dict):
        for key, value in extra.items():
            if key == "items" and isinstance(value, dict):
                schema["items"].update(value)
            else:
                schema[key] = value
    return schema


def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """An object schema with one property per field (by wire name); required = fields without default."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, field in model.model_fields.items():
        wire = field.alias or name
        properties[wire] = field_schema(field)
        if field.is_required():
            required.append(wire)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = sorted(required)
    description = _model_description(model)
    if description:
        schema["description"] = description
    return schema


def root_schema(kind: type[KubeObject]) -> dict[str, Any]:
    """The openAPIV3Schema of a kind: apiVersion/kind/metadata as every CRD has them, then spec, status."""
    schema = model_schema(kind)
    properties = schema["properties"]
    properties["apiVersion"] = {"type": "string", "description": "platform.kratix.io/v1alpha1"}
    properties["kind"] = {"type": "string", "description": kind.KIND}
    # The API server validates metadata itself and only allows constraints on name/generateName here.
    properties["metadata"] = {"type": "object"}
    schema["required"] = [name for name in schema.get("required", []) if name in ("spec", "status")]
    if not schema["required"]:
        del schema["required"]
    return schema


# --- CRDs -----------------------------------------------------------------------------------------


def crd_name(kind: type[KubeObject]) -> str:
    return f"{kind.PLURAL}.{GROUP}"


def crd_filename(kind: type[KubeObject]) -> str:
    return f"{GROUP}_{kind.PLURAL}.yaml"


def build_crd(kind: type[KubeObject]) -> dict[str, Any]:
    """The apiextensions.k8s.io/v1 CustomResourceDefinition of one kind."""
    names: dict[str, Any] = {
        "kind": kind.KIND,
        "listKind": f"{kind.KIND}List",
        "plural": kind.PLURAL,
        "singular": kind.singular(),
        "categories": [CATEGORY],
    }
    if kind.SHORT_NAMES:
        names["shortNames"] = list(kind.SHORT_NAMES)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": crd_name(kind)},
        "spec": {
            "group": GROUP,
            "names": names,
            "scope": "Namespaced" if kind.NAMESPACED else "Cluster",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    # HealthRecord (Kratix's shape) has no status, so no status subresource.
                    "subresources": {"status": {}} if "status" in kind.model_fields else {},
                    "additionalPrinterColumns": [column.to_dict() for column in PRINTER_COLUMNS[kind]],
                    "schema": {"openAPIV3Schema": root_schema(kind)},
                }
            ],
        },
    }


class _Dumper(yaml.SafeDumper):
    """Block style, multi-line strings as ``|`` blocks, and no anchors for repeated sub-schemas."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def render(crd: dict[str, Any]) -> str:
    """Stable YAML: sorted keys (list order kept), the same bytes for the same models."""
    body = yaml.dump(
        crd, Dumper=_Dumper, sort_keys=True, default_flow_style=False, width=100, allow_unicode=True
    )
    return HEADER + "---\n" + body


def generate() -> dict[str, str]:
    """File name -> file content, for every CRD."""
    return {crd_filename(kind): render(build_crd(kind)) for kind in KINDS}


_GENERATED = re.compile(re.escape(GROUP) + r"_[a-z0-9]+\.yaml")


def stale_files(out: Path) -> list[str]:
    """Files in ``out`` that differ from, are missing from, or are not in the generated set."""
    expected = generate()
    present = (
        {path.name for path in out.glob("*.yaml") if _GENERATED.fullmatch(path.name)}
        if out.is_dir()
        else set()
    )
    stale = [
        name
        for name, content in expected.items()
        if name not in present or (out / name).read_text(encoding="utf-8") != content
    ]
    return sorted(stale + sorted(present - expected.keys()))


def write(out: Path) -> list[str]:
    """Write every CRD into ``out`` and remove generated files of kinds that no longer exist."""
    out.mkdir(parents=True, exist_ok=True)
    expected = generate()
    changed = stale_files(out)
    for name in changed:
        path = out / name
        if name in expected:
            path.write_text(expected[name], encoding="utf-8")
        else:
            path.unlink()
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kratix_py.api.crdgen", description="Generate the kratix-py CRDs from the API models."
    )
    parser.add_argument(
        "--out", type=Path, default=Path("crds"), help="directory of the CRD files (default: crds)"
    )
    parser.add_argument("--check", action="store_true", help="only check that the files are up to date")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.out)
        if stale:
            print(f"{args.out} is out of date ({', '.join(stale)}): run `make crds`", file=sys.stderr)
            return 1
        print(f"{args.out}: {len(KINDS)} CRDs up to date")
        return 0
    changed = write(args.out)
    print(
        f"{args.out}: {len(changed)} of {len(KINDS)} CRD files changed"
        + (f": {', '.join(changed)}" if changed else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
