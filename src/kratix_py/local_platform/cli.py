"""``kratix-py local-platform``: a whole platform on this machine until Ctrl-C (see up.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kratix_py.errors import CommandError
from kratix_py.local_platform import defaults as d
from kratix_py.local_platform.up import API_KINDS, PlatformOptions, RunningPlatform

DESCRIPTION = """\
Bring up a whole kratix-py platform on this machine, as Kratix's quick start does on a kind
cluster: a Kubernetes API with a pod runner (Jobs run as podman containers), a Git server (and on
request an S3 server), the operator, kratix-py's CRDs, the state store "default" and the
Destinations worker-1, worker-2... It prints the KUBECONFIG to use with kubectl and the Git clone
URL with its credentials, and serves until Ctrl-C or SIGTERM; then it removes what it started:
pipeline containers, servers, and its directory (unless --dir and --keep)."""

EPILOG = """\
examples:
  kratix-py local-platform
  kratix-py local-platform --store bucket --destinations 2 --label worker-2:environment=prod
  kratix-py local-platform --dir .local-platform --keep --api-port 0"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = DESCRIPTION
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--api",
        choices=API_KINDS,
        default="emulator",
        help="the Kubernetes API: the project's emulator, or a real control plane (default: %(default)s)",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address every server listens on (default: %(default)s)"
    )
    parser.add_argument(
        "--api-port",
        "--port",
        dest="api_port",
        type=int,
        default=d.API_PORT,
        help="Kubernetes API port (default: %(default)s; 0 picks a free port)",
    )
    parser.add_argument(
        "--git-port", type=int, default=d.GIT_PORT, help="Git server port (default: %(default)s; 0: any)"
    )
    parser.add_argument("--s3", action="store_true", help="also run an S3 server (implied by --store bucket)")
    parser.add_argument(
        "--s3-port", type=int, default=d.S3_PORT, help="S3 server port (default: %(default)s; 0: any)"
    )
    parser.add_argument(
        "--store",
        choices=d.STORE_KINDS,
        default="git",
        help=f"kind of the state store {d.STATE_STORE!r}: a GitStateStore on the repository {d.GIT_REPO!r} "
        f"or a BucketStateStore on the bucket {d.BUCKET!r} (default: %(default)s)",
    )
    parser.add_argument(
        "--destinations",
        type=int,
        default=1,
        metavar="N",
        help=f"how many Destinations: {d.DESTINATION_PREFIX}1 ... {d.DESTINATION_PREFIX}N (default: %(default)s)",
    )
    parser.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="[NAME:]KEY=VALUE",
        help="a label on every Destination, or only on NAME; KEY- removes one; repeatable "
        "(default: environment=dev on each)",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="where the kubeconfig, operator log and pod folders go (default: a new temporary directory)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="leave the directory in place on stop, to read the logs and pod folders afterwards",
    )
    parser.add_argument(
        "--pods",
        choices=("podman", "none"),
        default="podman",
        help="run Job pods as podman containers, or not at all (default: %(default)s)",
    )
    parser.add_argument(
        "--adapter-image",
        default=None,
        help="image of the pipeline adapter containers (default: kratix-py's own, built from this checkout)",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="level of the operator's log (default: %(default)s)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also print the operator's log here, not only to its file",
    )


def options_from(args: argparse.Namespace) -> PlatformOptions:
    try:
        destinations = d.plan_destinations(args.destinations, args.label)
    except ValueError as error:
        raise CommandError(str(error)) from None
    return PlatformOptions(
        api=args.api,
        host=args.host,
        api_port=args.api_port,
        git_port=args.git_port,
        s3=args.s3,
        s3_port=args.s3_port,
        store=args.store,
        destinations=destinations,
        directory=args.dir,
        keep=args.keep,
        pods=None if args.pods == "none" else args.pods,
        adapter_image=args.adapter_image,
        log_level=args.log_level,
        log_to_stderr=args.verbose,
    )


def run(args: argparse.Namespace) -> int:
    from kratix_py.local_platform.console import (
        describe,
        interrupted_by_signals,
        shielded,
        wait_for_interrupt,
    )

    options = options_from(args)
    platform = RunningPlatform(options, say=lambda line: print(f"==> {line}", flush=True))
    interrupted = False
    try:
        with interrupted_by_signals():
            try:
                platform.start()
                print(f"\n{describe(platform)}", flush=True)
                wait_for_interrupt()
            except KeyboardInterrupt:
                interrupted = True  # Ctrl-C while starting: stop what is up so far
    finally:
        with shielded():
            print("\n==> Stopping", flush=True)
            platform.stop()
    print(f"Stopped; {platform.workdir} kept." if options.keep else "Stopped.", flush=True)
    return 130 if interrupted else 0


if __name__ == "__main__":
    from kratix_py.cli import main

    sys.exit(main(["local-platform", *sys.argv[1:]]))
