#!/usr/bin/env python3
"""Writes TUF metadata made and signed by python-tuf, for tufkit's interop test.

Usage: gen_vectors.py OUTDIR

OUTDIR receives, for every key type python-tuf signs with (ed25519, ecdsa P-256 under
the keytype "ecdsa" and the legacy keytype "ecdsa-sha2-nistp256", rsa rsassa-pss-sha256):

* a small repository: 1.root.json, 2.root.json (rotated root signed by old and new
  keys), timestamp.json, snapshot.json, targets.json, delegated roles with `paths`
  (role-a), `path_hash_prefixes` (role-b), a TAP 15 `succinct_roles` delegator (hashed)
  with two of its bins, and role-frac, built by hand because python-tuf drops the
  fractional seconds of `expires`;
* rejected variants (reject-*.json) with the reason they must fail;
* FILE.canonical next to each FILE: the canonical JSON bytes of `signed` that python-tuf
  (securesystemslib's encoder) signed;
* keys/*.pem: PKCS#8 private keys of the three kinds for tufkit to sign with (RSA key
  generation is not available in tufkit);
* manifest.json, which describes all of the above (see `write_manifest`).

Target paths and custom values hold non-NFC Unicode, control characters, emoji, CJK,
quotes and backslashes, and unknown fields sit at every level that allows them.
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

try:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )
    from securesystemslib.formats import encode_canonical
    from securesystemslib.signer import CryptoSigner, SSlibKey
    from tuf.api.metadata import (
        DelegatedRole,
        Delegations,
        Metadata,
        MetaFile,
        Role,
        Root,
        Snapshot,
        SuccinctRoles,
        TargetFile,
        Targets,
        Timestamp,
    )
except ImportError as exc:  # pragma: no cover - environment problem
    sys.exit(
        f"gen_vectors.py: cannot import python-tuf ({exc}). "
        "Run scripts/python-env.sh and use .venv/bin/python (or set TUFKIT_PYTHON)."
    )

SPEC_VERSION = "1.0.31"
# Every accepted vector is valid at this time; reject-timestamp.expired.json is not.
REFERENCE_TIME = "2030-06-01T00:00:00Z"
EXPIRES = datetime(2040, 1, 1, tzinfo=timezone.utc)
EXPIRED = datetime(2030, 1, 1, tzinfo=timezone.utc)
FRACTIONAL_EXPIRES = "2040-01-01T00:00:00.123456Z"
HASH_ALGORITHMS = ["sha256", "sha512"]

# Strings that canonical JSON must carry byte for byte.
NON_NFC = "e\u0301"  # "e" + COMBINING ACUTE ACCENT, NFC would make it U+00E9
CONTROL = "\u0001\n\t"
AWKWARD = 'quote" back\\slash'
EMOJI_CJK = "\U0001f600 \u4e2d\u6587"


def signer_ed25519() -> CryptoSigner:
    return CryptoSigner.generate_ed25519()


def signer_ecdsa(legacy_keytype: bool = False) -> CryptoSigner:
    """An ECDSA P-256 signer; with `legacy_keytype` its key says keytype
    "ecdsa-sha2-nistp256" (as old python-tuf wrote) instead of "ecdsa"."""
    if not legacy_keytype:
        return CryptoSigner.generate_ecdsa()
    private = ec.generate_private_key(ec.SECP256R1())
    modern = SSlibKey.from_crypto(private.public_key(), scheme="ecdsa-sha2-nistp256")
    keyval = dict(modern.keyval)
    keytype = scheme = "ecdsa-sha2-nistp256"
    keyid = hashlib.sha256(
        encode_canonical({"keytype": keytype, "scheme": scheme, "keyval": keyval}).encode()
    ).hexdigest()
    return CryptoSigner(private, SSlibKey(keyid, keytype, scheme, keyval))


def signer_rsa(size: int = 2048) -> CryptoSigner:
    return CryptoSigner.generate_rsa(size=size)


def with_unknown_fields(signer: CryptoSigner, owner: str) -> CryptoSigner:
    """Adds unrecognized fields to the signer's public key and its keyval."""
    key = signer.public_key
    key.unrecognized_fields["x-tufkit-keyowner"] = owner
    key.keyval["x-tufkit-keyval-note"] = "kept as is"
    return signer


def target(path: str, custom: object | None = None, extra: dict | None = None) -> TargetFile:
    data = ("content of " + path).encode("utf-8")
    tf = TargetFile.from_data(path, data, HASH_ALGORITHMS)
    if custom is not None:
        tf.unrecognized_fields["custom"] = custom
    if extra:
        tf.unrecognized_fields.update(extra)
    return tf


class Writer:
    """Signs and writes metadata files and collects their manifest entries."""

    def __init__(self, out: Path):
        self.out = out
        self.vectors: list[dict] = []
        self.walk: list[dict] = []
        self.bytes_of: dict[str, bytes] = {}

    def write(self, name: str, md: Metadata, signers: list[CryptoSigner]) -> bytes:
        for s in signers:
            md.sign(s, append=True)
        raw = md.to_bytes()
        canonical = md.signed_bytes
        # python-tuf's objects and the raw dict must agree on what was signed.
        from_raw = encode_canonical(json.loads(raw)["signed"]).encode("utf-8")
        if from_raw != canonical:
            sys.exit(f"gen_vectors.py: {name}: python-tuf's canonical bytes differ from the raw dict's")
        self._save(name, raw, canonical)
        return raw

    def write_raw(self, name: str, signed: dict, signers: list[CryptoSigner]) -> bytes:
        """Signs a hand-built `signed` dict (for what python-tuf would not write)."""
        canonical = encode_canonical(signed).encode("utf-8")
        sigs = [s.sign(canonical).to_dict() for s in signers]
        # ensure_ascii=False: this file carries raw UTF-8, the others \\u escapes.
        raw = (json.dumps({"signed": signed, "signatures": sigs}, indent=2, ensure_ascii=False)).encode("utf-8")
        self._save(name, raw, canonical)
        return raw

    def _save(self, name: str, raw: bytes, canonical: bytes) -> None:
        (self.out / name).write_bytes(raw)
        (self.out / (name + ".canonical")).write_bytes(canonical)
        self.bytes_of[name] = raw
        print(f"wrote {name} ({len(raw)} bytes)")

    def vector(self, name: str, role: str, type_: str, delegator: str, verified_by: list[str],
               verdict: str = "accept", reason: str | None = None, after: str | None = None,
               python_tuf_parses: bool = True) -> None:
        entry = {
            "file": name,
            "canonical": name + ".canonical",
            "role": role,
            "type": type_,
            "delegator": delegator,
            "verified_by": verified_by,
            "verdict": verdict,
            "reference_time": REFERENCE_TIME,
            "python_tuf_parses": python_tuf_parses,
        }
        if reason:
            entry["reason"] = reason
        if after:
            entry["after"] = after
        self.vectors.append(entry)
        if verdict == "accept":
            self.walk.append({"file": name, "role": role, "delegator": delegator,
                              "python_tuf_parses": python_tuf_parses})

    def meta(self, name: str, version: int, length: bool = True, hashes: bool = True,
             extra: dict | None = None) -> MetaFile:
        """Snapshot/timestamp entry for the file `name` written earlier."""
        raw = self.bytes_of[name]
        mf = MetaFile.from_data(version, raw, HASH_ALGORITHMS) if hashes else MetaFile(version)
        if length:
            mf.length = len(raw)
        if extra:
            mf.unrecognized_fields.update(extra)
        return mf


def two_paths_in_distinct_bins(succinct: SuccinctRoles) -> list[str]:
    """Two target paths (one with an emoji) that the succinct delegation puts in different bins."""
    first = "bins/\U0001f600.txt"
    first_bin = succinct.get_role_for_target(first)
    for i in range(1000):
        other = f"bins/file-{i}.txt"
        if succinct.get_role_for_target(other) != first_bin:
            return [first, other]
    raise RuntimeError("no second bin found")


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: gen_vectors.py OUTDIR")
    out = Path(sys.argv[1])
    (out / "keys").mkdir(parents=True, exist_ok=True)
    w = Writer(out)

    # Keys: every kind signs something, root needs all of them.
    root_ed_old, root_ed_new = signer_ed25519(), signer_ed25519()
    # 3072 bits is python-tuf's default RSA size; the other RSA keys use 2048 for speed.
    root_ec, root_rsa = signer_ecdsa(), signer_rsa(3072)
    ts_ec_legacy = signer_ecdsa(legacy_keytype=True)
    snap_rsa = signer_rsa()
    targets_ed = with_unknown_fields(signer_ed25519(), "Zo\u00eb \u2603")
    role_a_ec, role_b_rsa = signer_ecdsa(), signer_rsa()
    frac_ed, hashed_ed = signer_ed25519(), signer_ed25519()
    bins_ec_legacy, bins_ed = signer_ecdsa(legacy_keytype=True), signer_ed25519()

    # --- root v1 and v2 -------------------------------------------------------------
    def make_root(version: int, root_keys: list[CryptoSigner]) -> Root:
        root = Root(
            version=version,
            spec_version=SPEC_VERSION,
            expires=EXPIRES,
            consistent_snapshot=True,
            unrecognized_fields={"x-tufkit-signed-note": {"text": NON_NFC + CONTROL + AWKWARD, "n": [1, -2]}},
        )
        for name in ("root", "timestamp", "snapshot", "targets"):
            root.roles[name].unrecognized_fields["x-tufkit-role-note"] = f"{name} {EMOJI_CJK}"
        root.roles["root"].threshold = 3
        for s in root_keys:
            root.add_key(s.public_key, "root")
        root.add_key(ts_ec_legacy.public_key, "timestamp")
        root.add_key(snap_rsa.public_key, "snapshot")
        root.add_key(targets_ed.public_key, "targets")
        return root

    w.write("1.root.json", Metadata(make_root(1, [root_ed_old, root_ec, root_rsa])),
            [root_ed_old, root_ec, root_rsa])
    w.vector("1.root.json", "root", "root", "root", ["1.root.json"])
    # 2.root.json replaces the old ed25519 root key: it is signed by the old and the new
    # root keys, so both thresholds (old root's and its own) are met.
    w.write("2.root.json", Metadata(make_root(2, [root_ed_new, root_ec, root_rsa])),
            [root_ed_old, root_ed_new, root_ec, root_rsa])
    w.vector("2.root.json", "root", "root", "root", ["1.root.json", "2.root.json"])
    # Signed by the new keys only: the old root's threshold (3 of 3) is not met.
    w.write("reject-2.root.only-new-keys.json", Metadata(make_root(2, [root_ed_new, root_ec, root_rsa])),
            [root_ed_new, root_ec, root_rsa])
    w.vector("reject-2.root.only-new-keys.json", "root", "root", "root", ["1.root.json"],
             verdict="reject", reason="signature", after="1.root.json")

    # --- delegated roles (written first: snapshot lists their hashes) ---------------
    role_a = Targets(
        version=2, spec_version=SPEC_VERSION, expires=EXPIRES,
        targets={p: target(p, {"path-again": p}) for p in (
            "a/plain.txt",
            f"unicode/{NON_NFC}/caf\u00e9.txt",
            "unicode/\U0001f600/\u4e2d\u6587.txt",
            "glob/v1x.txt",
        )},
    )
    w.write("role-a.json", Metadata(role_a), [role_a_ec])

    hashed_target = "b/hashed.txt"
    role_b = Targets(version=1, spec_version=SPEC_VERSION, expires=EXPIRES,
                     targets={hashed_target: target(hashed_target)},
                     unrecognized_fields={"x-tufkit-delegated-note": AWKWARD})
    w.write("role-b.json", Metadata(role_b), [role_b_rsa])
    # Same content signed by a key the delegation does not list.
    role_b_wrong = Targets(version=1, spec_version=SPEC_VERSION, expires=EXPIRES,
                           targets={hashed_target: target(hashed_target)},
                           unrecognized_fields={"x-tufkit-delegated-note": AWKWARD})
    w.write("reject-role-b.wrong-key.json", Metadata(role_b_wrong), [role_a_ec])

    # python-tuf truncates `expires` to whole seconds and cannot read fractions, so this
    # role is built as a plain dict and signed over securesystemslib's canonical form.
    frac_path = "frac/" + NON_NFC + CONTROL.replace("\n", "") + ".bin"
    frac_data = ("content of " + frac_path).encode("utf-8")
    frac_signed = {
        "_type": "targets",
        "spec_version": SPEC_VERSION,
        "version": 1,
        "expires": FRACTIONAL_EXPIRES,
        "targets": {
            frac_path: {
                "length": len(frac_data),
                "hashes": {alg: hashlib.new(alg, frac_data).hexdigest() for alg in HASH_ALGORITHMS},
                "custom": {"raw utf-8": EMOJI_CJK, "ctl": CONTROL, "awkward": AWKWARD},
            }
        },
        "x-tufkit-built-by-hand": True,
    }
    w.write_raw("role-frac.json", frac_signed, [frac_ed])

    succinct = SuccinctRoles(keyids=[], threshold=2, bit_length=4, name_prefix="bin",
                             unrecognized_fields={"x-tufkit-succinct-note": NON_NFC})
    bin_paths = two_paths_in_distinct_bins(succinct)
    hashed = Targets(version=4, spec_version=SPEC_VERSION, expires=EXPIRES,
                     delegations=Delegations(keys={}, succinct_roles=succinct))
    hashed.add_key(bins_ec_legacy.public_key)
    hashed.add_key(bins_ed.public_key)
    w.write("hashed.json", Metadata(hashed), [hashed_ed])
    bin_names = []
    for p in bin_paths:
        bin_name = succinct.get_role_for_target(p)
        bin_names.append(bin_name)
        bin_md = Targets(version=1, spec_version=SPEC_VERSION, expires=EXPIRES,
                         targets={p: target(p, {"bin": bin_name})})
        w.write(f"{bin_name}.json", Metadata(bin_md), [bins_ec_legacy, bins_ed])

    # --- top-level targets -----------------------------------------------------------
    top_targets = {
        f"{NON_NFC}.txt": target(f"{NON_NFC}.txt", {
            "note": f"caf{NON_NFC} {AWKWARD}",
            "ctl": CONTROL,
            "emoji": EMOJI_CJK,
            "nested": {"z": [1, -2, {"\u4e2d\u6587": True}], "a": None, NON_NFC: "key not NFC"},
            # Code point order puts U+FF61 before U+1F600; UTF-16 order would not.
            "order": {"\uff61": 1, "\U0001f600": 2, "Z": 3, "a": 4},
        }, extra={"x-tufkit-target-note": "unknown field in a target"}),
        "ctl/a\u0001b\nc\td.bin": target("ctl/a\u0001b\nc\td.bin", CONTROL),
        'quote"and\\backslash.txt': target('quote"and\\backslash.txt', [AWKWARD, 0]),
    }
    roles = {
        "role-a": DelegatedRole("role-a", [role_a_ec.public_key.keyid], 1, False,
                                paths=["a/*", "unicode/*/*", "glob/v[0-9]?.t*"],
                                unrecognized_fields={"x-tufkit-role-note": "\u00fcn\u00efcode"}),
        "role-b": DelegatedRole("role-b", [role_b_rsa.public_key.keyid], 1, False,
                                path_hash_prefixes=[hashlib.sha256(hashed_target.encode()).hexdigest()[:4]]),
        "role-frac": DelegatedRole("role-frac", [frac_ed.public_key.keyid], 1, True, paths=["frac/*"]),
        "hashed": DelegatedRole("hashed", [hashed_ed.public_key.keyid], 1, True, paths=["bins/*"]),
    }
    keys = {s.public_key.keyid: s.public_key for s in (role_a_ec, role_b_rsa, frac_ed, hashed_ed)}
    targets = Targets(
        version=3, spec_version=SPEC_VERSION, expires=EXPIRES, targets=top_targets,
        delegations=Delegations(keys=keys, roles=roles,
                                unrecognized_fields={"x-tufkit-delegations-note": CONTROL}),
        unrecognized_fields={"x-tufkit-signed-note": [NON_NFC, EMOJI_CJK]},
    )
    w.write("targets.json", Metadata(targets), [targets_ed])

    # --- snapshot and timestamp -------------------------------------------------------
    snapshot = Snapshot(version=5, spec_version=SPEC_VERSION, expires=EXPIRES, meta={
        "targets.json": w.meta("targets.json", 3, extra={"x-tufkit-meta-note": AWKWARD}),
        "role-a.json": w.meta("role-a.json", 2, hashes=False),
        # Version only: a client then rejects reject-role-b.wrong-key.json by its signature.
        "role-b.json": w.meta("role-b.json", 1, length=False, hashes=False),
        "role-frac.json": w.meta("role-frac.json", 1),
        "hashed.json": w.meta("hashed.json", 4, length=False),
        **{f"{b}.json": w.meta(f"{b}.json", 1) for b in bin_names},
    })
    w.write("snapshot.json", Metadata(snapshot), [snap_rsa])
    timestamp = Timestamp(version=7, spec_version=SPEC_VERSION, expires=EXPIRES,
                          snapshot_meta=w.meta("snapshot.json", 5))
    w.write("timestamp.json", Metadata(timestamp), [ts_ec_legacy])
    expired_ts = Timestamp(version=7, spec_version=SPEC_VERSION, expires=EXPIRED,
                           snapshot_meta=w.meta("snapshot.json", 5))
    w.write("reject-timestamp.expired.json", Metadata(expired_ts), [ts_ec_legacy])

    # Manifest entries in the order a client loads them.
    w.vector("timestamp.json", "timestamp", "timestamp", "root", ["2.root.json"])
    w.vector("reject-timestamp.expired.json", "timestamp", "timestamp", "root", ["2.root.json"],
             verdict="reject", reason="expired", after="2.root.json")
    w.vector("snapshot.json", "snapshot", "snapshot", "root", ["2.root.json"])
    w.vector("targets.json", "targets", "targets", "root", ["2.root.json"])
    w.vector("role-a.json", "role-a", "targets", "targets", ["targets.json"])
    w.vector("role-b.json", "role-b", "targets", "targets", ["targets.json"])
    w.vector("reject-role-b.wrong-key.json", "role-b", "targets", "targets", ["targets.json"],
             verdict="reject", reason="signature", after="targets.json")
    w.vector("role-frac.json", "role-frac", "targets", "targets", ["targets.json"],
             python_tuf_parses=False)
    w.vector("hashed.json", "hashed", "targets", "targets", ["targets.json"])
    for b in bin_names:
        w.vector(f"{b}.json", b, "targets", "hashed", ["hashed.json"])

    # Where a client's search must find each target.
    searches = [(p, "targets", top_targets[p]) for p in top_targets]
    searches += [(p, "role-a", role_a.targets[p]) for p in role_a.targets]
    searches.append((hashed_target, "role-b", role_b.targets[hashed_target]))
    searches += [(p, n, None) for p, n in zip(bin_paths, bin_names)]
    search_entries = []
    for path, role, tf in searches:
        if tf is None:
            tf = target(path)
        search_entries.append({"target": path, "role": role, "length": tf.length, "hashes": tf.hashes})
    search_entries.append({"target": frac_path, "role": "role-frac", "length": len(frac_data),
                           "hashes": frac_signed["targets"][frac_path]["hashes"]})
    # Not delegated anywhere: the search must come back empty.
    search_entries.append({"target": "nowhere/" + NON_NFC, "role": None})
    # Matches no glob of role-a ("v[0-9]?" needs a digit first).
    search_entries.append({"target": "glob/vx1.txt", "role": None})
    # The NFC spelling of a listed non-NFC path is another path: not found.
    search_entries.append({"target": "\u00e9.txt", "role": None})

    # Private keys for tufkit to sign with (PKCS#8 PEM, unencrypted, test use only).
    private_keys, public_keys = {}, {}
    for kind, signer in (("ed25519", signer_ed25519()), ("ecdsa", signer_ecdsa()), ("rsa", signer_rsa())):
        rel = f"keys/{kind}.pem"
        (out / rel).write_bytes(signer.private_bytes)
        private_keys[kind] = rel
        public_keys[kind] = {"keyid": signer.public_key.keyid, "key": signer.public_key.to_dict()}

    write_manifest(out, w, search_entries, private_keys, public_keys)


def write_manifest(out: Path, w: Writer, searches: list[dict], private_keys: dict,
                   public_keys: dict) -> None:
    """manifest.json:

    generator        what wrote the vectors
    reference_time   time at which the accepted vectors are valid
    vectors[]        file, canonical (bytes of `signed` that were signed), role, type,
                     delegator (role that delegates to it), verified_by (files whose keys
                     must verify it: the delegator's metadata; both roots for a rotated
                     root), verdict (accept/reject), reason (reject: signature/expired),
                     after (reject: last accepted file a client has loaded when it meets
                     this one), python_tuf_parses (false for hand-built vectors)
    walk[]           accepted files in client load order with role, delegator and
                     python_tuf_parses
    searches[]       target path, role that must provide it (null: not found), length, hashes
    private_keys     PEM PKCS#8 private keys by kind, relative to OUTDIR
    public_keys      their public keys by kind as securesystemslib writes them, with the
                     keyid it computes (SHA-256 of the canonical key)
    """
    from importlib.metadata import version

    manifest = {
        "generator": f"python-tuf {version('tuf')}, securesystemslib {version('securesystemslib')}, "
                     f"cryptography {version('cryptography')}",
        "reference_time": REFERENCE_TIME,
        "vectors": w.vectors,
        "walk": w.walk,
        "searches": searches,
        "private_keys": private_keys,
        "public_keys": public_keys,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    print(f"wrote manifest.json ({len(w.vectors)} vectors, {len(searches)} searches)")


if __name__ == "__main__":
    main()
