"""A pipeline image for kratix-py's container tests, written with kratix_py.sdk.

The first argument picks the behaviour: ``first`` writes manifests in two groups, destination
selectors and status; ``second`` reads what ``first`` put in the status; ``fail`` exits 1 with a
message; ``teardown`` only logs.
"""

import sys

from kratix_py import sdk

mode = sys.argv[1] if len(sys.argv) > 1 else "first"
obj = sdk.read_object()
if mode == "first":
    size = obj.get("spec.size", "small")
    sdk.write_output(
        "redis.yaml",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": obj.name}, "data": {"size": size}},
    )
    sdk.write_output(
        "monitoring/dashboard.yaml", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dash"}}
    )
    sdk.write_destination_selectors([{"directory": "monitoring", "matchLabels": {"team": "observability"}}])
    sdk.write_status({"message": "first done", "endpoint": f"{obj.name}.{obj.namespace}:6379"})
    print(f"configured {obj.name} ({size})")
elif mode == "second":
    sdk.write_status({"sawEndpoint": obj.get("status.endpoint")})
    print("second saw", obj.get("status.endpoint"))
elif mode == "fail":
    print("the database quota is exceeded", file=sys.stderr)
    sys.exit(1)
else:
    print(f"{mode} for {obj.name}")
