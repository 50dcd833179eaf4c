"""The fast path of YAML loading: libyaml's C parser and composer, for plain documents.

``config.load_yaml`` walks PyYAML's node graph in Python to keep a line and column for
every value (~0.3-0.6 ms per agent file). History and sync parse every blob in a
repository's history but need those locations only when something is wrong, so they
try this loader first. It accepts exactly the documents on which it gives the same data
as ``load_yaml`` and returns ``None`` for everything else (an anchor used twice, a
tag, a duplicate or non-string key, a YAML 1.1 surprise such as ``yes``, ``0x1F`` or a
date, a non-finite float, deep nesting). The caller then runs ``load_yaml``, which
either accepts the document or raises the located error. A hypothesis test holds the two
loaders to that contract (tests/test_fastyaml.py). The data is built by a direct walk of
libyaml's node graph (``_Builder``), half the cost of PyYAML's constructor (issue 16).
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


_MAP, _SEQ = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_INT, _FLOAT = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_BOOL, _NULL = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"
_DEFAULT_TAG = {yaml.ScalarNode: _STR, yaml.SequenceNode: _SEQ, yaml.MappingNode: _MAP}
# PyYAML's implicit resolvers by first character ("" for the empty scalar), each list
# with the wildcard ones appended, as BaseResolver.resolve consults them.
_WILDCARD = tuple(_Loader.yaml_implicit_resolvers.get(None, []))
_IMPLICIT = {
    first: (*resolvers, *_WILDCARD)
    for first, resolvers in _Loader.yaml_implicit_resolvers.items()
    if first is not None
}
assert not _Loader.yaml_path_resolvers  # _Composer.resolve ignores path resolvers


class _Composer(_Loader):  # type: ignore[misc]
    """libyaml parses and composes the node graph (C); the resolver hooks the composer
    calls per node are trimmed to what BaseResolver.resolve does when no path resolvers
    are registered (the same tags, without ~1 us of bookkeeping per node). The data is
    built by ``_build``, not by PyYAML's constructor."""

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode and implicit[0]:
            for tag, regexp in _IMPLICIT.get(value[:1], _WILDCARD):
                if regexp.match(value):
                    return str(tag)
        return _DEFAULT_TAG[kind]


class _Builder:
    """The plain data of a node graph, or _Bail wherever the located loader might differ:
    a node reached twice (an alias: the located loader expands and caps aliases), a tag
    other than str/int/float/bool/null/map/seq, a non-string or duplicate key (merge keys
    included), a YAML 1.1 number or boolean spelling, a non-finite float, or a document
    beyond the located loader's depth and node limits."""

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.nodes = 0

    def build(self, node: Any, depth: int) -> Any:
        if id(node) in self.seen:
            raise _Bail
        self.seen.add(id(node))
        self.nodes += 1
        if depth > config.MAX_DEPTH or self.nodes > config.MAX_NODES:
            raise _Bail
        tag = node.tag
        if tag == _STR:
            if not isinstance(node, yaml.ScalarNode):
                raise _Bail
            return node.value
        if tag == _MAP:
            if not isinstance(node, yaml.MappingNode):
                raise _Bail
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag != _STR or not isinstance(key_node, yaml.ScalarNode):
                    raise _Bail  # merge keys (<<), non-string keys
                if id(key_node) in self.seen:
                    raise _Bail
                self.seen.add(id(key_node))
                key = key_node.value
                if key in out:
                    raise _Bail  # duplicate key
                out[key] = self.build(value_node, depth + 1)
            return out
        if tag == _SEQ:
            if not isinstance(node, yaml.SequenceNode):
                raise _Bail
            return [self.build(child, depth + 1) for child in node.value]
        if not isinstance(node, yaml.ScalarNode):
            raise _Bail
        text = node.value
        if tag == _INT and _DECIMAL_INT.match(text):
            return int(text)
        if tag == _FLOAT and _DECIMAL_FLOAT.match(text):
            value = float(text)
            if math.isfinite(value):  # not 1.0e+999, which overflows to inf
                return value
        elif tag == _BOOL and text.lower() in _PLAIN_BOOLS:
            return text.lower() == "true"
        elif tag == _NULL:
            return None
        raise _Bail  # timestamps, binary, sets, explicit or unknown tags, 0x1F, yes, ...


def fast_load(raw: bytes) -> tuple[bool, Any]:
    """``(True, data)`` when the fast path can vouch for ``data``, else ``(False, None)``."""
    try:
        text = config.decode(raw, "")  # size, NUL, conflict markers, UTF-8
    except ConfigError:
        return False, None
    composer = _Composer(text)
    try:
        node = composer.get_single_node()
        data = None if node is None else _Builder().build(node, 0)
    except (_Bail, yaml.YAMLError, RecursionError, ValueError, TypeError):
        return False, None
    finally:
        composer.dispose()
    return True, data
