#!/usr/bin/env python3
"""Publishes a complete TUF repository with python-tuf's Metadata API, for the
tufkit-peers interop tests (tests/peers/tests/python_repo.rs).

Usage: peer_make_repo.py OUTDIR [--stage N]

Stage 1 (the default) writes a fresh repository into OUTDIR:

* metadata/1.root.json and metadata/2.root.json. Root v1 expires before the reference
  time (only the final root of a chain must be unexpired). Root v2 adds two root keys,
  raises the root threshold from 1 to 2 and replaces the timestamp key; it is signed by
  the old root key and by both new ones.
* metadata/timestamp.json, metadata/1.snapshot.json, metadata/1.targets.json and one
  `1.ROLE.json` per delegated role (consistent snapshots):
  - top-level targets lists two targets and delegates by `paths` to
    `pkgs` ("pkgs/*/*"), `release.v2` ("release/v2/*", threshold 2 of two keys) and
    `hashed` ("bins/*");
  - `pkgs` delegates "pkgs/nightly/*" to `pkgs.nightly` (terminating);
  - `hashed` delegates with TAP 15 `succinct_roles` to 8 bins `bin-0` .. `bin-7`; the
    targets bins/file-NN.txt are spread over several of them (every bin is published,
    empty ones too).
* targets/{dirs/}{sha256}.{basename} for every target, and a sha512-prefixed copy of
  the targets whose metadata lists sha512 too (spec 5.7.2).
* keys/NAME.pem: every private key (PKCS#8), so that stage 2 can sign with them.
* manifest.json (see `write_manifest`).

Keys are ed25519, ecdsa (P-256) and rsa (RSASSA-PSS, 2048 bits) across the roles.

Stage 2 (`--stage 2`, on an OUTDIR written by stage 1) publishes an update: a new
target in a bin that already holds targets, that bin at version 2, snapshot v2,
timestamp v2 and root v3 (drops one root key and replaces the snapshot key). Everything
else stays as it was, so a client that updated at stage 1 fetches only what changed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

try:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        load_pem_private_key,
    )
    from securesystemslib.signer import CryptoSigner
    from tuf.api.metadata import (
        DelegatedRole,
        Delegations,
        Metadata,
        MetaFile,
        Root,
        Snapshot,
        SuccinctRoles,
        TargetFile,
        Targets,
        Timestamp,
    )
    from tuf.api.serialization.json import JSONSerializer
except ImportError as exc:  # pragma: no cover - environment problem
    sys.exit(
        f"peer_make_repo.py: cannot import python-tuf ({exc}). "
        "Run scripts/python-env.sh and use .venv/bin/python (or set TUFKIT_PYTHON)."
    )

REFERENCE_TIME = "2030-06-01T00:00:00Z"
EXPIRES = datetime(2040, 1, 1, tzinfo=timezone.utc)
# Root v1 is expired at the reference time: intermediate roots may be (spec 5.3.10).
ROOT_V1_EXPIRES = datetime(2030, 1, 1, tzinfo=timezone.utc)
SERIALIZER = JSONSerializer(compact=False)
BIN_PREFIX = "bin"
BIT_LENGTH = 3
BIN_TARGETS = [f"bins/file-{i:02}.txt" for i in range(12)]
# Roles whose snapshot entry also lists length and hashes (the rest: version only).
SNAPSHOT_HASHED = {"targets", "pkgs"}


def content(path: str, stage: int) -> bytes:
    return f"{path}: published by python-tuf at stage {stage}\n".encode()


class Repo:
    """Keys, signed metadata bytes and targets of the repository being written."""

    def __init__(self, out: Path):
        self.out = out
        self.meta_dir = out / "metadata"
        self.targets_dir = out / "targets"
        self.keys_dir = out / "keys"
        self.signers: dict[str, CryptoSigner] = {}
        self.manifest: dict = {}

    # Keys.
    def new_signer(self, name: str, kind: str) -> CryptoSigner:
        """A fresh key of `kind` (default scheme: ed25519, ecdsa-sha2-nistp256,
        rsassa-pss-sha256), also saved as keys/NAME.pem (PKCS#8)."""
        private = {
            "ed25519": ed25519.Ed25519PrivateKey.generate,
            "ecdsa": lambda: ec.generate_private_key(ec.SECP256R1()),
            "rsa": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
        }[kind]()
        pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        self.keys_dir.mkdir(parents=True, exist_ok=True)
        (self.keys_dir / f"{name}.pem").write_bytes(pem)
        signer = CryptoSigner(private)
        self.signers[name] = signer
        return signer

    def load_signers(self, keyids: dict[str, str]) -> None:
        for name, keyid in keyids.items():
            private = load_pem_private_key((self.keys_dir / f"{name}.pem").read_bytes(), None)
            signer = CryptoSigner(private)
            if signer.public_key.keyid != keyid:
                sys.exit(f"peer_make_repo.py: keys/{name}.pem does not match keyid {keyid}")
            self.signers[name] = signer

    def key(self, name: str):
        return self.signers[name].public_key

    def keyid(self, name: str) -> str:
        return self.signers[name].public_key.keyid

    # Metadata.
    def write(self, md: Metadata, file: str, signers: list[str]) -> bytes:
        """Signs `md` with the named keys and writes it as metadata/FILE; returns the
        exact bytes written (snapshot and timestamp hash these bytes)."""
        md.signatures.clear()
        for name in signers:
            md.sign(self.signers[name], append=True)
        data = md.to_bytes(SERIALIZER)
        self.meta_dir.mkdir(parents=True, exist_ok=True)
        (self.meta_dir / file).write_bytes(data)
        return data

    def write_role(self, md: Metadata, role: str, signers: list[str]) -> MetaFile:
        """Writes a targets role as V.ROLE.json; returns its snapshot entry."""
        data = self.write(md, f"{md.signed.version}.{role}.json", signers)
        if role in SNAPSHOT_HASHED:
            return MetaFile(
                md.signed.version,
                len(data),
                {"sha256": hashlib.sha256(data).hexdigest()},
            )
        return MetaFile(md.signed.version)

    def publish_snapshot(self, meta: dict[str, MetaFile], version: int, key: str) -> None:
        snapshot = Metadata(Snapshot(version=version, expires=EXPIRES, meta=meta))
        data = self.write(snapshot, f"{version}.snapshot.json", [key])
        snap_meta = MetaFile(
            version,
            len(data),
            {"sha256": hashlib.sha256(data).hexdigest()},
        )
        timestamp = Metadata(
            Timestamp(version=version, expires=EXPIRES, snapshot_meta=snap_meta)
        )
        self.write(timestamp, "timestamp.json", ["timestamp-b"])

    # Targets.
    def target(self, role: str, path: str, stage: int, algorithms: list[str]) -> TargetFile:
        """Stores a target file under every listed hash prefix and records it."""
        data = content(path, stage)
        tf = TargetFile.from_data(path, data, algorithms)
        tf.unrecognized_fields["custom"] = {"role": role, "stage": stage}
        dirs, _, base = path.rpartition("/")
        folder = self.targets_dir / dirs if dirs else self.targets_dir
        folder.mkdir(parents=True, exist_ok=True)
        for digest in tf.hashes.values():
            (folder / f"{digest}.{base}").write_bytes(data)
        self.manifest.setdefault("targets", []).append(
            {
                "path": path,
                "role": role,
                "content": data.decode(),
                "length": tf.length,
                "hashes": tf.hashes,
                "stage": stage,
            }
        )
        return tf


def targets_md(version: int = 1) -> Metadata:
    return Metadata(Targets(version=version, expires=EXPIRES))


def stage_one(repo: Repo) -> None:
    kinds = {
        "root-a": "ed25519",
        "root-b": "ecdsa",
        "root-c": "rsa",
        "timestamp-a": "ecdsa",
        "timestamp-b": "ed25519",
        "snapshot": "rsa",
        "targets": "ed25519",
        "pkgs": "ecdsa",
        "nightly": "rsa",
        "release-1": "ed25519",
        "release-2": "ecdsa",
        "hashed": "ed25519",
        "bins": "ecdsa",
    }
    for name, kind in kinds.items():
        repo.new_signer(name, kind)

    # Root v1: one root key; root v2: three root keys, threshold 2, new timestamp key.
    root = Metadata(Root(expires=ROOT_V1_EXPIRES, consistent_snapshot=True))
    root.signed.add_key(repo.key("root-a"), "root")
    root.signed.add_key(repo.key("timestamp-a"), "timestamp")
    root.signed.add_key(repo.key("snapshot"), "snapshot")
    root.signed.add_key(repo.key("targets"), "targets")
    repo.write(root, "1.root.json", ["root-a"])
    root.signed.version = 2
    root.signed.expires = EXPIRES
    root.signed.add_key(repo.key("root-b"), "root")
    root.signed.add_key(repo.key("root-c"), "root")
    root.signed.roles["root"].threshold = 2
    root.signed.revoke_key(repo.keyid("timestamp-a"), "timestamp")
    root.signed.add_key(repo.key("timestamp-b"), "timestamp")
    repo.write(root, "2.root.json", ["root-a", "root-b", "root-c"])

    meta: dict[str, MetaFile] = {}
    both = ["sha256", "sha512"]

    # Succinct hash bins under `hashed`.
    succinct = SuccinctRoles([], 1, BIT_LENGTH, BIN_PREFIX)
    hashed = targets_md()
    hashed.signed.delegations = Delegations(keys={}, succinct_roles=succinct)
    hashed.signed.add_key(repo.key("bins"))
    bins = {name: targets_md() for name in succinct.get_roles()}
    for i, path in enumerate(BIN_TARGETS):
        name = succinct.get_role_for_target(path)
        bins[name].signed.targets[path] = repo.target(
            name, path, 1, both if i % 2 else ["sha256"]
        )
    filled = sorted(n for n, md in bins.items() if md.signed.targets)
    if len(filled) < 4:
        sys.exit(f"peer_make_repo.py: bin targets fill only {filled}; pick other names")
    for name, md in bins.items():
        meta[f"{name}.json"] = repo.write_role(md, name, ["bins"])
    meta["hashed.json"] = repo.write_role(hashed, "hashed", ["hashed"])

    # Path delegations, one of them nested.
    nightly = targets_md()
    nightly.signed.targets["pkgs/nightly/build-7.tar.gz"] = repo.target(
        "pkgs.nightly", "pkgs/nightly/build-7.tar.gz", 1, ["sha256"]
    )
    meta["pkgs.nightly.json"] = repo.write_role(nightly, "pkgs.nightly", ["nightly"])

    pkgs = targets_md()
    pkgs.signed.targets["pkgs/a/b.tar.gz"] = repo.target("pkgs", "pkgs/a/b.tar.gz", 1, both)
    pkgs.signed.delegations = Delegations(
        keys={},
        roles={
            "pkgs.nightly": DelegatedRole(
                "pkgs.nightly", [], 1, True, paths=["pkgs/nightly/*"]
            )
        },
    )
    pkgs.signed.add_key(repo.key("nightly"), "pkgs.nightly")
    meta["pkgs.json"] = repo.write_role(pkgs, "pkgs", ["pkgs"])

    release = targets_md()
    release.signed.targets["release/v2/app.bin"] = repo.target(
        "release.v2", "release/v2/app.bin", 1, both
    )
    meta["release.v2.json"] = repo.write_role(
        release, "release.v2", ["release-1", "release-2"]
    )

    top = targets_md()
    for path, algorithms in [("hello.txt", both), ("docs/guide/intro.md", ["sha256"])]:
        top.signed.targets[path] = repo.target("targets", path, 1, algorithms)
    top.signed.delegations = Delegations(
        keys={},
        roles={
            "pkgs": DelegatedRole("pkgs", [], 1, False, paths=["pkgs/*/*"]),
            "release.v2": DelegatedRole("release.v2", [], 2, False, paths=["release/v2/*"]),
            "hashed": DelegatedRole("hashed", [], 1, False, paths=["bins/*"]),
        },
    )
    top.signed.add_key(repo.key("pkgs"), "pkgs")
    top.signed.add_key(repo.key("release-1"), "release.v2")
    top.signed.add_key(repo.key("release-2"), "release.v2")
    top.signed.add_key(repo.key("hashed"), "hashed")
    meta["targets.json"] = repo.write_role(top, "targets", ["targets"])

    repo.publish_snapshot(meta, 1, "snapshot")
    versions = {name.removesuffix(".json"): mf.version for name, mf in meta.items()}
    repo.manifest.update(
        {
            "stage": 1,
            "root_version": 2,
            "versions": {**versions, "snapshot": 1, "timestamp": 1},
            "bins": {"delegator": "hashed", "prefix": BIN_PREFIX, "bit_length": BIT_LENGTH},
            "filled_bins": filled,
            "changed_roles": [],
        }
    )


def stage_two(repo: Repo) -> None:
    previous = json.loads((repo.out / "manifest.json").read_text())
    if previous.get("stage") != 1:
        sys.exit("peer_make_repo.py --stage 2 needs an OUTDIR written by stage 1")
    repo.manifest = previous
    repo.load_signers(previous["keys"])
    repo.new_signer("snapshot-2", "ed25519")

    # Root v3: root keys a and b (threshold 2, signed by both: meets v2's and v3's
    # thresholds), and a new snapshot key.
    root = Metadata.from_file(str(repo.meta_dir / "2.root.json"))
    root.signed.version = 3
    root.signed.revoke_key(repo.keyid("root-c"), "root")
    root.signed.revoke_key(repo.keyid("snapshot"), "snapshot")
    root.signed.add_key(repo.key("snapshot-2"), "snapshot")
    repo.write(root, "3.root.json", ["root-a", "root-b"])

    # A new target in a bin that already holds targets.
    filled = previous["filled_bins"]
    succinct = SuccinctRoles([], 1, BIT_LENGTH, BIN_PREFIX)
    new_path = next(
        p
        for p in (f"bins/new-{k}.txt" for k in range(1000))
        if succinct.get_role_for_target(p) == filled[0]
    )
    bin_name = filled[0]
    old_version = previous["versions"][bin_name]
    md = Metadata.from_file(str(repo.meta_dir / f"{old_version}.{bin_name}.json"))
    md.signed.version = old_version + 1
    md.signed.targets[new_path] = repo.target(bin_name, new_path, 2, ["sha256", "sha512"])

    snapshot_file = repo.meta_dir / f"{previous['versions']['snapshot']}.snapshot.json"
    snapshot = Metadata.from_file(str(snapshot_file))
    meta = dict(snapshot.signed.meta)
    meta[f"{bin_name}.json"] = repo.write_role(md, bin_name, ["bins"])
    version = snapshot.signed.version + 1
    repo.publish_snapshot(meta, version, "snapshot-2")
    repo.manifest.update(
        {
            "stage": 2,
            "root_version": 3,
            "changed_roles": [bin_name],
            "new_target": new_path,
        }
    )
    repo.manifest["versions"].update(
        {bin_name: old_version + 1, "snapshot": version, "timestamp": version}
    )


def write_manifest(repo: Repo) -> None:
    """manifest.json: reference_time (UTC, when all metadata is valid), initial_root
    (the root to bootstrap a client with), stage, root_version (the newest root),
    versions (current version of every role but root), bins (the succinct delegation:
    delegator, prefix, bit_length), filled_bins (bins holding stage-1 targets),
    changed_roles (targets roles updated by the latest stage), new_target (stage 2),
    keys (key name -> keyid; private keys in keys/NAME.pem), and targets: every target
    with path, role, content (UTF-8), length, hashes and the stage that added it."""
    repo.manifest["reference_time"] = REFERENCE_TIME
    repo.manifest["initial_root"] = "metadata/1.root.json"
    repo.manifest["keys"] = {name: s.public_key.keyid for name, s in repo.signers.items()}
    (repo.out / "manifest.json").write_text(json.dumps(repo.manifest, indent=1, sort_keys=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--stage", type=int, choices=[1, 2], default=1)
    args = parser.parse_args()
    repo = Repo(args.outdir)
    if args.stage == 1:
        stage_one(repo)
    else:
        stage_two(repo)
    write_manifest(repo)
    print(f"peer_make_repo.py: stage {args.stage} written to {args.outdir}")


if __name__ == "__main__":
    main()
