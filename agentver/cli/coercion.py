"""Cheap parameter coercion for Typer's plain parameter types.

Typer 0.29 coerces every non-boolean parameter through a pydantic ``TypeAdapter``, which
costs each command 60-150 ms of pydantic imports and schema building before it starts;
a bare Typer app without parameters never pays it. For the plain types our commands use
(``str``, ``bool``, ``int`` without bounds, ``Path``, ``list[str]``,
enums) coercion is trivial, so it is done here;
anything else (lists, enums, bounded numbers) still goes through Typer's own path. If
Typer's internals ever change shape, this does nothing and Typer behaves as shipped.
"""

from __future__ import annotations

import enum
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
    if base is None or original is None or getattr(original, "_agentver", False):
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
            plain = (
                annotation in (str, Path, bool)
                or annotation == list[str]
                or (isinstance(annotation, type) and issubclass(annotation, enum.Enum))
            ) or (
                annotation is int
                and getattr(info, "min", None) is None
                and getattr(info, "max", None) is None
            )
            if plain and getattr(descriptor, "file_annotation", None) is None:
                self._runtime_param = PlainParam(annotation=annotation, parameter_info=info)
        return original(self)

    get_runtime_param._agentver = True  # type: ignore[attr-defined]
    _TyperParameter.get_runtime_param = get_runtime_param  # type: ignore[method-assign]
