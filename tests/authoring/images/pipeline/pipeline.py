"""The pipeline image of the authoring tests; the first argument picks what it does.

``write``: two files in the default group, one in a ``monitoring`` group with its own selector,
and a status. ``check``: reports what it saw of the previous pipeline's status and of its
environment, so a test can tell that object.yaml and the KRATIX_* variables were right.
``fail``: exits 1 after explaining why on stderr. ``teardown``: writes a status on delete.
"""

import os
import sys

from kratix_py import sdk

mode = sys.argv[1] if len(sys.argv) > 1 else "write"
obj = sdk.read_object()
if mode == "write":
    size = obj.get("spec.size", "?")
    sdk.write_output(
        "app/deployment.yaml",
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": obj.name}, "size": size},
    )
    sdk.write_output(
        "app/service.yaml", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": obj.name}}
    )
    sdk.write_output(
        "monitoring/alerts.yaml",
        {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule", "metadata": {"name": obj.name}},
    )
    sdk.write_destination_selectors([{"directory": "monitoring", "matchLabels": {"team": "observability"}}])
    sdk.write_status({"message": f"wrote {obj.name}", "endpoint": f"{obj.name}.{obj.namespace}.svc"})
    print(f"wrote the manifests of {obj.name} ({size})")
elif mode == "check":
    seen = {
        "previousEndpoint": obj.get("status.endpoint", "none"),
        "pipeline": os.environ.get("KRATIX_PIPELINE_NAME", ""),
        "objectKind": os.environ.get("KRATIX_OBJECT_KIND", ""),
        "workflowType": os.environ.get("KRATIX_WORKFLOW_TYPE", ""),
    }
    sdk.write_status({"seen": seen})
elif mode == "fail":
    print("the quota for this team is used up", file=sys.stderr)
    sys.exit(3)
elif mode == "teardown":
    sdk.write_status(
        {"message": f"tore down {obj.name}", "deleted": obj.get("metadata.deletionTimestamp") is not None}
    )
else:
    print(f"unknown mode {mode}", file=sys.stderr)
    sys.exit(2)
