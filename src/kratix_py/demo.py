"""``kratix-py demo``: the whole flow on the local platform, narrated.

It starts the local platform, installs kratix-py's CRDs, and shows what ``kubectl`` sees, so a new
user can watch every step and then poke at the same platform with their own kubectl.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import time
from pathlib import Path

from kratix_py.errors import CommandError

REPO_ROOT = Path(__file__).resolve().parents[2]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(".local-platform"),
        help="where the demo keeps its kubeconfig, Git remote and pod folders (default: %(default)s)",
    )
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="leave the platform running at the end so you can use kubectl against it (Ctrl-C stops)",
    )


def run(args: argparse.Namespace) -> int:
    from kratix_py.testing.platform import LocalPlatform

    crds = REPO_ROOT / "crds"
    if not crds.is_dir():
        raise CommandError(f"the CRDs are not at {crds}: run the demo from a kratix-py checkout")
    started = time.monotonic()
    with LocalPlatform(workdir=args.dir.resolve()) as platform:
        env = {**os.environ, "KUBECONFIG": str(platform.kubeconfig)}
        _step(f"Local platform up: Kubernetes API at {platform.url}, kubeconfig {platform.kubeconfig}")
        _step("Installing kratix-py's CRDs")
        _kubectl(env, "apply", "-f", str(crds))
        _step("kubectl get crds")
        _kubectl(env, "get", "crds")
        _step("kubectl api-resources --categories kratix")
        _kubectl(env, "api-resources", "--categories", "kratix")
        _step("kubectl get promises")
        _kubectl(env, "get", "promises")
        print(f"\nDone in {time.monotonic() - started:.1f}s.")
        if args.keep_running:
            print(f"The platform is still running. In another shell:\n  export KUBECONFIG={platform.kubeconfig}")
            print("  kubectl get promises,destinations,works -A\nPress Ctrl-C to stop.")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    return 0


def _step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def _kubectl(env: dict[str, str], *args: str) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise CommandError("kubectl is not on PATH: install it to see the demo's kubectl output")
    result = subprocess.run([kubectl, "--validate=false", *args] if args[0] == "apply" else [kubectl, *args], env=env)
    if result.returncode != 0:
        raise CommandError(f"kubectl {' '.join(args)} failed (exit {result.returncode})")
