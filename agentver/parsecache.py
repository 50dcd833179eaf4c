"""Parsed data of small YAML files (settings, pointers), keyed by a digest of their bytes.

Warm read commands then never import or run the YAML parser. Only documents that parsed
*and* passed their semantic checks are stored, so an error is always reported from a
fresh parse with its line and column. Deleting the file changes no output.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from agentver import __version__

_MAX_ENTRIES = 4096


class ParseCache:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._data: dict[str, Any] | None = None

    def _entries(self) -> dict[str, Any]:
        if self._data is None:
            self._data = {}
            if self.path is not None:
                try:
                    loaded = json.loads(self.path.read_text("utf-8"))
                    if isinstance(loaded, dict):
                        self._data = loaded
                except (OSError, ValueError):
                    pass
        return self._data

    @staticmethod
    def key(raw: bytes) -> str:
        # The version is part of the key: a newer agentver re-checks everything once.
        return f"{__version__}:{hashlib.sha256(raw).hexdigest()}"

    def get(self, raw: bytes) -> Any:
        return self._entries().get(self.key(raw))

    def put(self, raw: bytes, data: Any) -> None:
        entries = self._entries()
        key = self.key(raw)
        if self.path is None or entries.get(key) == data:
            return
        entries[key] = data
        while len(entries) > _MAX_ENTRIES:
            entries.pop(next(iter(entries)))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".parsed-", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(entries, handle, separators=(",", ":"))
            os.replace(tmp, self.path)
        except OSError:
            pass  # an optimisation only


NO_CACHE = ParseCache(None)
