#!/usr/bin/env bash
# Times the repository side of tufkit on large repositories (release build):
#
#   1. build + sign N targets from files: `tufkit init`, `tufkit add --from-dir`,
#      `tufkit publish` (sha256 only), next to reading + hashing the same bytes alone;
#   2. a 1M-target repository in 16,384 succinct hashed bins (targets hosted elsewhere,
#      from a manifest): `tufkit delegate --succinct-bins 14`, `tufkit add --manifest`,
#      `tufkit publish`; then adding ONE target and publishing it, three times.
#
# Usage: scripts/bench-repo.sh [WORKDIR]   (default target/bench-repo; files are kept
# there between runs). Environment: TUFKIT (binary, default target/release/tufkit),
# FILES (default 100000), TARGETS (default 1000000), BITS (default 14).
#
# The numbers depend on the filesystem: ext4 creates files slowly for a while after
# many were deleted, so run it on a quiet machine and read the medians.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$root/target/bench-repo}
tufkit=${TUFKIT:-$root/target/release/tufkit}
files=${FILES:-100000}
targets=${TARGETS:-1000000}
bits=${BITS:-14}
export TUFKIT_NOW=${TUFKIT_NOW:-2030-01-01T00:00:00Z}

if [ ! -x "$tufkit" ]; then
    echo "build it first: cargo build --release -p tufkit-cli" >&2
    exit 1
fi
mkdir -p "$work"

# timed LABEL CMD...: runs CMD, prints wall seconds and peak RSS.
timed() {
    local label=$1
    shift
    local start end rss
    start=$(date +%s%N)
    /usr/bin/time -o "$work/.time" -f '%M' "$@" >/dev/null
    end=$(date +%s%N)
    rss=$(tail -1 "$work/.time")
    printf '%-52s %8d ms %7d MiB\n' "$label" $(( (end - start) / 1000000 )) $(( rss / 1024 ))
}

fresh() {
    # Workspaces are moved aside, not deleted, while measuring: on ext4, creating files
    # right after deleting many is much slower than usual.
    if [ -e "$1" ]; then
        mv "$1" "$work/trash.$RANDOM$RANDOM"
    fi
}

echo "== 1. build + sign $files targets from files"
src=$work/files-$files
if [ ! -f "$src/.complete" ]; then
    echo "   writing $files files (1 to 2 KiB) into $src"
    rm -rf "$src"
    mkdir -p "$src"
    python3 - "$src" "$files" <<'EOF'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    sub = os.path.join(d, "pkg-%03d" % (i // 1000))
    os.makedirs(sub, exist_ok=True)
    length = 1024 + (i * 97) % 1024
    with open(os.path.join(sub, "pkg-%06d.tar.gz" % i), "wb") as f:
        f.write(bytes(((j * (i | 1) + i) % 251) for j in range(length)))
open(os.path.join(d, ".complete"), "w").write(str(n))
EOF
fi
# Page cache warm, as for the runs below.
find "$src" -type f -name '*.tar.gz' -print0 | xargs -0 cat >/dev/null
timed "read + sha256 of the bytes alone (one thread)" python3 -c "
import hashlib, os, sys
for root, _, names in os.walk(sys.argv[1]):
    for n in names:
        if n.endswith('.tar.gz'):
            with open(os.path.join(root, n), 'rb') as f:
                hashlib.sha256(f.read()).digest()
" "$src"
ws=$work/build
fresh "$ws"
timed "tufkit init" "$tufkit" init "$ws"
sed -i 's/^hash_algorithms.*/hash_algorithms = ["sha256"]/' "$ws/tufkit.toml"
timed "tufkit add --from-dir ($files files)" "$tufkit" add "$ws" --from-dir "$src" -q
timed "tufkit publish" "$tufkit" publish "$ws" -q
"$tufkit" verify "$ws" 2>/dev/null | tail -1

echo "== 2. $targets targets in $((1 << bits)) succinct hashed bins"
ws=$work/bins
fresh "$ws"
"$tufkit" init "$ws" >/dev/null
"$tufkit" key generate --out "$ws/keys/bins.pem" >/dev/null
timed "tufkit delegate --succinct-bins $bits" \
    "$tufkit" delegate "$ws" --succinct-bins "$bits" --key "$ws/keys/bins.pem"
timed "tufkit publish (every bin, empty)" "$tufkit" publish "$ws" -q
manifest=$work/manifest-$targets.jsonl
if [ ! -f "$manifest" ]; then
    python3 - "$manifest" "$targets" <<'EOF'
import hashlib, json, sys
out, n = sys.argv[1], int(sys.argv[2])
with open(out, "w") as f:
    for i in range(n):
        p = "pkg-%d/pkg-%d-1.0.tar.gz" % (i, i)
        h = hashlib.sha256(p.encode()).hexdigest()
        f.write(json.dumps({"path": p, "length": 1000 + i % 5000, "hashes": {"sha256": h}}) + "\n")
EOF
fi
timed "tufkit add --manifest ($targets targets)" "$tufkit" add "$ws" --manifest "$manifest" -q
timed "tufkit publish ($targets targets)" "$tufkit" publish "$ws" -q
head -c 65536 /dev/urandom >"$work/new-target.tar.gz"
for i in 1 2 3; do
    timed "add 1 target (run $i): tufkit add" \
        "$tufkit" add "$ws" "$work/new-target.tar.gz" --as "new-pkg-$i/new-pkg-$i-1.0.tar.gz"
    timed "add 1 target (run $i): tufkit publish" "$tufkit" publish "$ws" -q
done
"$tufkit" verify "$ws" 2>/dev/null | tail -1
echo "(moved-aside workspaces: rm -rf $work/trash.*)"
