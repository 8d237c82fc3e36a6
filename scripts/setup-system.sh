#!/usr/bin/env bash
# Install the Debian packages kratix-py's local platform and tests need, and nothing else:
#   podman, runc, uidmap, netavark, iptables  - real OCI containers for pipeline pods (no registry)
#   debootstrap, debian-archive-keyring       - the base image, built from Debian packages
#   git, openssh-server, openssh-client       - a real Git remote (HTTP and SSH) on 127.0.0.1
#
# Then scripts/setup-podman.sh gives plain `podman` the settings kratix-py's own podman calls use
# (a drop-in under /etc/containers/containers.conf.d/ and storage.conf), unless the machine has a
# podman configuration of its own.
#
# Idempotent: packages already installed are left alone and `apt-get update` runs only when
# something is missing. Runs as root (CI); elsewhere it re-runs itself with sudo.
# Afterwards, build the container base image once per machine:
#   python -m kratix_py.local_platform.images
set -euo pipefail

PACKAGES=(
  podman runc uidmap netavark iptables
  debootstrap debian-archive-keyring
  git openssh-server openssh-client
)

if [[ ${EUID} -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    echo "setup-system: not root, re-running with sudo"
    exec sudo --preserve-env=DEBIAN_FRONTEND "$0" "$@"
  fi
  echo "setup-system: must run as root (apt-get install)" >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-system: needs a Debian-based system with apt-get; install by hand: ${PACKAGES[*]}" >&2
  exit 1
fi

missing=()
for package in "${PACKAGES[@]}"; do
  if [[ "$(dpkg-query -W -f='${Status}' "${package}" 2>/dev/null)" == "install ok installed" ]]; then
    echo "setup-system: ${package} is already installed"
  else
    missing+=("${package}")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup-system: nothing to install"
else
  export DEBIAN_FRONTEND=noninteractive
  echo "setup-system: apt-get update"
  apt-get update -qq
  echo "setup-system: installing ${missing[*]}"
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

echo "setup-system: podman $(podman --version | awk '{print $3}'), runc $(runc --version | awk 'NR==1 {print $3}')"
bash "$(dirname "${BASH_SOURCE[0]}")/setup-podman.sh"
echo "setup-system: next, once per machine: python -m kratix_py.local_platform.images   (builds the base image, ~1 min)"
