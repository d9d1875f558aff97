"""Declarations of experiment parameters: type, default, allowed values, help.

One declaration produces the validation, the error message, `stabreport list` and the
parameter table on the method page (the scikit-learn habit).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError


@dataclass(frozen=True)
class Param:
    name: str
    kind: type  # int, float, str or bool
    default: Any
    help: str
    minimum: float | None = None  # inclusive for int, exclusive for float
    choices: tuple[str, ...] | None = None
    maximum: float | None = None  # inclusive; say why in `help`
    also: tuple[str, ...] = ()  # words a number may be given as, e.g. "1/sqrt(depth)"
    default_text: str | None = None  # the default in words, when it depends on other parameters
    at_least: bool = False  # a float's minimum is allowed itself (≥ rather than >)
    # Values at which a setting's canonical form leaves the parameter out: a parameter added
    # after results were published, so that every earlier setting keeps its key (its random
    # stream, hence its numbers), its id and its commands.
    omitted_at: tuple[Any, ...] = ()

    @property
    def allowed(self) -> str:
        if self.kind is bool:
            return "true or false"
        if self.choices is not None:
            return "one of " + ", ".join(self.choices)
        upper = f" and ≤ {self.maximum:g}" if self.maximum is not None else ""
        words = "".join(f" or {word!r}" for word in self.also)
        if self.kind is int:
            return (f"an integer ≥ {self.minimum:g}" if self.minimum is not None else "an integer") + upper + words
        if self.minimum is not None:
            return f"a finite number {'≥' if self.at_least else '>'} {self.minimum:g}" + upper + words
        return "a finite number" + upper + words

    @property
    def default_shown(self) -> str:
        return self.default_text or repr(self.default)

    @property
    def type_name(self) -> str:
        return {int: "int", float: "float", str: "str", bool: "bool"}[self.kind]

    def _reject(self, value: Any, where: str) -> ConfigError:
        return ConfigError(f"{where}parameter '{self.name}' got {value!r}; allowed: {self.allowed}",
                           key=self.name)

    def parse(self, text: str, where: str = "") -> Any:
        """Convert command-line text (from --set KEY=VALUE) and validate it."""
        if self.kind is str or text in self.also:
            return self.validate(text, where)
        if self.kind is bool:
            words = {"true": True, "false": False}
            if text.lower() not in words:
                raise self._reject(text, where)
            return words[text.lower()]
        try:
            value = whole_number(text) if self.kind is int else float(text)
        except ValueError:
            raise self._reject(text, where) from None
        return self.validate(value, where)

    def validate(self, value: Any, where: str = "") -> Any:
        """Validate a typed value (from YAML or Python) and return it in canonical form."""
        if self.kind is str:
            if not isinstance(value, str) or (self.choices and value not in self.choices):
                raise self._reject(value, where)
            return value
        if self.kind is bool:
            if not isinstance(value, bool):
                raise self._reject(value, where)
            return value
        if isinstance(value, str) and value in self.also:
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._reject(value, where)
        if self.kind is int:
            if isinstance(value, float):
                if not value.is_integer():
                    raise self._reject(value, where)
                value = int(value)
            if (self.minimum is not None and value < self.minimum) or \
                    (self.maximum is not None and value > self.maximum):
                raise self._reject(value, where)
            return value
        value = float(value)
        below = self.minimum is not None and (value < self.minimum if self.at_least
                                              else value <= self.minimum)
        if not math.isfinite(value) or below or \
                (self.maximum is not None and value > self.maximum):
            raise self._reject(value, where)
        return value


def set_options(params: dict[str, Any] | Any) -> str:
    """The `--set KEY=VALUE` options that give these parameters on the command line, each value
    as `Param.parse` reads it back (a yes-or-no one as true or false); unset ones left out."""
    def written(value: Any) -> str:
        return ("true" if value else "false") if isinstance(value, bool) else str(value)
    return " ".join(f"--set {k}={written(v)}" for k, v in params.items() if v is not None)


def whole_number(text: str) -> int:
    """An integer written as one: '12', or '1e9' and '2.0e3', which are whole numbers too."""
    try:
        return int(text)
    except ValueError:
        value = float(text)
        if not math.isfinite(value) or not value.is_integer():
            raise ValueError(text) from None
        return int(value)
