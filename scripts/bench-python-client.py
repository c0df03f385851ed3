#!/usr/bin/env python3
"""python-tuf client run for tufkit-bench: refresh, look up one target, download it.

Mirrors `tufkit-bench client`: the metadata directory holds the trusted root.json (cold
run) or the metadata of an earlier run (warm run); the target is reused from the
download directory when a verified copy is there, else downloaded.

Usage: bench-python-client.py --metadata-url URL --targets-url URL --dir METADATA_DIR
                              [--download-dir DIR] TARGET
"""

import argparse
import os
import sys

from tuf.ngclient import Updater


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metadata-url", required=True)
    parser.add_argument("--targets-url", required=True)
    parser.add_argument("--dir", required=True, help="local metadata directory with root.json")
    parser.add_argument("--download-dir")
    parser.add_argument("target")
    args = parser.parse_args()

    downloads = args.download_dir or os.path.join(args.dir, "..", "downloads")
    os.makedirs(downloads, exist_ok=True)
    updater = Updater(
        metadata_dir=args.dir,
        metadata_base_url=args.metadata_url,
        target_dir=downloads,
        target_base_url=args.targets_url,
        # The trust anchor is root.json in the metadata directory, as for tufkit.
        bootstrap=None,
    )
    updater.refresh()
    info = updater.get_targetinfo(args.target)
    if info is None:
        print(f"error: target {args.target!r} not found", file=sys.stderr)
        return 2
    path = updater.find_cached_target(info)
    if path is None:
        path = updater.download_target(info)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
