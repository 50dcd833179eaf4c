"""Compiled JSON Schema checks for hot loops (history and sync validate every version).

``jsonschema`` explains *why* a document fails, with paths that ``validate`` turns into
located messages; that costs ~0.2 ms per agent file. History and sync only need a yes
or no for thousands of files, so they ask a validator that ``fastjsonschema`` compiles
from the same schema file (~2 us per file). The schema stays the one source of truth; a
hypothesis test holds the two validators to the same answers (tests/test_fastschema.py).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

Check = Callable[[Any], bool]


@lru_cache(maxsize=4)
def compiled_check(schema_json: str) -> Check:
    """A yes/no validator for the schema given as its JSON text (hashable, hence cached)."""
    import json

    import fastjsonschema

    validate = fastjsonschema.compile(json.loads(schema_json))
    error = fastjsonschema.JsonSchemaException

    def check(data: Any) -> bool:
        try:
            validate(data)
        except error:
            return False
        return True

    return check
