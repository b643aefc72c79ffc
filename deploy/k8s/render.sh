#!/usr/bin/env bash
# Render a kustomize overlay to stdout, as `kubectl apply -k` would see it:
#   deploy/k8s/render.sh deploy/k8s/overlays/prod
#   deploy/k8s/render.sh --tool      # make sure a renderer is here (installing kustomize once) and name it
#
# Uses `kubectl kustomize` when kubectl is installed; otherwise kustomize itself, built once from the Go
# module proxy (sigs.k8s.io/kustomize/kustomize/v5) into ${MOTCUA_INFRA_CACHE:-$HOME/.cache/motcua}/bin.
# MOTCUA_RENDER_WITH=kustomize uses kustomize even where kubectl is installed.
set -euo pipefail

KUSTOMIZE_VERSION="${MOTCUA_KUSTOMIZE_VERSION:-v5.6.0}"
CACHE="${MOTCUA_INFRA_CACHE:-$HOME/.cache/motcua}"
KUSTOMIZE_BIN="$CACHE/bin/kustomize-$KUSTOMIZE_VERSION"

renderer() {
    if [[ "${MOTCUA_RENDER_WITH:-}" != kustomize ]] && command -v kubectl >/dev/null 2>&1 \
            && kubectl kustomize --help >/dev/null 2>&1; then
        echo "kubectl kustomize"
        return
    fi
    if [[ ! -x "$KUSTOMIZE_BIN" ]]; then
        command -v go >/dev/null 2>&1 || { echo "render.sh: neither kubectl nor go is installed" >&2; exit 1; }
        echo "kustomize: building $KUSTOMIZE_VERSION once into $KUSTOMIZE_BIN (about a minute)" >&2
        local gobin
        gobin="$(mktemp -d)"
        GOBIN="$gobin" GOFLAGS=-mod=mod go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" >&2
        mkdir -p "$(dirname "$KUSTOMIZE_BIN")"
        mv "$gobin/kustomize" "$KUSTOMIZE_BIN"
        rmdir "$gobin"
    fi
    echo "$KUSTOMIZE_BIN build"
}

case "${1:-}" in
    --tool) renderer ;;
    ""|-h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    *) tool="$(renderer)"; $tool "$1" ;;
esac
