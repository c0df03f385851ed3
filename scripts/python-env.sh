#!/usr/bin/env bash
# Sets up the Python environment of the interop tests: a virtual environment at
# $REPO/.venv (or $TUFKIT_VENV) with the packages pinned in
# tests/interop/requirements.txt (python-tuf and securesystemslib with cryptography).
#
# Safe to run again and again: when the environment already matches the requirements
# (a stamp file holds their hash and the Python version) it only checks the imports and
# returns. Needs python3 and network access to PyPI the first time.
#
# Usage: scripts/python-env.sh            # create or update the environment
#        PYTHON=python3.12 scripts/python-env.sh   # use another base interpreter
# The tests then use $TUFKIT_PYTHON, or $REPO/.venv/bin/python by default.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${TUFKIT_VENV:-$REPO/.venv}
REQ=$REPO/tests/interop/requirements.txt
STAMP=$VENV/.tufkit-requirements.stamp
BASE_PYTHON=${PYTHON:-python3}

say() { echo "python-env: $*"; }
die() {
    echo "python-env: ERROR: $*" >&2
    exit 1
}

command -v "$BASE_PYTHON" >/dev/null 2>&1 ||
    die "$BASE_PYTHON not found. Install Python 3.10 or newer (Debian: apt-get install python3 python3-venv) or set PYTHON=/path/to/python3."
[ -f "$REQ" ] || die "requirements file $REQ is missing"

base_version=$("$BASE_PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
"$BASE_PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' ||
    die "python-tuf 7 needs Python 3.10 or newer; $BASE_PYTHON is $base_version. Set PYTHON to a newer interpreter."
req_hash=$(sha256sum "$REQ" | cut -d' ' -f1)
want_stamp="requirements-sha256=$req_hash python=$base_version"

# Fast path: the environment was built from these requirements and still imports.
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want_stamp" ] &&
    "$VENV/bin/python" -c 'import tuf.api.metadata, securesystemslib.signer, cryptography' 2>/dev/null; then
    say "$VENV is up to date (python $base_version, requirements ${req_hash:0:12})"
    exit 0
fi

# Tries each way of making a virtual environment in turn; returns 0 once one works.
make_venv() {
    say "creating virtual environment $VENV with $BASE_PYTHON ($base_version)"
    if "$BASE_PYTHON" -m venv "$VENV"; then
        return 0
    fi
    rm -rf "$VENV"
    if "$BASE_PYTHON" -m virtualenv --version >/dev/null 2>&1; then
        say "python3 -m venv failed; using the installed virtualenv module"
        "$BASE_PYTHON" -m virtualenv "$VENV" && return 0
        rm -rf "$VENV"
    fi
    # Debian and Ubuntu ship venv's pip bootstrap separately, in python3-venv.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 &&
        [ "$(command -v "$BASE_PYTHON")" = /usr/bin/python3 ]; then
        say "python3 -m venv failed; installing Debian's python3-venv (running as root)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv &&
            "$BASE_PYTHON" -m venv "$VENV" && return 0
        rm -rf "$VENV"
    fi
    say "python3 -m venv failed; trying pip install --user virtualenv"
    if "$BASE_PYTHON" -m pip install --user --disable-pip-version-check --no-input virtualenv &&
        "$BASE_PYTHON" -m virtualenv "$VENV"; then
        return 0
    fi
    rm -rf "$VENV"
    return 1
}

if [ ! -x "$VENV/bin/python" ]; then
    rm -rf "$VENV"
    make_venv || die "could not create a virtual environment at $VENV. On Debian/Ubuntu run 'apt-get install python3-venv' (as root), or 'python3 -m pip install --user virtualenv', then run $0 again."
else
    say "updating existing virtual environment $VENV"
fi

rm -f "$STAMP"
say "installing $(grep -cE '^[A-Za-z]' "$REQ") pinned packages from $REQ"
if ! "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$REQ"; then
    die "pip could not install the packages in $REQ (see pip's message above). Check that PyPI is reachable and that the pinned versions have wheels for Python $base_version on this platform; delete $VENV and run $0 again to start clean."
fi
"$VENV/bin/python" -c 'import tuf.api.metadata, securesystemslib.signer, cryptography' ||
    die "the packages installed but do not import; delete $VENV and run $0 again"
echo "$want_stamp" >"$STAMP"
say "installed: $("$VENV/bin/python" -m pip freeze --disable-pip-version-check | tr '\n' ' ')"
say "ready: tests will use $VENV/bin/python (override with TUFKIT_PYTHON)"
