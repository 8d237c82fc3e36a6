"""Request bodies in YAML, decoded as kube-apiserver decodes them.

The API server reads YAML with YAML 1.1 rules (go-yaml v2 under sigs.k8s.io/yaml), where ``y``,
``Y``, ``n`` and ``N`` are booleans too, and then turns it into JSON, so a boolean map key
becomes the string ``"true"``/``"false"``: ``data: {y: "2"}`` is stored as ``{"true": "2"}``.
PyYAML's safe loader knows the longer spellings (yes/no/on/off) but not the one-letter ones.
"""

from __future__ import annotations

import re
from typing import Any

import yaml


class _Yaml11Loader(yaml.SafeLoader):
    pass


_BOOL = re.compile(
    r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$"
)
_TRUE = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"}

# Resolvers are looked up by first character; replace the bool entries with the wider pattern.
_Yaml11Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml11Loader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL, list("yYnNtTfFoO"))


def _construct_bool(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> bool:
    return str(loader.construct_scalar(node)) in _TRUE


_Yaml11Loader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)


def _key(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _as_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {_key(k): _as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_json(v) for v in value]
    return value


def load(text: str | bytes) -> Any:
    """One YAML document as the JSON value kube-apiserver would make of it."""
    return _as_json(yaml.load(text, Loader=_Yaml11Loader))
