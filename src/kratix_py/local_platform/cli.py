"""``kratix-py local-platform``: serve the local platform until interrupted, for kubectl and people."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=8080, help="API port (default: %(default)s; 0 = any free port)"
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(".local-platform"),
        help="where the kubeconfig and pod folders go (default: %(default)s)",
    )
    parser.add_argument(
        "--pods",
        choices=["podman", "none"],
        default="podman",
        help="run Job pods as podman containers, or not at all (default: %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    from kratix_py.local_platform.platform import LocalPlatform

    platform = LocalPlatform(
        workdir=args.dir.resolve(),
        host=args.host,
        port=args.port,
        pods=None if args.pods == "none" else args.pods,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with platform:
        print(f"Kubernetes API: {platform.url}")
        print(f"kubeconfig:     {platform.kubeconfig}")
        print(f"Try: KUBECONFIG={platform.kubeconfig} kubectl api-resources --categories kratix")
        print("Press Ctrl-C to stop.", flush=True)
        stop.wait()
    return 0
