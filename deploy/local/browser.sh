#!/usr/bin/env bash
# The browser the end-to-end web tests drive: Debian's Chromium, headless, through Playwright.
#
# Usage: deploy/local/browser.sh [install|path]
#   install (default)  install the Debian package `chromium` with apt-get if it is missing
#                      (quick and silent when it is already there)
#   path               print the executable the tests use
#
# Playwright's own browser downloads cannot be fetched on these machines, so the tests use the
# distribution's Chromium (executable_path). MOTCUA_CHROMIUM overrides the executable.
# The apt log goes to ${MOTCUA_INFRA_STATE:-/tmp/motcua-infra}/logs/apt-chromium.log.
set -euo pipefail

STATE="${MOTCUA_INFRA_STATE:-/tmp/motcua-infra}"
LOGS="$STATE/logs"
CHROMIUM="${MOTCUA_CHROMIUM:-/usr/bin/chromium}"

note() { printf '%s\n' "$*" >&2; }
die() { printf 'browser.sh: error: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [[ $EUID -eq 0 ]]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
    else die "need root (or sudo) to run: $*"
    fi
}

show_log_tail() {
    [[ -s "$1" ]] && { printf -- '----- last 40 lines of %s -----\n' "$1" >&2; tail -n 40 "$1" >&2; }
    return 0
}

works() { [[ -x "$CHROMIUM" ]] && "$CHROMIUM" --headless --no-sandbox --version >/dev/null 2>&1; }

install() {
    works && return 0
    [[ -n "${MOTCUA_CHROMIUM:-}" ]] && die "MOTCUA_CHROMIUM=$CHROMIUM is not an executable Chromium"
    command -v apt-get >/dev/null 2>&1 || die "Chromium is missing at $CHROMIUM and apt-get is not available to install it"
    mkdir -p "$LOGS"
    local log="$LOGS/apt-chromium.log"
    note "browser: installing Debian package chromium (a minute or two, once; log: $log)"
    {
        # Wait for apt's lock rather than failing when another install (infra.sh) holds it.
        as_root apt-get -o DPkg::Lock::Timeout=600 update &&
        DEBIAN_FRONTEND=noninteractive as_root apt-get -o DPkg::Lock::Timeout=600 install -y \
            --no-install-recommends chromium fonts-dejavu-core
    } >>"$log" 2>&1 </dev/null || { show_log_tail "$log"; die "apt-get install chromium failed"; }
    works || die "chromium still does not run at $CHROMIUM after apt-get install (see $log)"
}

case "${1:-install}" in
    install) install ;;
    path) printf '%s\n' "$CHROMIUM" ;;
    *) die "usage: $0 [install|path]" ;;
esac
