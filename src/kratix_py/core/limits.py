"""How much a pipeline may hand to the work-writer and the status-writer.

A Work, a WorkPlacement and a request's status are Kubernetes objects, and a real API server refuses
objects over about 1.5 MB (etcd's request limit): an output over that fails late, with HTTP 413 and
no file named. The adapter also holds what it reads in memory, under the pod's 256 Mi limit. So the
work-writer and the status-writer check these limits before reading anything big, and refuse with
the size, the limit, the variable that changes it and the largest files.

Each limit is an environment variable of the pipeline adapter's containers, so a platform team can
raise one without a new kratix-py release. Sizes are bytes, or a Kubernetes quantity (``512Ki``,
``2Mi``).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Final

from kratix_py.core.limited_yaml import KIB, MIB, YamlLimits, format_size

ENV_MAX_OUTPUT_FILES: Final = "KRATIX_PY_MAX_OUTPUT_FILES"
ENV_MAX_OUTPUT_FILE_BYTES: Final = "KRATIX_PY_MAX_OUTPUT_FILE_BYTES"
ENV_MAX_OUTPUT_BYTES: Final = "KRATIX_PY_MAX_OUTPUT_BYTES"
ENV_MAX_WORK_BYTES: Final = "KRATIX_PY_MAX_WORK_BYTES"
ENV_MAX_STATUS_BYTES: Final = "KRATIX_PY_MAX_STATUS_BYTES"
ENV_MAX_METADATA_FILE_BYTES: Final = "KRATIX_PY_MAX_METADATA_FILE_BYTES"
ENV_NON_KUBERNETES_YAML: Final = "KRATIX_PY_NON_KUBERNETES_YAML"


class NonKubernetesYaml(enum.StrEnum):
    """What the work-writer does with a ``.yaml`` output file that is not a Kubernetes object."""

    REFUSE = "refuse"
    WARN = "warn"


class LimitsError(ValueError):
    """A limit variable is set to something that is not a size or a count."""


@dataclass(frozen=True)
class PipelineLimits:
    """The limits, with defaults that keep every object well under the API server's ~1.5 MB."""

    max_output_files: int = 1000
    """Files and directories under /kratix/output."""
    max_output_file_bytes: int = 8 * MIB
    """One output file as written, before compression."""
    max_output_bytes: int = 32 * MIB
    """All output files together as written: bounds what the work-writer holds in memory."""
    max_work_bytes: int = MIB
    """The Work as sent to the API server (its files gzip-compressed and base64-encoded)."""
    max_status_bytes: int = 256 * KIB
    """``status.yaml``, and the status it is merged into."""
    max_metadata_file_bytes: int = 64 * KIB
    """``destination-selectors.yaml`` and ``workflow-control.yaml``."""
    non_kubernetes_yaml: NonKubernetesYaml = NonKubernetesYaml.REFUSE

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> PipelineLimits:
        """The defaults, overridden by whichever ``KRATIX_PY_MAX_*`` variables are set."""
        values: dict[str, object] = {}
        for spec in fields(cls):
            variable = _VARIABLES[spec.name]
            raw = (env.get(variable) or "").strip()
            if not raw:
                continue
            if spec.name == "non_kubernetes_yaml":
                try:
                    values[spec.name] = NonKubernetesYaml(raw.lower())
                except ValueError:
                    raise LimitsError(f"{variable} must be 'refuse' or 'warn', got {raw!r}") from None
            else:
                values[spec.name] = parse_size(raw, variable)
        return cls(**values)  # type: ignore[arg-type]

    def yaml(self, max_bytes: int) -> YamlLimits:
        """Parsing limits for one file of at most ``max_bytes``."""
        return YamlLimits().with_max_bytes(max_bytes)


_VARIABLES: Final = {
    "max_output_files": ENV_MAX_OUTPUT_FILES,
    "max_output_file_bytes": ENV_MAX_OUTPUT_FILE_BYTES,
    "max_output_bytes": ENV_MAX_OUTPUT_BYTES,
    "max_work_bytes": ENV_MAX_WORK_BYTES,
    "max_status_bytes": ENV_MAX_STATUS_BYTES,
    "max_metadata_file_bytes": ENV_MAX_METADATA_FILE_BYTES,
    "non_kubernetes_yaml": ENV_NON_KUBERNETES_YAML,
}


def variable_for(limit: str) -> str:
    """The environment variable that sets the :class:`PipelineLimits` field ``limit``."""
    return _VARIABLES[limit]


LARGEST_SHOWN: Final = 3
"""How many of the largest files an error about size names."""


def largest(sizes: Mapping[str, int], count: int = LARGEST_SHOWN) -> str:
    """``a.yaml (3.0 MiB), b.yaml (1.2 MiB)``: the biggest entries, for messages about size."""
    ranked = sorted(sizes.items(), key=lambda item: (-item[1], item[0]))[:count]
    return ", ".join(f"{path} ({format_size(size)})" for path, size in ranked)


_SIZE = re.compile(r"^([0-9]+)(Ki|Mi|Gi|k|M|G)?$")
_UNITS: Final = {None: 1, "Ki": KIB, "Mi": MIB, "Gi": 1024 * MIB, "k": 1000, "M": 1000**2, "G": 1000**3}


def parse_size(text: str, variable: str) -> int:
    """``"1048576"``, ``"512Ki"``, ``"2Mi"`` -> bytes (or a plain count); at least 1."""
    match = _SIZE.match(text.strip())
    if match is None:
        raise LimitsError(f"{variable} must be a whole number, optionally with Ki, Mi or Gi; got {text!r}")
    value = int(match.group(1)) * _UNITS[match.group(2)]
    if value < 1:
        raise LimitsError(f"{variable} must be at least 1, got {text!r}")
    return value
