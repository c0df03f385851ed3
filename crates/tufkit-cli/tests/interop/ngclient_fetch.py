"""Downloads targets from a tufkit-published repository with python-tuf's ngclient.

Usage: ngclient_fetch.py METADATA_DIR ROOT_V1 BASE_URL OUT_DIR TARGET...

METADATA_DIR keeps the client's trusted metadata between runs (it is seeded with ROOT_V1
when it holds no root.json yet). Prints a JSON object: target path -> hex SHA-256 of the
downloaded file, or "error: ..." when python-tuf refused it.
"""

import hashlib
import json
import os
import shutil
import sys

from tuf.ngclient import Updater


def main() -> int:
    metadata_dir, root_v1, base_url, out_dir, *targets = sys.argv[1:]
    os.makedirs(metadata_dir, exist_ok=True)
    os.makedirs(out_dir, exist_ok=True)
    trusted = os.path.join(metadata_dir, "root.json")
    if not os.path.exists(trusted):
        shutil.copy(root_v1, trusted)
    updater = Updater(
        metadata_dir=metadata_dir,
        metadata_base_url=base_url + "/metadata/",
        target_base_url=base_url + "/targets/",
        target_dir=out_dir,
        # None: start from the cached root.json (seeded with ROOT_V1 above), as a
        # deployed client that keeps its trusted metadata between runs.
        bootstrap=None,
    )
    results = {}
    try:
        updater.refresh()
    except Exception as e:  # noqa: BLE001 - report any refusal to the Rust test
        print(json.dumps({"refresh": f"error: {type(e).__name__}: {e}"}))
        return 0
    for target in targets:
        try:
            info = updater.get_targetinfo(target)
            if info is None:
                results[target] = "error: not found"
                continue
            path = updater.download_target(info, os.path.join(out_dir, target.replace("/", "_")))
            with open(path, "rb") as f:
                results[target] = hashlib.sha256(f.read()).hexdigest()
        except Exception as e:  # noqa: BLE001
            results[target] = f"error: {type(e).__name__}: {e}"
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
