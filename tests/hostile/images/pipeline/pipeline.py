"""One pipeline image for the bad-input suite: the request's ``spec.case`` picks what it does.

Each behaviour is something a pipeline taken from others could do to the platform: write files
the state store cannot hold, YAML that explodes when parsed, more than an object can carry, print
its Secrets, or talk to the API server with the credentials it was given. ``ok`` behaves.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import sys
import urllib.request
from pathlib import Path

import yaml

from kratix_py import sdk

OUT = Path(os.environ.get("OUTPUT_DIR", "/kratix/output"))
META = Path(os.environ.get("METADATA_DIR", "/kratix/metadata"))
MIB = 1024 * 1024


def config_map(name: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  case: {name}\n"


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    lines += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * width)}]" for n in range(1, levels)]
    return "\n".join(lines) + "\n"


def api(method: str, path: str, body: dict | None = None) -> dict:
    """Call the API server with the credentials the pod was given (what a hostile image could do)."""
    config = yaml.safe_load(Path(os.environ["KUBECONFIG"]).read_text())
    server = config["clusters"][0]["cluster"]["server"]
    token = config["users"][0]["user"].get("token", "")
    request = urllib.request.Request(
        server + path,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"{}")


def work(
    name: str,
    namespace: str,
    resource: str,
    filepath: str,
    content: str,
    labels: dict,
    owners: list | None = None,
) -> dict:
    encoded = base64.b64encode(gzip.compress(content.encode(), mtime=0)).decode()
    metadata: dict = {"name": name, "namespace": namespace, "labels": labels}
    if owners:
        metadata["ownerReferences"] = owners
    return {
        "apiVersion": "platform.kratix.io/v1alpha1",
        "kind": "Work",
        "metadata": metadata,
        "spec": {
            "promiseName": "hostile",
            "resourceName": resource,
            "workloadGroups": [
                {
                    "id": "5058f1af8388633f609cadb75a75dc9d",
                    "directory": ".",
                    "workloads": [{"filepath": filepath, "content": encoded}],
                }
            ],
        },
    }


def proc_status() -> dict:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def main() -> int:
    obj = sdk.read_object()
    case = obj.get("spec.case", "ok")
    name, namespace = obj.name, obj.namespace
    if case not in ("empty-output",):
        (OUT / f"{name}.yaml").write_text(config_map(name))
    if case == "ok":
        sdk.write_status({"message": f"{name} configured"})
    elif case == "empty-output":
        (OUT / f"{name}.yaml").unlink(missing_ok=True)
    elif case == "symlink":
        (OUT / "passwd.yaml").symlink_to("/etc/passwd")
    elif case == "fifo":
        os.mkfifo(OUT / "pipe.yaml")
    elif case == "invalid-yaml":
        (OUT / "broken.yaml").write_text("kind: [ConfigMap\n")
    elif case == "bad-selectors":
        (META / "destination-selectors.yaml").write_text("- directory: a/b\n  matchLabels: {env: dev}\n")
    elif case == "forged-conditions":
        sdk.write_status(
            {
                "conditions": [
                    {"type": "Reconciled", "status": "False", "reason": "Forged", "message": "forged"},
                    {"type": "WorksSucceeded", "status": "False", "reason": "Forged", "message": "forged"},
                ]
            }
        )
    elif case == "status-kratix-key":
        (META / "status.yaml").write_text("kratix:\n  workflows: {}\n")
    elif case == "status-invalid-yaml":
        (META / "status.yaml").write_text("message: 'unterminated\n")
    elif case == "bad-retry-after":
        (META / "workflow-control.yaml").write_text("retryAfter: soon\n")
    elif case == "failing-container":
        print("the database quota is exceeded", file=sys.stderr)
        return 3
    elif case == "non-utf8-name":
        os.close(os.open(bytes(OUT) + b"/caf\xe9.yaml", os.O_WRONLY | os.O_CREAT, 0o644))
    # item 3: YAML within limits
    elif case == "status-alias-bomb":
        (META / "status.yaml").write_text(alias_bomb())
    elif case == "status-deep-nesting":
        (META / "status.yaml").write_text("a: " + "[" * 20000 + "]" * 20000 + "\n")
    elif case == "selectors-alias-bomb":
        (META / "destination-selectors.yaml").write_text(alias_bomb())
    elif case == "control-alias-bomb":
        (META / "workflow-control.yaml").write_text(alias_bomb())
    elif case == "output-alias-bomb":
        (OUT / "bomb.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n" + alias_bomb())
    elif case == "status-symlink":
        (META / "status.yaml").symlink_to("/var/run/kratix-py/kubeconfig")
    elif case == "status-fifo":
        os.mkfifo(META / "status.yaml")
    # item 4: Secrets in status
    elif case == "print-secret":
        print(f"logging in with {os.environ['API_TOKEN']}")
        print(f"token={os.environ['API_TOKEN']} was rejected", file=sys.stderr)
        return 3
    # item 5: size
    elif case == "huge-file":
        with open(OUT / "huge.yaml", "wb") as stream:
            stream.truncate(50 * MIB)  # sparse: 50 MB that cost no disk
    elif case == "work-too-big":
        (OUT / "noise.bin").write_bytes(os.urandom(1200 * 1024))
    elif case == "too-many-files":
        for number in range(1001):
            (OUT / f"cm-{number}.txt").write_text("x")
    elif case == "status-too-big":
        (META / "status.yaml").write_text("blob: " + "x" * (300 * 1024) + "\n")
    # item 6: paths and YAML that is not a Kubernetes object
    elif case == "dot-git-path":
        (OUT / ".GIT").mkdir()
        (OUT / ".GIT" / "config").write_text("[core]\n")
    elif case == "backslash-name":
        (OUT / "a\\b.yaml").write_text(config_map("b"))
    elif case == "newline-name":
        (OUT / "line\nbreak.yaml").write_text(config_map("c"))
    elif case == "yaml-list":
        (OUT / "values.yaml").write_text("- a\n- b\n")
    elif case == "yaml-scalar":
        (OUT / "values.yaml").write_text("just text\n")
    elif case == "yaml-no-kind":
        (OUT / "values.yaml").write_text("replicas: 3\n")
    # item 7: least privilege
    elif case == "privileges":
        status = proc_status()
        sdk.write_status(
            {"uid": os.getuid(), "capEff": status.get("CapEff"), "noNewPrivs": status.get("NoNewPrivs")}
        )
    # the API with the pod's credentials
    elif case == "bad-work-path":
        # A Work of its own request, owned by it as the work-writer's are (the pipeline can read
        # its request's uid), so that it is the path the operator refuses, not the identity.
        labels = {"kratix.io/promise-name": "hostile", "kratix.io/work-type": "resource"}
        me = api("GET", f"/apis/hostile.kratix.io/v1alpha1/namespaces/{namespace}/hostiles/{name}")
        owner = {
            "apiVersion": me["apiVersion"],
            "kind": me["kind"],
            "name": name,
            "uid": me["metadata"]["uid"],
            "controller": True,
        }
        api(
            "POST",
            f"/apis/platform.kratix.io/v1alpha1/namespaces/{namespace}/works",
            work(
                f"evil-{name}", namespace, name, "../../../escape.yaml", config_map("escape"), labels, [owner]
            ),
        )
    elif case == "forged-work":
        victim = "victim-forged"
        labels = {
            "kratix.io/promise-name": "hostile",
            "kratix.io/work-type": "resource",
            "kratix.io/pipeline-name": "configure",
            "kratix.io/resource-name": victim,
        }
        api(
            "POST",
            f"/apis/platform.kratix.io/v1alpha1/namespaces/{namespace}/works",
            work(f"forged-{name}", namespace, victim, f"{victim}.yaml", "forged: true\n", labels),
        )
    # item 2: filepath.mode none
    elif case in ("flat-clash-a", "flat-clash-b", "flat-bookkeeping"):
        (OUT / f"{name}.yaml").unlink()
        target = ".kratix/default-victim.yaml" if case == "flat-bookkeeping" else "shared.yaml"
        (OUT / target).parent.mkdir(parents=True, exist_ok=True)
        (OUT / target).write_text(config_map(name))
        sdk.write_destination_selectors([{"matchLabels": {"mode": "flat"}}])
    else:
        print(f"unknown case {case!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
