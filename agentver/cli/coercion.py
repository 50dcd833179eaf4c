"""Cheap parameter coercion for Typer's plain parameter types.

Typer 0.29 coerces every non-boolean parameter through a pydantic ``TypeAdapter``, which
costs each command 60-150 ms of pydantic imports and schema building before it starts;
a bare Typer app without parameters never pays it. For the plain types our commands use
(``str``, ``bool``, ``int`` without bounds, ``Path``, ``list[str]``,
enums) coercion is trivial, so it is done here;
anything else (bounded numbers, files, tuples...) still goes through Typer's own path.

Safety against other Typer releases: ``install`` first checks the exact shape it relies
on (``RuntimeParam`` a dataclass whose fields are ``parameter_info`` and ``annotation``,
an abstract ``_coerce_value(value, param, ctx)``, ``_TyperParameter.get_runtime_param``
with a ``_runtime_param`` slot and a ``type_descriptor``). If any of it differs, it
patches nothing and Typer behaves as shipped (only slower). A parameter whose shortcut
cannot be built also falls back to Typer. tests/test_coercion.py compares the shortcut
with Typer's own coercion for every parameter of every command, and .ci/run runs it on
the lowest Typer that pyproject.toml allows as well as the newest installed.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
from pathlib import Path
from typing import Any

_BOOL_WORDS = {"1": True, "true": True, "yes": True, "on": True}
_BOOL_WORDS.update({"0": False, "false": False, "no": False, "off": False})


def install() -> None:
    try:
        from typer import _coercion
        from typer._click.exceptions import BadParameter
        from typer.core import _TyperParameter
    except ImportError:
        return
    base = getattr(_coercion, "RuntimeParam", None)
    original = getattr(_TyperParameter, "get_runtime_param", None)
    if original is None or getattr(original, "_agentver", False):
        return
    if not _shape_is_known(base, _TyperParameter):
        return

    # RuntimeParam is a frozen dataclass: the subclass only adds the coercion.
    class PlainParam(base):  # type: ignore[misc, valid-type]
        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if self.annotation == list[str]:
                return [str(item) for item in value]
            if isinstance(value, self.annotation):
                return value
            if self.annotation is bool:
                word = str(value).strip().lower()
                if word in _BOOL_WORDS:
                    return _BOOL_WORDS[word]
                raise BadParameter(f"{value!r} is not true or false.", ctx=ctx, param=param)
            try:
                return self.annotation(value)
            except (TypeError, ValueError):
                name = "an integer" if self.annotation is int else self.annotation.__name__
                if issubclass(self.annotation, enum.Enum):
                    name = "one of " + ", ".join(str(m.value) for m in self.annotation)
                raise BadParameter(f"{value!r} is not {name}.", ctx=ctx, param=param) from None

    def get_runtime_param(self: Any) -> Any:
        if getattr(self, "_runtime_param", None) is None:
            descriptor = getattr(self, "type_descriptor", None)
            annotation = getattr(descriptor, "annotation", None)
            info = getattr(descriptor, "parameter_info", None)
            plain = _is_plain(annotation, info)
            if plain and getattr(descriptor, "file_annotation", None) is None:
                try:
                    self._runtime_param = PlainParam(annotation=annotation, parameter_info=info)
                except Exception:  # a shape we did not foresee: Typer's own path
                    self._runtime_param = None
        return original(self)

    get_runtime_param._agentver = True  # type: ignore[attr-defined]
    _TyperParameter.get_runtime_param = get_runtime_param  # type: ignore[method-assign]


# ParameterInfo settings under which Typer does more than convert the text: any other
# value (``exists=True``, a custom ``parser``, case-insensitive choices...) goes to Typer.
_PLAIN_SETTINGS: dict[str, Any] = {
    "parser": None,
    "click_type": None,
    "min": None,
    "max": None,
    "case_sensitive": True,
    "exists": False,
    "file_okay": True,
    "dir_okay": True,
    "writable": False,
    "resolve_path": False,
    "allow_dash": False,
    "path_type": None,
}


def _is_plain(annotation: Any, info: Any) -> bool:
    """A parameter whose coercion is a plain conversion of its text."""
    if not all(getattr(info, key, value) == value for key, value in _PLAIN_SETTINGS.items()):
        return False
    return (
        annotation in (str, Path, bool, int)
        or annotation == list[str]
        or (isinstance(annotation, type) and issubclass(annotation, enum.Enum))
    )


def _shape_is_known(base: Any, typer_parameter: Any) -> bool:
    """True when Typer's internals look exactly as this shortcut expects."""
    if not (isinstance(base, type) and dataclasses.is_dataclass(base)):
        return False
    if {field.name for field in dataclasses.fields(base)} != {"parameter_info", "annotation"}:
        return False
    coerce_value = getattr(base, "_coerce_value", None)
    if coerce_value is None or "_coerce_value" not in getattr(base, "__abstractmethods__", ()):
        return False
    if list(inspect.signature(coerce_value).parameters) != ["self", "value", "param", "ctx"]:
        return False
    # The patched getter pre-fills ``_runtime_param`` and relies on the original getter
    # returning a filled slot as is: its code must read that slot.
    getter = getattr(typer_parameter, "get_runtime_param", None)
    names = getattr(getattr(getter, "__code__", None), "co_names", ())
    return "_runtime_param" in names and "type_descriptor" in _annotations(typer_parameter)


def _annotations(cls: type) -> set[str]:
    found: set[str] = set()
    for klass in cls.__mro__:
        found.update(inspect.get_annotations(klass))
    return found
