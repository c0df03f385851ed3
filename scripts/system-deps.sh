#!/usr/bin/env bash
# Installs the Debian packages the test suite needs when they are missing:
#   faketime  - the conformance-binary test runs tufkit-conformance under libfaketime.
# Idempotent: does nothing when everything is present. Installs only when running as
# root with apt-get available; otherwise prints what to install and carries on (the
# tests that need a missing tool then say so).
set -euo pipefail

# package:command-that-proves-it-is-installed
NEEDED=("faketime:faketime")

missing=()
for entry in "${NEEDED[@]}"; do
    pkg=${entry%%:*}
    cmd=${entry#*:}
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "system-deps: all present"
    exit 0
fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
else
    echo "system-deps: missing ${missing[*]}; install them (e.g. sudo apt-get install ${missing[*]})" >&2
fi
