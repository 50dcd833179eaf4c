"""The floor for a cold sync: what git, libyaml and sha256 alone need for one history.

    python -m bench.floor [REPO] [--agents-dir agents]

One ``git log --first-parent --raw`` pass over the agents folder, one
``git cat-file --batch`` for every distinct blob it names, then libyaml's C loader and
the canonical sha256 (docs/design.md, "Canonical hash") of every blob. No validation, no
version numbering, no store: anything agentver does beyond this is overhead, and
bench/bench_sync.py reports cold sync as a ratio to this figure, measured in the same run.
Prints one JSON line with the time of each step in milliseconds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time

import yaml

HASHED = ("system_prompt", "model", "temperature", "max_tokens", "tools", "guardrails")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", nargs="?", default=".")
    parser.add_argument("--agents-dir", default="agents")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    log = subprocess.run(
        [
            "git",
            "log",
            "--first-parent",
            "--raw",
            "--no-abbrev",
            "--format=%H",
            "--",
            args.agents_dir,
        ],
        cwd=args.repo,
        capture_output=True,
        check=True,
    ).stdout
    logged = time.perf_counter()
    blobs = {line.split()[3] for line in log.splitlines() if line.startswith(b":")}
    blobs.discard(b"0" * 40)
    batch = subprocess.run(
        ["git", "cat-file", "--batch"],
        cwd=args.repo,
        input=b"".join(blob + b"\n" for blob in blobs),
        capture_output=True,
        check=True,
    ).stdout
    read = time.perf_counter()
    pos = 0
    hashed = 0
    while pos < len(batch):
        end = batch.index(b"\n", pos)
        size = int(batch[pos:end].split()[2])
        data = yaml.load(batch[end + 1 : end + 1 + size], Loader=yaml.CSafeLoader)
        pos = end + 1 + size + 1
        if not isinstance(data, dict):
            continue
        obj = {
            "system_prompt": data.get("system_prompt"),
            "model": data.get("model"),
            "temperature": float(data.get("temperature", 0.7)),
            "max_tokens": data.get("max_tokens", 4096),
            "tools": sorted(data.get("tools") or []),
            "guardrails": data.get("guardrails") or {},
        }
        if data.get("params"):
            obj["params"] = data["params"]
        hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()
        hashed += 1
    done = time.perf_counter()
    json.dump(
        {
            "git_log_ms": (logged - start) * 1000,
            "cat_file_ms": (read - logged) * 1000,
            "parse_hash_ms": (done - read) * 1000,
            "total_ms": (done - start) * 1000,
            "blobs": len(blobs),
            "hashed": hashed,
        },
        sys.stdout,
    )
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
