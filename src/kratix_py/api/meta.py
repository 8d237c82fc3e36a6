"""The pieces every kind shares: the base models, ``ObjectMeta``, timestamps and conditions.

Wire format rules, decided once here:

* Python attributes are snake_case, the wire names camelCase (``populate_by_name``), so both
  ``Destination.model_validate(api_object)`` and ``DestinationSpec(path="x", ...)`` work.
* ``model_dump(by_alias=True, exclude_none=True)`` (or ``to_dict()``) gives back the wire format.
  Optional lists and maps default to empty for convenient Python, but an empty collection nobody
  set is left out when dumping, as Go's ``omitempty`` does. Without that, reading a Promise and
  writing it back would add ``dependencies: []`` and friends, change the spec and bump the
  generation, which reruns every workflow.
* Timestamps are ``datetime`` in UTC in Python and ``2024-05-01T10:00:00Z`` on the wire
  (metav1.Time: second precision), in both dump modes, so a dump is always JSON-serialisable.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
)
from pydantic.alias_generators import to_camel

from kratix_py.contract import API_VERSION


def _as_utc(moment: datetime) -> datetime:
    # The API server only ever sends UTC; a naive datetime built in Python is taken to mean UTC too.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with second precision, the way the API server writes metav1.Time."""
    return _as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(value: Any) -> datetime | None:
    """A metav1.Time or MicroTime string (or a datetime) as an aware UTC datetime; None if absent or bad."""
    if isinstance(value, datetime):
        return _as_utc(value)
    if not value:
        return None
    try:
        return _as_utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except ValueError:
        return None


Timestamp = Annotated[
    datetime,
    AfterValidator(_as_utc),
    PlainSerializer(format_timestamp, return_type=str, when_used="always"),
]
"""A metav1.Time field: ``datetime`` (UTC) in Python, an RFC 3339 string on the wire."""

_IRREGULAR_WIRE_NAMES = {
    # Go initialisms that a plain snake_case -> camelCase conversion would get wrong.
    "version_id": "versionID",
    "insecure_skip_tls_verify": "insecureSkipTLSVerify",
    "non_resource_urls": "nonResourceURLs",
}


def wire_name(field_name: str) -> str:
    """The camelCase name a field has in Kubernetes YAML/JSON."""
    return _IRREGULAR_WIRE_NAMES.get(field_name) or to_camel(field_name)


def validation_message(error: ValidationError) -> str:
    """A pydantic error as one line for a condition or an Event: ``field: problem; field: problem``.

    Pydantic's own text spans lines and links to its documentation; a person reading
    ``kubectl describe`` needs the field path and the sentence saying what to fix.
    """
    parts = []
    for detail in error.errors():
        where = ".".join(str(part) for part in detail["loc"])
        message = detail["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


class KubeModel(BaseModel):
    """Base of every spec-side model: unknown fields are errors, so a typo is reported, not ignored."""

    model_config = ConfigDict(alias_generator=wire_name, populate_by_name=True, extra="forbid")

    @model_serializer(mode="wrap")
    def _omit_untouched_empty_fields(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> Any:
        data = handler(self)
        if not isinstance(data, dict):
            return data
        for name, field in type(self).model_fields.items():
            if name in self.model_fields_set:
                continue  # present in the input or assigned since: keep it, even if empty
            key = field.alias if info.by_alias and field.alias else name
            if key in data and data[key] in (None, [], {}):
                del data[key]
        return data

    def to_dict(self) -> dict[str, Any]:
        """The wire format: camelCase keys, no ``None``, JSON-compatible values."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class StatusModel(KubeModel):
    """Status is written by controllers, possibly newer ones: unknown fields are kept, not rejected."""

    model_config = ConfigDict(extra="allow")


class OwnerReference(KubeModel):
    """Who owns an object, for garbage collection (``metadata.ownerReferences[]``)."""

    model_config = ConfigDict(extra="allow")

    api_version: str
    kind: str
    name: str
    uid: str
    controller: bool | None = None
    block_owner_deletion: bool | None = None


class ObjectMeta(KubeModel):
    """``metadata`` of any object; fields not listed here (managedFields ...) are kept as they are."""

    model_config = ConfigDict(extra="allow")

    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    finalizers: list[str] = Field(default_factory=list)
    owner_references: list[OwnerReference] = Field(default_factory=list)
    creation_timestamp: Timestamp | None = None
    deletion_timestamp: Timestamp | None = None


ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(KubeModel):
    """One aspect of an object's state, shaped like metav1.Condition so that kubectl wait works."""

    type: str = Field(
        description="Type of condition in CamelCase, e.g. Ready.",
        max_length=316,
        pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
    )
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(
        description="A CamelCase word a program can act on, saying why the status is what it is.",
        min_length=1,
        max_length=1024,
        pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
    )
    message: str = Field(description="What happened, for a person; may be empty.", max_length=32768)
    last_transition_time: Timestamp = Field(description="When the status last changed.")
    observed_generation: int | None = Field(
        default=None, ge=0, description="The metadata.generation the condition was computed for."
    )


class HasConditions(StatusModel):
    """A status with ``conditions``, plus read helpers (writing them is kratix_py.core.conditions)."""

    conditions: list[Condition] = Field(
        default_factory=list,
        description="The latest observations of the object's state.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )

    def condition(self, condition_type: str) -> Condition | None:
        """The condition of that type, if present."""
        return find_condition(self.conditions, condition_type)

    def is_true(self, condition_type: str) -> bool:
        found = self.condition(condition_type)
        return found is not None and found.status == "True"


def find_condition(conditions: Sequence[Condition], condition_type: str) -> Condition | None:
    """The first condition of ``condition_type`` in ``conditions``, or ``None``."""
    return next((c for c in conditions if c.type == condition_type), None)


class KubeObject(KubeModel):
    """A top-level kratix-py object. The class variables say how its CRD is named and scoped."""

    KIND: ClassVar[str]
    PLURAL: ClassVar[str]
    NAMESPACED: ClassVar[bool]
    SHORT_NAMES: ClassVar[tuple[str, ...]] = ()

    api_version: Literal["platform.kratix.io/v1alpha1"] = API_VERSION
    kind: str  # each kind narrows it to its own name; declared here so dumps start apiVersion, kind
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)

    @classmethod
    def singular(cls) -> str:
        return cls.KIND.lower()

    @property
    def name(self) -> str:
        """``metadata.name``; raises if the object has none (only generateName)."""
        if self.metadata.name is None:
            raise ValueError(f"this {self.KIND} has no metadata.name")
        return self.metadata.name
