#!/usr/bin/env bash
# End to end on a real cluster, for people with Docker: a kind cluster, kratix-py's image loaded into
# it, the kratix chart installed, then the cluster-mode test suites pointed at it through KUBECONFIG.
# Needs: docker, kind, kubectl, helm on PATH. Cannot run on the project's build machines (no Docker
# engine there); CI runs tests/e2e on the real control plane the project builds (make setup-components) instead.
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER=${KIND_CLUSTER:-kratix-py-e2e}
IMAGE=${IMAGE:-kratix-py:e2e}
KUBECONFIG_FILE=${KUBECONFIG_FILE:-$(pwd)/build/kind-kubeconfig}

for tool in docker kind kubectl helm; do
  command -v "$tool" >/dev/null || { echo "e2e-kind: $tool is not on PATH" >&2; exit 1; }
done
mkdir -p build

if ! kind get clusters | grep -qx "$CLUSTER"; then
  kind create cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG_FILE" --wait 120s
fi
export KUBECONFIG=$KUBECONFIG_FILE

docker build -t "$IMAGE" .
kind load docker-image "$IMAGE" --name "$CLUSTER"

helm upgrade --install kratix charts/kratix --namespace kratix-platform-system --create-namespace \
  --set image.repository="${IMAGE%%:*}" --set image.tag="${IMAGE##*:}" --set image.pullPolicy=Never \
  --set rbac.requestKinds.allApiGroups=true --wait

# The emulator's conformance suite, now against a real API server, then the cluster end-to-end tests.
.venv/bin/pytest tests/conformance tests/e2e -m "not emulator_only" -p no:cacheprovider
echo "e2e-kind: passed. Delete the cluster with: kind delete cluster --name $CLUSTER"
