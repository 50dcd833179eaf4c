"""What history knows about each agent blob (its hash, validity, why not), cached on disk.

A blob id never changes content, so an entry is never invalidated. Entries are sharded
by the first hex digit of the blob id (16 JSON files): a command that meets one new
blob (a sync after one commit) reads and rewrites one shard (~1,000 entries, ~2 ms, at
17,000 blobs), not an index of every blob ever seen, and a cold history of one agent
writes at most 16 files (256 shards cost ~0.2 ms a file, 130 files for 180 blobs:
docs/benchmarks.md). The cache is an optimisation only: a missing,
unreadable or malformed shard is a miss, and a read-only ``.git`` is not an error.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class BlobInfo:
    config_hash: str | None
    valid: bool  # schema and storable (policies depend on the commit, not the blob)
    error: str | None  # why the blob is not a version ("line 3, col 1: ...")
    problems: tuple[str, ...] = ()  # why it is not valid


SHARD_DIGITS = 1  # hex digits of the blob id that name its shard


class BlobCache:
    """BlobInfo by blob id under ``root`` (one folder per schema and rules version)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _shard(self, name: str) -> dict[str, Any]:
        try:
            data = json.loads((self.root / f"{name}.json").read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, blobs: Iterable[str]) -> dict[str, BlobInfo]:
        """The cached facts of those of ``blobs`` seen before."""
        by_shard: dict[str, list[str]] = {}
        for blob in blobs:
            by_shard.setdefault(blob[:SHARD_DIGITS], []).append(blob)
        found: dict[str, BlobInfo] = {}
        for name, wanted in by_shard.items():
            shard = self._shard(name)
            for blob in wanted:
                values: Any = shard.get(blob)
                try:
                    found[blob] = BlobInfo(values[0], values[1], values[2], tuple(values[3]))
                except (TypeError, IndexError, KeyError):
                    continue  # absent or not what this code wrote: a miss
        return found

    def put(self, infos: Mapping[str, BlobInfo]) -> None:
        """Add entries (merged into what each shard holds on disk now)."""
        by_shard: dict[str, list[str]] = {}
        for blob in infos:
            by_shard.setdefault(blob[:SHARD_DIGITS], []).append(blob)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            for name, blobs in by_shard.items():
                shard = self._shard(name)
                for blob in blobs:
                    info = infos[blob]
                    shard[blob] = [info.config_hash, info.valid, info.error, list(info.problems)]
                write_cache_file(self.root / f"{name}.json", json.dumps(shard))
        except OSError:
            pass  # an optimisation: a read-only .git must not fail a command


def write_cache_file(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (no fsync: a cache, not a record)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
