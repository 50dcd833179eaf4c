"""Safe, located YAML loading for agent files and ``agentver.yaml``.

PyYAML composes the node graph (with the C parser when available); this module turns
nodes into plain Python values itself so that it can keep a line and column for every
key and value, reject duplicate keys, cap depth and alias expansion, and refuse the
YAML 1.1 surprises (dates, ``yes``/``no``) that silently change what a config means.
``read_file`` is the one way such a file is read from disk; ``agentver.jsonload`` is the
same loader for JSON (the ``--metrics`` file).
"""

from __future__ import annotations

import math
import os
import re
import stat
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentver.errors import ConfigError, NotFound, UsageError

if TYPE_CHECKING:  # PyYAML is imported on first parse: warm commands never need it
    import yaml

MAX_BYTES = 1024 * 1024  # an agent file is a few KB; 1 MiB is generous
MAX_DEPTH = 64
MAX_NODES = 100_000  # nodes visited after alias expansion (stops "billion laughs")
# Characters of scalar text built after alias expansion: a 500 KB string aliased a
# thousand times is a few nodes but a 500 MB value. This is the memory guard; the
# tighter limit on what may be *stored* is agentver.storable.MAX_EXPANDED_BYTES.
MAX_EXPANDED_CHARS = 8 * MAX_BYTES

Path_ = tuple[str | int, ...]


def _loader_class() -> Any:
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


_CONFLICT = re.compile(rb"^(<{7}(?: |$)|={7}\s*$|>{7}(?: |$))", re.MULTILINE)
_YAML11_BOOLS = {"yes", "no", "on", "off", "y", "n"}
_STR = "tag:yaml.org,2002:str"
_KNOWN_SCALAR_TAGS = {
    _STR,
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
}


@dataclass(frozen=True)
class Loaded:
    """A parsed document with the location of every key and value."""

    path: str
    data: Any
    text: str
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    plain_scalars: dict[Path_, str] = field(default_factory=dict)  # unquoted source text
    # explicit tags in the source ("!!str", "!!int", "!foo"), as (line, col, tag): the
    # loader gives them their YAML meaning so history can still hash an old file, and
    # agentver.storable reports them (docs/design.md section 8: plain scalars only)
    tags: tuple[tuple[int, int, str], ...] = ()

    def locate(self, key_path: Path_, *, key: bool = False) -> tuple[int, int]:
        """Line and column of a value (or its key); the nearest enclosing node if unknown."""
        table = self.keys if key else self.values
        probe = tuple(key_path)
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), (1, 1))


def read_file(path: os.PathLike[str] | str, shown: str) -> bytes:
    """The bytes of a regular file of at most ``MAX_BYTES``; anything else is exit 2.

    Opened non-blocking and checked with fstat, so a FIFO or a device is refused instead
    of hanging the command, and at most ``MAX_BYTES + 1`` bytes are ever read (a 10 GB
    file is not loaded into memory to be refused). ``shown`` names it in messages.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise NotFound(f"{shown} does not exist") from None
    except OSError as exc:
        raise UsageError(f"cannot read {shown}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise UsageError(f"{shown} is a directory, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(
                f"{shown} is not a regular file (a FIFO, socket or device); refusing to read it"
            )
        if info.st_size > MAX_BYTES:
            raise ConfigError(f"file is {info.st_size:,} bytes; the limit is {MAX_BYTES:,}", shown)
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_BYTES:  # the file may grow after fstat: stop past the limit
            chunk = os.read(fd, MAX_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise UsageError(f"cannot read {shown}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def decode(raw: bytes, path: str) -> str:
    """Bytes to text, refusing what would make every later message misleading."""
    if len(raw) > MAX_BYTES:
        raise ConfigError(
            f"file is {len(raw):,} bytes; the limit is {MAX_BYTES:,}",
            path,
            hint="an agent config is a few kilobytes: is this the right file?",
        )
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        col = nul - (raw.rfind(b"\n", 0, nul) + 1) + 1
        raise ConfigError("file contains a NUL byte (binary file?)", path, line, col)
    # The substring tests first: the multi-line regex costs ~5 us a file, and history
    # decodes every file of a repository's history (issue 16).
    markers = b"<<<<<<<" in raw or b"=======" in raw or b">>>>>>>" in raw
    conflict = _CONFLICT.search(raw) if markers else None
    if conflict:
        line = raw.count(b"\n", 0, conflict.start()) + 1
        raise ConfigError(
            "unresolved merge conflict marker",
            path,
            line,
            1,
            hint="resolve the conflict, then remove the <<<<<<< / ======= / >>>>>>> lines",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError("file is not valid UTF-8", path, line, 1) from None
    return text.removeprefix("\ufeff")


def load_yaml(raw: bytes, path: str) -> Loaded:
    """Parse one YAML document safely; every failure is a located ``ConfigError``."""
    import yaml

    text = decode(raw, path)
    try:
        node = _loader_class()(text).get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        hint = None
        # libyaml does not name the tab; look at the character it stopped on.
        lines = text.split("\n")
        at_line = lines[line - 1] if 0 < line <= len(lines) else ""
        if "\t" in at_line[: col + 1] or "'\\t'" in problem:
            hint = "YAML does not allow tabs for indentation; use spaces"
        elif "another document" in problem:
            hint = "one file holds one agent: remove the second '---' document"
        raise ConfigError(f"invalid YAML: {problem}", path, line, col, hint) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {exc}", path) from None
    except RecursionError:
        raise ConfigError(f"document nests deeper than {MAX_DEPTH} levels", path) from None
    if node is None:
        return Loaded(path, None, text)
    builder = _Builder(path)
    data = builder.build(node, (), 0)
    tags = _explicit_tags(text) if "!" in text else ()
    return Loaded(path, data, text, builder.values, builder.keys, builder.plain, tags)


def _explicit_tags(text: str) -> tuple[tuple[int, int, str], ...]:
    """Every explicit tag in a document that composed fine (so parsing cannot fail).

    The composed node does not say whether its tag was written or resolved (``!!int 12``
    and ``12`` compose alike); the parser's events do. Only text containing a "!" pays
    for this second, event-level pass.
    """
    import yaml

    found: list[tuple[int, int, str]] = []
    for event in yaml.parse(text, Loader=_loader_class()):
        tag = getattr(event, "tag", None)
        implicit = getattr(event, "implicit", True)
        # a collection's implicit flag is a bool, a scalar's a pair (plain, quoted)
        written = tag is not None and (implicit is False or implicit == (False, False))
        mark = event.start_mark
        if written and mark is not None:
            found.append((mark.line + 1, mark.column + 1, str(tag)))
    return tuple(found)


class _Builder:
    def __init__(self, path: str) -> None:
        self.path = path
        self.visited = 0
        self.chars = 0
        self.values: dict[Path_, tuple[int, int]] = {}
        self.keys: dict[Path_, tuple[int, int]] = {}
        self.plain: dict[Path_, str] = {}
        import yaml

        self.yaml = yaml
        self.constructor = _loader_class()("")

    def fail(self, node: yaml.Node, message: str, hint: str | None = None) -> ConfigError:
        mark = node.start_mark
        return ConfigError(message, self.path, mark.line + 1, mark.column + 1, hint)

    def build(self, node: yaml.Node, key_path: Path_, depth: int) -> Any:
        self.visited += 1
        if self.visited > MAX_NODES:
            raise self.fail(
                node,
                f"document expands to more than {MAX_NODES:,} nodes (alias bomb?)",
                "agent configs do not need anchors and aliases; write the values out",
            )
        if depth > MAX_DEPTH:
            raise self.fail(node, f"document nests deeper than {MAX_DEPTH} levels")
        self.values.setdefault(key_path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, self.yaml.MappingNode):
            return self.mapping(node, key_path, depth)
        if isinstance(node, self.yaml.SequenceNode):
            if node.tag != "tag:yaml.org,2002:seq":
                raise self.fail(node, f"unsupported tag {node.tag}")
            return [
                self.build(item, (*key_path, i), depth + 1) for i, item in enumerate(node.value)
            ]
        return self.scalar(node, key_path)

    def mapping(self, node: yaml.MappingNode, key_path: Path_, depth: int) -> dict[str, Any]:
        if node.tag != "tag:yaml.org,2002:map":
            raise self.fail(node, f"unsupported tag {node.tag}")
        out: dict[str, Any] = {}
        first_seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise self.fail(key_node, "merge keys (<<) are not supported; write the keys out")
            if not isinstance(key_node, self.yaml.ScalarNode) or key_node.tag != _STR:
                shown = key_node.value if isinstance(key_node, self.yaml.ScalarNode) else "?"
                raise self.fail(
                    key_node,
                    f"key {shown!s} is not a string",
                    f'quote it: "{shown}"' if isinstance(key_node, self.yaml.ScalarNode) else None,
                )
            key = str(key_node.value)
            if key in first_seen:
                raise self.fail(
                    key_node,
                    f"duplicate key {key!r} (first defined on line {first_seen[key]})",
                    "remove one of the two; YAML would silently keep only the last",
                )
            first_seen[key] = key_node.start_mark.line + 1
            child = (*key_path, key)
            self.keys[child] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = self.build(value_node, child, depth + 1)
        return out

    def scalar(self, node: yaml.Node, key_path: Path_) -> Any:
        tag = node.tag
        if tag not in _KNOWN_SCALAR_TAGS:
            raise self.fail(
                node,
                f"unsupported tag {tag}",
                "only plain YAML values are allowed (no !!python or custom tags)",
            )
        text = str(node.value)
        self.chars += len(text)
        if self.chars > MAX_EXPANDED_CHARS:
            raise self.fail(
                node,
                f"document expands to more than {MAX_EXPANDED_CHARS:,} characters through aliases",
                "agent configs do not need anchors and aliases; write the values out",
            )
        plain = getattr(node, "style", None) in (None, "")
        if plain:
            self.plain[key_path] = text
        if tag == "tag:yaml.org,2002:timestamp":
            raise self.fail(node, f"{text} is read as a date", f'quote it: "{text}"')
        if tag == "tag:yaml.org,2002:bool" and text.lower() in _YAML11_BOOLS:
            word = "true" if text.lower() in {"yes", "on", "y"} else "false"
            raise self.fail(
                node,
                f"{text} is read as the boolean {word} (YAML 1.1)",
                f'write {word} for a boolean, or quote it: "{text}"',
            )
        try:
            value = self.constructor.construct_object(node, deep=True)
        except self.yaml.YAMLError as exc:
            raise self.fail(node, f"invalid value {_shown(text)}: {exc}") from None
        except (ValueError, TypeError, KeyError, OverflowError):
            # an explicit tag on text it cannot convert (`!!int abc`, `!!bool maybe`),
            # or an integer too long for Python to read
            kind = tag.rsplit(":", 1)[-1]
            raise self.fail(
                node,
                f"{_shown(text)} cannot be read as a YAML {kind}",
                "remove the tag and quote the text, or write a plain number",
            ) from None
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail(node, f"{text} is not a finite number", f'quote it: "{text}"')
        if isinstance(value, int) and not isinstance(value, bool):
            try:
                str(value)  # a 5,000-digit hex integer cannot be written in decimal (JSON)
            except ValueError:
                raise self.fail(node, "integer is too large to read", "quote it") from None
        return value


def _shown(text: str) -> str:
    """A scalar's text for a message, shortened: the value may be a megabyte."""
    return repr(text if len(text) <= 40 else text[:37] + "...")
