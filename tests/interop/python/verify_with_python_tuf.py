#!/usr/bin/env python3
"""Verifies TUF metadata written by another implementation (tufkit) with python-tuf.

Usage: verify_with_python_tuf.py DIR

DIR holds metadata files, FILE.canonical next to each (the bytes the writer says it
signed) and manifest.json in the format gen_vectors.py writes (see its
`write_manifest`). For every vector this prints one line per check:

  ok   parse      FILE                python-tuf's Metadata.from_bytes accepts it
  ok   canonical  FILE (raw)          securesystemslib's canonical encoding of the raw
                                      `signed` equals FILE.canonical
  ok   canonical  FILE (python-tuf)   python-tuf's CanonicalJSONSerializer of the parsed
                                      object equals FILE.canonical (nothing lost or changed)
  ok   signature  FILE by VERIFIER    VERIFIER.verify_delegate(role, ...) meets the threshold
  ok   rejected   FILE (REASON)       a vector expected to fail does fail

then walks python-tuf's client trust set (TrustedMetadataSet) through `walk` at the
manifest's reference time and runs every target search of `searches`.

Exits 1 on the first failed check, with a line starting "FAIL".
"""

from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path

try:
    from securesystemslib.formats import encode_canonical
    from securesystemslib.signer import Signature
    from tuf.api.exceptions import UnsignedMetadataError
    from tuf.api.metadata import Metadata, Targets
    from tuf.api.serialization.json import CanonicalJSONSerializer
    from tuf.ngclient._internal.trusted_metadata_set import TrustedMetadataSet
    from tuf.ngclient.config import EnvelopeType
except ImportError as exc:  # pragma: no cover - environment problem
    sys.exit(
        f"verify_with_python_tuf.py: cannot import python-tuf ({exc}). "
        "Run scripts/python-env.sh and use .venv/bin/python (or set TUFKIT_PYTHON)."
    )

MAX_DELEGATIONS = 32


class CheckFailed(Exception):
    pass


def ok(check: str, what: str) -> None:
    print(f"ok   {check:<10} {what}", flush=True)


def fail(check: str, what: str, why: str) -> CheckFailed:
    return CheckFailed(f"FAIL {check:<10} {what}: {why}")


def parse_time(s: str) -> datetime:
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def first_difference(a: bytes, b: bytes) -> str:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"first difference at byte {i}: {a[max(0, i - 20):i + 20]!r} vs {b[max(0, i - 20):i + 20]!r}"
    return f"lengths {len(a)} vs {len(b)}"


class Verifier:
    def __init__(self, root: Path):
        self.dir = root
        self.manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
        self.reference_time = parse_time(self.manifest["reference_time"])
        self.checks = 0
        self.skipped_roles: set[str] = set()

    def read(self, name: str) -> bytes:
        try:
            return (self.dir / name).read_bytes()
        except OSError as e:
            raise fail("read", name, str(e)) from e

    def load(self, name: str) -> Metadata:
        try:
            return Metadata.from_bytes(self.read(name))
        except CheckFailed:
            raise
        except Exception as e:  # python-tuf raises several types for bad metadata
            raise fail("parse", name, f"python-tuf cannot load it: {type(e).__name__}: {e}") from e

    def check_vector(self, v: dict) -> None:
        name, role, verdict = v["file"], v["role"], v["verdict"]
        raw = self.read(name)
        raw_dict = json.loads(raw)
        parses = v.get("python_tuf_parses", True)
        md = None
        if parses:
            md = self.load(name)
            if md.signed.type != v["type"]:
                raise fail("parse", name, f"_type is {md.signed.type}, manifest says {v['type']}")
            ok("parse", name)
            self.checks += 1

        # Canonical bytes: what the writer signed must be what python-tuf would sign.
        expected = self.read(v.get("canonical", name + ".canonical"))
        from_raw = encode_canonical(raw_dict["signed"]).encode("utf-8")
        if from_raw != expected:
            raise fail("canonical", f"{name} (raw)", first_difference(from_raw, expected))
        ok("canonical", f"{name} (raw)")
        self.checks += 1
        if md is not None:
            from_obj = CanonicalJSONSerializer().serialize(md.signed)
            if from_obj != expected:
                raise fail("canonical", f"{name} (python-tuf)", first_difference(from_obj, expected))
            ok("canonical", f"{name} (python-tuf)")
            self.checks += 1
            payload, signatures = md.signed_bytes, md.signatures
        else:
            payload = from_raw
            signatures = {s["keyid"]: Signature.from_dict(dict(s)) for s in raw_dict["signatures"]}

        reason = v.get("reason")
        sig_errors = []
        for verifier_file in v["verified_by"]:
            delegator = self.load(verifier_file)
            try:
                delegator.signed.verify_delegate(role, payload, signatures)
                if verdict == "accept" or reason != "signature":
                    ok("signature", f"{name} by {verifier_file}")
                    self.checks += 1
            except UnsignedMetadataError as e:
                sig_errors.append(f"{verifier_file}: {e}")
            except ValueError as e:  # role not delegated by this verifier
                sig_errors.append(f"{verifier_file}: {e}")

        if verdict == "accept":
            if sig_errors:
                raise fail("signature", name, "; ".join(sig_errors))
            if md is not None and md.signed.is_expired(self.reference_time):
                raise fail("expires", name, f"expired at the reference time {self.reference_time}")
        elif reason == "signature":
            if not sig_errors:
                raise fail("rejected", name, "expected a signature failure, but the threshold was met")
            ok("rejected", f"{name} (signature: {sig_errors[0]})")
            self.checks += 1
        elif reason == "expired":
            if md is None or not md.signed.is_expired(self.reference_time):
                raise fail("rejected", name, "expected to be expired at the reference time")
            ok("rejected", f"{name} (expired)")
            self.checks += 1
        else:
            raise fail("manifest", name, f"unknown verdict/reason {verdict}/{reason}")

    def walk(self) -> TrustedMetadataSet | None:
        """Loads `walk` into python-tuf's client trust set at the reference time."""
        steps = self.manifest.get("walk", [])
        if not steps:
            return None
        tms = None
        for step in steps:
            name, role, delegator = step["file"], step["role"], step["delegator"]
            if not step.get("python_tuf_parses", True):
                self.skipped_roles.add(role)
                print(f"skip walk       {name} (python-tuf cannot read it; see the manifest)")
                continue
            data = self.read(name)
            try:
                if tms is None:
                    if role != "root":
                        raise ValueError("the walk must start with a root")
                    tms = TrustedMetadataSet(data, EnvelopeType.METADATA)
                    # TrustedMetadataSet takes the wall clock; tests use a fixed time.
                    tms.reference_time = self.reference_time
                elif role == "root":
                    tms.update_root(data)
                elif role == "timestamp":
                    tms.update_timestamp(data)
                elif role == "snapshot":
                    tms.update_snapshot(data)
                elif role == "targets":
                    tms.update_targets(data)
                else:
                    tms.update_delegated_targets(data, role, delegator)
            except Exception as e:
                raise fail("walk", name, f"python-tuf's client rejects it as {role}: {type(e).__name__}: {e}") from e
            ok("walk", f"{name} as {role} (delegated by {delegator})")
            self.checks += 1
        return tms

    def search(self, tms: TrustedMetadataSet, s: dict) -> None:
        """Pre-order depth-first search over the trusted roles (spec 5.6.7)."""
        path, want_role = s["target"], s["role"]
        stack = [("targets", "root")]
        visited = set()
        found = None
        while stack and len(visited) < MAX_DELEGATIONS:
            role, parent = stack.pop()
            if role in visited:
                continue
            visited.add(role)
            if role in self.skipped_roles and want_role == role:
                print(f"skip search     {path!a} (its role {role} is not readable by python-tuf)")
                return
            if role not in tms:
                raise fail("search", ascii(path), f"role {role} is on the search path but not in the walk")
            md: Targets = tms[role]
            if path in md.targets:
                found = (role, md.targets[path])
                break
            if md.delegations is None:
                continue
            children = []
            for child, terminating in md.delegations.get_roles_for_target(path):
                children.append((child, role))
                if terminating:
                    stack.clear()
                    break
            stack.extend(reversed(children))
        if want_role is None:
            if found is not None:
                raise fail("search", ascii(path), f"expected no result, found in {found[0]}")
            ok("search", f"{path!a} not found, as expected")
        else:
            if found is None:
                raise fail("search", ascii(path), f"not found; expected in {want_role}")
            role, tf = found
            if role != want_role or tf.length != s["length"] or tf.hashes != s["hashes"]:
                raise fail("search", ascii(path), f"found in {role} with length {tf.length} hashes {tf.hashes}; "
                                                 f"expected {want_role}, {s['length']}, {s['hashes']}")
            ok("search", f"{path!a} found in {role}")
        self.checks += 1

    def run(self) -> None:
        print(f"verifying {self.dir} with python-tuf at {self.manifest['reference_time']}"
              f" (written by {self.manifest.get('generator', 'unknown')})")
        for v in self.manifest["vectors"]:
            self.check_vector(v)
        tms = self.walk()
        for s in self.manifest.get("searches", []):
            if tms is None:
                raise fail("search", s["target"], "the manifest has searches but no walk")
            self.search(tms, s)


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: verify_with_python_tuf.py DIR", file=sys.stderr)
        return 2
    v = Verifier(Path(sys.argv[1]))
    try:
        v.run()
    except CheckFailed as e:
        print(e, flush=True)
        print(f"python-tuf verification of {sys.argv[1]} FAILED after {v.checks} passing checks", flush=True)
        return 1
    print(f"all {v.checks} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
