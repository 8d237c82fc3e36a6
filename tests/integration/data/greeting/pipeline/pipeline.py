"""Configure a Greeting: a ConfigMap that says hello to ``spec.to``.

``spec.holdSeconds`` keeps the pipeline running that long after writing its output, so a test can
stop the platform while a pipeline container is still up.
"""

import time

from kratix_py import sdk


def main() -> None:
    request = sdk.read_object()
    to = request.get("spec.to", "world")
    sdk.write_output(
        "greeting.yaml",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": request.name, "namespace": request.namespace},
            "data": {"greeting": f"hello {to}"},
        },
    )
    sdk.write_status({"message": f"said hello to {to}"})
    print(f"greeted {to}", flush=True)
    time.sleep(int(request.get("spec.holdSeconds", 0) or 0))


if __name__ == "__main__":
    main()
