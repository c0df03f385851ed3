#!/usr/bin/env python3
"""python-tuf repository build for tufkit-bench: every file of a directory as a target.

Builds root, targets (one entry per file, sha256), snapshot and timestamp with
python-tuf's Metadata API, signs each with its own fresh ed25519 key, and writes a
consistent-snapshot repository (VERSION.ROLE.json metadata, canonical JSON, and the
target files hard-linked as targets/HASH.NAME). Prints the time spent hashing the files
the time spent on the metadata (build, sign, write) and the time spent linking the
target files into place, as one JSON line.

Usage: bench-python-build.py --files DIR --out DIR
"""

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone

from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import (
    TOP_LEVEL_ROLE_NAMES,
    MetaFile,
    Metadata,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

EXPIRES = datetime(2099, 1, 1, tzinfo=timezone.utc)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    names = sorted(n for n in os.listdir(args.files) if not n.startswith("."))
    start = time.perf_counter()
    targets = Targets(expires=EXPIRES)
    for name in names:
        targets.targets[name] = TargetFile.from_file(
            name, os.path.join(args.files, name), ["sha256"]
        )
    hashed = time.perf_counter()

    serializer = JSONSerializer(compact=True)
    meta_dir = os.path.join(args.out, "metadata")
    target_dir = os.path.join(args.out, "targets")
    os.makedirs(meta_dir, exist_ok=True)
    os.makedirs(target_dir, exist_ok=True)
    signers = {role: CryptoSigner.generate_ed25519() for role in TOP_LEVEL_ROLE_NAMES}

    root = Root(expires=EXPIRES, consistent_snapshot=True)
    for role, signer in signers.items():
        root.add_key(signer.public_key, role)

    def publish(signed, name):
        md = Metadata(signed)
        md.sign(signers[signed.type])
        data = md.to_bytes(serializer)
        with open(os.path.join(meta_dir, name), "wb") as f:
            f.write(data)
        return data

    targets_bytes = publish(targets, "1.targets.json")
    snapshot = Snapshot(expires=EXPIRES)
    snapshot.meta["targets.json"] = MetaFile(version=1, length=len(targets_bytes))
    snapshot_bytes = publish(snapshot, "1.snapshot.json")
    timestamp = Timestamp(expires=EXPIRES)
    timestamp.snapshot_meta = MetaFile(version=1, length=len(snapshot_bytes))
    publish(timestamp, "timestamp.json")
    publish(root, "1.root.json")
    signed = time.perf_counter()
    for name, info in targets.targets.items():
        digest = info.hashes["sha256"]
        os.link(os.path.join(args.files, name), os.path.join(target_dir, f"{digest}.{name}"))
    done = time.perf_counter()

    print(
        json.dumps(
            {
                "hash_seconds": hashed - start,
                "metadata_seconds": signed - hashed,
                "link_seconds": done - signed,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
