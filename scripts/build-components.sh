#!/usr/bin/env bash
# Builds the real-cluster test components (kube-apiserver, kube-controller-manager, etcd, helm,
# Flux's source- and kustomize-controller) from their Go modules at the versions pinned in
# tools/components/versions.env. Each binary lands in
#   ${KRATIX_PY_COMPONENTS_DIR:-~/.cache/kratix-py/components}/<name>-<version>/<name>
# and is reused when present, so a warm machine spends no time here. A lock keeps two builds
# (two make runs, two CI jobs) from racing on the same cache.
# Usage: build-components.sh [name...]   (default: every component)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=/dev/null
. "$root/tools/components/versions.env"

cache=${KRATIX_PY_COMPONENTS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kratix-py/components}
mkdir -p "$cache/.work"
exec 9>"$cache/.lock"
flock 9

if ! command -v go >/dev/null; then
    echo "build-components: the Go toolchain is needed (go not on PATH)" >&2
    exit 1
fi
# Small, reproducible binaries: no paths of the build machine, no debug info, no VCS stamp.
export GOFLAGS="-trimpath -buildvcs=false"
export CGO_ENABLED=0
ldflags="-s -w"

# mod_dir MODULE VERSION: the read-only module source in the module cache (downloads it).
mod_dir() {
    go mod download -json "$1@$2" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'
}

# A wrapper module that requires k8s.io/kubernetes and maps every staging module (published
# go.mod requires them at v0.0.0 and replaces them with ./staging paths absent from the module
# zip) to its published v0.X.Y, the replace list being read from that version's own go.mod.
kubernetes_wrapper() {
    local work=$1 minor
    minor=${KUBERNETES_VERSION#v1.}
    [ -f "$work/go.mod" ] && return 0
    mkdir -p "$work"
    local upstream
    upstream=$(mod_dir k8s.io/kubernetes "$KUBERNETES_VERSION")/go.mod
    {
        echo "module kratixpy.local/components/kubernetes"
        echo
        echo "go 1.26"
        echo
        echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
        echo
        echo "replace ("
        sed -n '/^replace (/,/^)/p' "$upstream" |
            sed -n 's#^\t\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\t\1 => \1 v0.'"$minor"'#p'
        echo ")"
    } >"$work/go.mod.new"
    mv "$work/go.mod.new" "$work/go.mod"
}

etcd_wrapper() {
    local work=$1
    [ -f "$work/go.mod" ] && return 0
    mkdir -p "$work"
    cat >"$work/main.go" <<'GO'
// etcd's server module has no main package of its own outside the repository root module;
// this is the same entry point the etcd binary uses.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
    printf 'module kratixpy.local/components/etcd\n\ngo 1.26\n\nrequire go.etcd.io/etcd/server/v3 %s\n' \
        "$ETCD_VERSION" >"$work/go.mod"
}

# A module whose main package builds inside its own tree, so its own replace directives count:
# a writable copy of the module source. Replaces pointing at sibling folders (./api) name nested
# modules that the module zip leaves out; dropping them uses the published version go.mod
# requires. EDITS: further `go mod edit` flags (see versions.env).
module_copy() {
    local work=$1 module=$2 version=$3 edits=${4:-} src local_replace
    [ -f "$work/go.mod" ] && return 0
    src=$(mod_dir "$module" "$version")
    mkdir -p "$(dirname "$work")"
    rm -rf "$work.tmp"
    cp -r "$src" "$work.tmp"
    chmod -R u+w "$work.tmp"
    for local_replace in $(sed -n 's#^replace \([^ ]*\) => \./.*#\1#p' "$work.tmp/go.mod"); do
        (cd "$work.tmp" && go mod edit -dropreplace="$local_replace")
    done
    if [ -n "$edits" ]; then
        # shellcheck disable=SC2086 # one flag per word
        (cd "$work.tmp" && go mod edit $edits)
    fi
    mv "$work.tmp" "$work"
}

# crds NAME VERSION WORKDIR: a Flux controller's CRDs (config/crd/bases in its module) next to
# its binary, so tests install exactly the CRDs of the version they run.
crds() {
    local out="$cache/$1-$2/crds"
    [ -d "$out" ] && return 0
    mkdir -p "$out.tmp"
    cp "$3"/config/crd/bases/*.yaml "$out.tmp/"
    mv "$out.tmp" "$out"
}

# build NAME VERSION WORKDIR PACKAGE [LDFLAGS]: reused while built with the same flags (recorded
# next to the binary), so a changed recipe rebuilds and an unchanged one costs nothing.
build() {
    local name=$1 version=$2 work=$3 pkg=$4 flags="$ldflags ${5:-}"
    local out="$cache/$name-$version/$name"
    if [ -x "$out" ] && [ "$(cat "$out.flags" 2>/dev/null)" = "$flags" ]; then
        echo "build-components: $name $version cached"
        return 0
    fi
    echo "build-components: building $name $version ..."
    local start=$SECONDS
    mkdir -p "$(dirname "$out")"
    (cd "$work" && go build -mod=mod -ldflags="$flags" -o "$out.tmp" "$pkg")
    mv "$out.tmp" "$out"
    printf '%s' "$flags" >"$out.flags"
    echo "build-components: built $name $version in $((SECONDS - start))s"
}

# What `kube-apiserver --version` and /version report; the Kubernetes build stamps these itself.
kubernetes_ldflags() {
    local minor=${KUBERNETES_VERSION#v1.}
    minor=${minor%%.*}
    local pkg
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        printf -- '-X %s.gitVersion=%s -X %s.gitMajor=1 -X %s.gitMinor=%s -X %s.gitTreeState=clean ' \
            "$pkg" "$KUBERNETES_VERSION" "$pkg" "$pkg" "$minor" "$pkg"
    done
}

selected=("$@")
# has NAME: was NAME asked for (no arguments: everything is)?
has() {
    [ ${#selected[@]} -eq 0 ] && return 0
    local n
    for n in "${selected[@]}"; do [ "$n" = "$1" ] && return 0; done
    return 1
}

# Two lanes at once: the Kubernetes components (which share one build cache, so they go one
# after the other) and the rest. One lane's module downloads overlap the other's compiling, which
# takes a fresh machine's build from about 17 to fewer minutes; a warm machine skips both.
kubernetes_lane() {
    kwork="$cache/.work/kubernetes-$KUBERNETES_VERSION"
    if has etcd; then
        etcd_wrapper "$cache/.work/etcd-$ETCD_VERSION"
        build etcd "$ETCD_VERSION" "$cache/.work/etcd-$ETCD_VERSION" .
    fi
    if has kube-apiserver || has kube-controller-manager; then
        kubernetes_wrapper "$kwork"
    fi
    if has kube-apiserver; then
        build kube-apiserver "$KUBERNETES_VERSION" "$kwork" k8s.io/kubernetes/cmd/kube-apiserver \
            "$(kubernetes_ldflags)"
    fi
    if has kube-controller-manager; then
        build kube-controller-manager "$KUBERNETES_VERSION" "$kwork" \
            k8s.io/kubernetes/cmd/kube-controller-manager "$(kubernetes_ldflags)"
    fi
}

# flux_controller NAME VERSION EDITS: a Flux controller (github.com/fluxcd/NAME), built in its
# own module tree, with its CRDs beside it.
flux_controller() {
    local name=$1 version=$2 edits=$3 work="$cache/.work/$1-$2"
    module_copy "$work" "github.com/fluxcd/$name" "$version" "$edits"
    build "$name" "$version" "$work" .
    crds "$name" "$version" "$work"
}

other_lane() {
    if has helm; then
        module_copy "$cache/.work/helm-$HELM_VERSION" helm.sh/helm/v4 "$HELM_VERSION"
        build helm "$HELM_VERSION" "$cache/.work/helm-$HELM_VERSION" ./cmd/helm
    fi
    if has source-controller; then
        flux_controller source-controller "$FLUX_SOURCE_CONTROLLER_VERSION" \
            "${FLUX_SOURCE_CONTROLLER_GO_MOD_EDITS:-}"
    fi
    if has kustomize-controller; then
        flux_controller kustomize-controller "$FLUX_KUSTOMIZE_CONTROLLER_VERSION" \
            "${FLUX_KUSTOMIZE_CONTROLLER_GO_MOD_EDITS:-}"
    fi
}

begin=$SECONDS
kubernetes_lane &
kubernetes_pid=$!
other_lane &
other_pid=$!
failed=0
wait "$kubernetes_pid" || failed=1
wait "$other_pid" || failed=1
if [ "$failed" -ne 0 ]; then
    echo "build-components: a build failed (see above)" >&2
    exit 1
fi
echo "build-components: every component ready in $((SECONDS - begin))s"
