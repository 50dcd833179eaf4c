"""The fast path of YAML loading: libyaml's C parser and constructor, for plain documents.

``config.load_yaml`` walks PyYAML's node graph in Python to keep a line and column for
every value (~0.3-0.6 ms per agent file). History and sync parse every blob in a
repository's history but need those locations only when something is wrong, so they
try this loader first. It accepts exactly the documents on which it gives the same data
as ``load_yaml`` and returns ``None`` for everything else (an anchor used twice, a
tag, a duplicate or non-string key, a YAML 1.1 surprise such as ``yes``, ``0x1F`` or a
date, a non-finite float, deep nesting). The caller then runs ``load_yaml``, which
either accepts the document or raises the located error. A hypothesis test holds the two
loaders to that contract (tests/test_fastyaml.py).
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

from agentver import config
from agentver.errors import ConfigError

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# What load_yaml accepts as a plain number. Everything else that YAML 1.1 reads as a
# number (hex, octal, binary, sexagesimal, underscores, .inf/.nan) takes the slow path,
# where the rules about such values live.
_DECIMAL_INT = re.compile(r"[-+]?(?:0|[1-9][0-9]*)\Z")
_DECIMAL_FLOAT = re.compile(r"[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\Z")
_PLAIN_BOOLS = {"true", "false"}
_STR = "tag:yaml.org,2002:str"


class _Bail(Exception):
    """The document needs the located loader (to accept it or to explain why not)."""


class _FastLoader(_Loader):  # type: ignore[misc]
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0  # the located loader's depth and node limits, counted as we go
        self.nodes = 0

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        # An anchored node used again through an alias is already constructed: the
        # located loader expands (and caps) aliases, so let it decide.
        if node in self.constructed_objects:
            raise _Bail
        self.nodes += 1
        if self.depth > config.MAX_DEPTH or self.nodes > config.MAX_NODES:
            raise _Bail
        self.depth += 1
        try:
            return super().construct_object(node, deep=True)
        finally:
            self.depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[str, Any]:
        if not isinstance(node, yaml.MappingNode) or node.tag != "tag:yaml.org,2002:map":
            raise _Bail
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _STR:
                raise _Bail  # merge keys (<<), non-string keys
            key = key_node.value
            if key in out:
                raise _Bail  # duplicate key
            out[key] = self.construct_object(value_node, deep=True)
        return out

    def construct_yaml_map(self, node: Any) -> Any:
        yield self.construct_mapping(node)

    def construct_yaml_seq(self, node: Any) -> Any:
        if node.tag != "tag:yaml.org,2002:seq":
            raise _Bail
        yield [self.construct_object(child, deep=True) for child in node.value]

    def construct_yaml_int(self, node: Any) -> int:
        if not _DECIMAL_INT.match(node.value):
            raise _Bail
        return int(node.value)

    def construct_yaml_float(self, node: Any) -> float:
        value = float(node.value) if _DECIMAL_FLOAT.match(node.value) else math.inf
        if not math.isfinite(value):  # also 1.0e+999, which overflows to inf
            raise _Bail
        return value

    def construct_yaml_bool(self, node: Any) -> bool:
        text = str(node.value).lower()
        if text not in _PLAIN_BOOLS:
            raise _Bail
        return text == "true"

    def construct_bail(self, node: Any) -> Any:
        raise _Bail


for _tag in (
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:binary",
    "tag:yaml.org,2002:set",
    "tag:yaml.org,2002:omap",
    "tag:yaml.org,2002:pairs",
):
    _FastLoader.add_constructor(_tag, _FastLoader.construct_bail)
_FastLoader.add_constructor(None, _FastLoader.construct_bail)  # any unknown tag
_FastLoader.add_constructor("tag:yaml.org,2002:map", _FastLoader.construct_yaml_map)
_FastLoader.add_constructor("tag:yaml.org,2002:seq", _FastLoader.construct_yaml_seq)
_FastLoader.add_constructor("tag:yaml.org,2002:int", _FastLoader.construct_yaml_int)
_FastLoader.add_constructor("tag:yaml.org,2002:float", _FastLoader.construct_yaml_float)
_FastLoader.add_constructor("tag:yaml.org,2002:bool", _FastLoader.construct_yaml_bool)


def fast_load(raw: bytes) -> tuple[bool, Any]:
    """``(True, data)`` when the fast path can vouch for ``data``, else ``(False, None)``."""
    try:
        text = config.decode(raw, "")  # size, NUL, conflict markers, UTF-8
    except ConfigError:
        return False, None
    loader = _FastLoader(text)
    try:
        data = loader.get_single_data()
    except (_Bail, yaml.YAMLError, RecursionError, ValueError, TypeError):
        return False, None
    finally:
        loader.dispose()
    return True, data
