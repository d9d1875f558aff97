"""The report's configuration: what to run and how to present it, validated once at the door.

The embedded `default_report.yml` reproduces the whole lecture. An optional `stabreport.yml`
overrides it key by key: scalars replace; pages, sections, settings, claims and sweeps merge by
`id` (a known id changes that entry, a new id adds one). The merged document is then validated
once, by one schema: pydantic models built from the experiments' declarations (a section's
parameters are those its experiment declares, with their types, bounds and allowed values),
discriminated unions for sections, sweeps, grids and claims, and validators for the references
between them. Every problem is reported at once, each on one line with the file and line where
the offending value was written, the value, and what is allowed; nothing runs until it is valid.
"""
from __future__ import annotations

import difflib
import itertools
import math
import re
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Callable, Literal, Mapping, Union

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    StringConstraints,
    Tag,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ..errors import ConfigError
from ..experiments import Experiment, experiments, get_experiment, names
from ..render.formatting import ConfigText, Words
from .model import (Axis, CheckSpec, ClaimSpec, Page, Report, Section, Series,  # noqa: F401
                    Setting, Sweep, SweepFigure, Verdicts, grid_axis)
from ..core.registry import Registry
from ..render.kinds import DEFAULT_SWEEP_FIGURE, FIGURES, default_kinds, kinds
from .checks import CHECKS, check_type
from .statistics import CELL_STATISTICS, SETTING_STATISTICS
from ..render.i18n import N_, SOURCE
from ..core.params import Param
from ..paths import CONFIG, MAX_CONFIG_BYTES

DEFAULT_NORM_RUNS = 2000
DEFAULT_SWEEP_RUNS = 200
DEFAULT_SWEEP_PAGE = "phase"  # a sweep without a `page:`
MAX_SWEEP_CELLS = 20_000  # per sweep in a config: every cell is validated and built into a page
MAX_REPORT_CELLS = 20_000  # and in all of a report's sweeps together (each cell is sized by its
# theory before it runs, about 24 ms a cell: the largest report spends some 8 minutes on it)

def _integral(value: Any) -> Any:
    """1e9 written for a count is the whole number it is."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


Count = Annotated[int, BeforeValidator(_integral), Field(ge=1)]

# A slug becomes a file name, an anchor and a URL: refuse anything that could be a path.
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=64)]


def _one_line(text: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise PydanticCustomError("one_line", "text on one line, without control characters")
    return text


Text = Annotated[str, StringConstraints(min_length=1, max_length=500), AfterValidator(_one_line)]


# --- YAML read with the place every value was written ------------------------------------------

class Mapping_(dict):
    """A YAML mapping that remembers where it and each of its values were written."""

    where: str = ""
    places: dict

    def place(self, key: Any) -> str:
        return self.places.get(key, self.where)


class Sequence_(list):
    """A YAML sequence that remembers where it and each of its items were written."""

    where: str = ""
    places: list

    def place(self, index: int) -> str:
        return self.places[index] if 0 <= index < len(self.places) else self.where


class _Loader(yaml.SafeLoader):
    """YAML 1.1 as PyYAML reads it, but `1e9` and `2.5E-3` are the numbers they look like (YAML
    1.1 needs a dot in a float)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789"))


def _located(node: yaml.Node, name: str, constructor: yaml.constructor.SafeConstructor,
             seen: set[int] | None = None) -> Any:
    seen = set() if seen is None else seen
    if id(node) in seen:  # an alias (*name): refused, so no config can expand exponentially
        raise ConfigError(f"{name}:{node.start_mark.line + 1}: a YAML alias repeats an anchored "
                          "value; allowed: plain values (write the value out, no &anchors or *aliases)")
    seen.add(id(node))
    where = f"{name}:{node.start_mark.line + 1}"
    if isinstance(node, yaml.MappingNode):
        constructor.flatten_mapping(node)
        out = Mapping_()
        out.where, out.places = where, {}
        for key_node, value_node in node.value:
            key = constructor.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise ConfigError(f"{name}:{key_node.start_mark.line + 1}: a mapping key got "
                                  f"{type(key).__name__}; allowed: a plain key") from None
            if key in out:
                raise ConfigError(f"{name}:{key_node.start_mark.line + 1}: duplicate key {key!r} "
                                  f"(first at line {out.places[key].rpartition(':')[2]}); allowed: "
                                  "each key once")
            out[key] = _located(value_node, name, constructor, seen)
            out.places[key] = f"{name}:{value_node.start_mark.line + 1}"
        return out
    if isinstance(node, yaml.SequenceNode):
        items = Sequence_(_located(item, name, constructor, seen) for item in node.value)
        items.where, items.places = where, [f"{name}:{i.start_mark.line + 1}" for i in node.value]
        return items
    return constructor.construct_object(node, deep=True)


def read_yaml(text: str, name: str) -> Any:
    """Parse YAML into Mapping_/Sequence_ trees that know their lines."""
    if len(text.encode("utf-8", "replace")) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{name}: {len(text.encode('utf-8', 'replace')):,} bytes; allowed: a "
                          f"config of at most {MAX_CONFIG_BYTES:,} bytes")
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.AliasEvent):
                raise ConfigError(f"{name}:{event.start_mark.line + 1}: the YAML alias *{event.anchor} "
                                  "repeats an anchored value; allowed: plain values (write the value "
                                  "out, no &anchors or *aliases)")
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark else name
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{where}: YAML syntax error: {problem}; allowed: valid YAML") from None
    if root is None:
        empty = Mapping_()
        empty.where, empty.places = f"{name}:1", {}
        return empty
    try:
        return _located(root, name, _Loader(""))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark else name
        raise ConfigError(f"{where}: {getattr(error, 'problem', None) or error}; allowed: "
                          "plain YAML values") from None


# --- merging by id ---------------------------------------------------------------------------------

def _copy(value: Any) -> Any:
    if isinstance(value, Mapping_):
        out = Mapping_((k, _copy(v)) for k, v in value.items())
        out.where, out.places = value.where, dict(value.places)
        return out
    if isinstance(value, Sequence_):
        out = Sequence_(_copy(v) for v in value)
        out.where, out.places = value.where, list(value.places)
        return out
    return value


def _set(target: Mapping_, key: Any, value: Any, place: str) -> None:
    target[key] = value
    target.places[key] = place


def _merge_mapping(target: Mapping_, override: Mapping_, merge_keys: Mapping[str, Any]) -> None:
    """Update `target` with `override`: keys in `merge_keys` merge (dicts key by key, lists of
    entries by id, with `merge_keys[key]` the rules one level down); others replace."""
    for key, value in override.items():
        rule = merge_keys.get(key)
        current = target.get(key)
        if rule is not None and isinstance(current, Mapping_) and isinstance(value, Mapping_):
            _merge_mapping(current, value, rule)
        elif rule is not None and isinstance(current, Sequence_) and isinstance(value, Sequence_):
            _merge_by_id(current, value, rule)
        else:
            _set(target, key, _copy(value), override.place(key))


def _merge_by_id(target: Sequence_, override: Sequence_, rule: Mapping[str, Any]) -> None:
    known = {entry.get("id"): entry for entry in target if isinstance(entry, Mapping_)}
    for index, entry in enumerate(override):
        current = known.get(entry.get("id")) if isinstance(entry, Mapping_) else None
        if current is not None and entry.get("id") is not None:
            _merge_mapping(current, entry, rule)
        else:
            target.append(_copy(entry))
            target.places.append(override.place(index))
            if isinstance(entry, Mapping_):
                known[entry.get("id")] = target[-1]


MERGE_RULES: dict[str, Any] = {
    "verdicts": {},
    "pages": {},
    "claims": {},
    "sweeps": {"params": {}},
    "sections": {"params": {}, "settings": {"params": {}}},
}


# --- the schema --------------------------------------------------------------------------------------

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


def _param_type(param: Param) -> Any:
    """A pydantic type that validates with the declaration itself (the same messages as --set)."""
    def check(value: Any) -> Any:
        try:
            return param.validate(value)
        except ConfigError:
            raise PydanticCustomError("parameter", "{allowed}", {"allowed": param.allowed}) from None
    return Annotated[Any, PlainValidator(check)]


def _params_model(experiment: Experiment) -> type[BaseModel]:
    fields: dict[str, Any] = {p.name: (_param_type(p) | None, None) for p in experiment.params}
    return create_model(f"params of {experiment.name}", __base__=_Strict, **fields)


def _reference(kind: str):
    """A validator that the value names a known `kind` (setting, section, page) of the report."""
    def check(value: str, info: ValidationInfo) -> str:
        known = (info.context or {}).get(kind, ())
        if value not in known:
            guess = difflib.get_close_matches(value, sorted(known), n=1)
            raise PydanticCustomError(
                "reference", "a {kind} id of the report{hint}",
                {"kind": kind, "hint": f" (did you mean '{guess[0]}'?)" if guess else ""})
        return value
    return AfterValidator(check)


SettingId = Annotated[Slug, _reference("setting")]
SectionId = Annotated[Slug, _reference("section")]
def _registered(scope: str) -> Callable[[str], str]:
    """A validator: the name of a registered figure kind of this scope (its ValueError lists
    the registered ones)."""
    def check(name: str) -> str:
        allowed = kinds(scope)
        if name not in allowed:
            raise ValueError(f"a figure kind of scope {scope!r}: one of {', '.join(allowed)}")
        return name

    return check


VerdictWord = Literal["vanishes", "stays moderate", "explodes"]


class VerdictsFile(_Strict):
    vanishes_below: Annotated[float, Field(gt=0)]
    explodes_above: Annotated[float, Field(gt=0)]

    @field_validator("explodes_above")
    @classmethod
    def above_vanishes_below(cls, value: float, info: ValidationInfo) -> float:
        low = info.data.get("vanishes_below")
        if low is not None and not low < value:
            raise PydanticCustomError("verdicts", "a number above vanishes_below ({low})", {"low": low})
        return value


class PageFile(_Strict):
    id: Slug
    title: Text | None = None
    summary: Text | None = None
    figures: list[Annotated[str, AfterValidator(_registered("report"))]] = Field(default_factory=list)
    explorer: bool = False


def _statistic(registry: Registry[Any]) -> Callable[[str], str]:
    """A validator: the name of a registered statistic (its ValueError lists them)."""
    def check(name: str) -> str:
        if name not in registry:
            raise ValueError(f"a registered {registry.what}: one of {', '.join(registry.names())}")
        return name

    return check


SettingStatistic = Annotated[str, AfterValidator(_statistic(SETTING_STATISTICS))]
CellStatisticName = Annotated[str, AfterValidator(_statistic(CELL_STATISTICS))]


class ClaimFile(_Strict):
    id: Slug
    section: SectionId  # the section, or the sweep, beside which it is shown
    source: Literal["lecture", "site"] = "lecture"
    statement: Text
    quote: Text | None = None
    checks: Annotated[list[Any], Field(min_length=1)]  # report_schema: the registered checks


class RangeFile(_Strict):
    start: float
    stop: float
    num: Annotated[int, BeforeValidator(_integral), Field(ge=1, le=4096)]
    log: bool = False

    @model_validator(mode="after")
    def positive_on_a_log_grid(self) -> "RangeFile":
        if self.log and (self.start <= 0 or self.stop <= 0):
            raise PydanticCustomError("grid", "start and stop > 0 on a log grid",
                                      {"shown": f"{self.start:g}:{self.stop:g}"})
        return self


def _grid_kind(value: Any) -> str | None:
    return "range grid" if isinstance(value, Mapping) else "value list" if isinstance(value, list) else None


def _axis_type(param: Param) -> Any:
    return Annotated[
        Union[Annotated[RangeFile, Tag("range grid")],
              Annotated[Annotated[list[_param_type(param)], Field(min_length=1)], Tag("value list")]],
        Discriminator(_grid_kind, custom_error_type="grid",
                      custom_error_message="{start, stop, num, log} or a list of values")]


def _section_model(experiment: Experiment) -> type[BaseModel]:
    params = _params_model(experiment)
    setting = create_model(
        f"setting of {experiment.name}", __base__=_Strict, id=(Slug, ...), label=(Text | None, None),
        params=(params, params()), runs=(Count | None, None),
        norm_runs=(Count | None, None),
        lecture=(Annotated[float, Field(gt=0)] | None, None))
    return create_model(
        f"section of {experiment.name}", __base__=_Strict, id=(Slug, ...),
        experiment=(Literal[experiment.name], ...), title=(Text, ...), page=(Slug | None, None),
        runs=(Count | None, None),
        norm_runs=(Count | None, None),
        lecture_averages=(Count | None, None),
        figures=(list[Annotated[str, AfterValidator(_registered("section"))]] | None, None),
        columns=(list[SettingStatistic], []),
        params=(params, params()), settings=(Annotated[list[setting], Field(min_length=1)], ...))


class ExplorerFile(_Strict):
    """What a report asks of the explorer: at most `runs` per cell, and per experiment a subset
    of the values its declaration offers (checked when resolved)."""
    runs: Count | None = None
    grid: dict[str, dict[str, list[bool | int | float | str]]] = Field(default_factory=dict)


def _languages(codes: list[str]) -> list[str]:
    if codes[0] != SOURCE:
        raise ValueError("'en' first (the language the templates are written in), then the "
                         "site's other languages")
    if len(set(codes)) != len(codes):
        raise ValueError("each language once")
    return codes


def _language_code(code: str) -> str:
    if not re.fullmatch(r"[a-z]{2,3}", code):
        raise ValueError("a language code of two or three lowercase letters (en, zh, fr, ...), "
                         "as in locales/<code>[_<TERRITORY>]/")
    return code


# A language: its code as in locales/<code>[_<TERRITORY>]/ (zh → locales/zh_CN/).
LanguageCode = Annotated[str, AfterValidator(_language_code)]


class SeriesFile(_Strict):
    """One curve of a sweep: its own parameters (and experiment), checked when resolved."""
    id: Slug
    label: Text | None = None
    experiment: str | None = None
    params: dict[str, int | float | str] = Field(default_factory=dict)


def _sweep_model(experiment: Experiment) -> type[BaseModel]:
    axes = {name: (_axis_type(experiment.param(name)) | None, None) for name in experiment.sweep_axes}

    def some_axis(model: BaseModel) -> BaseModel:
        if not [name for name in experiment.sweep_axes if getattr(model, name) is not None]:
            raise PydanticCustomError("grid", "at least one of {axes}",
                                      {"axes": ", ".join(experiment.sweep_axes)})
        return model

    grid = create_model(f"grid of {experiment.name}", __base__=_Strict,
                        __validators__={"axes": model_validator(mode="after")(some_axis)}, **axes)
    return create_model(
        f"sweep of {experiment.name}", __base__=_Strict, id=(Slug, ...),
        experiment=(Literal[experiment.name], ...), title=(Text, ...), page=(Slug | None, None),
        figure=(Annotated[str, AfterValidator(_registered("sweep"))], DEFAULT_SWEEP_FIGURE),
        params=(_params_model(experiment), _params_model(experiment)()), grid=(grid, ...),
        series=(list[SeriesFile] | None, None), runs=(Count | None, None),
        standard_error=(Annotated[float, Field(gt=0, allow_inf_nan=False)] | None, None))


class _UnknownExperiment(BaseModel):
    """A section or sweep whose experiment is missing or unknown: its id is still checked, and
    the experiment is reported with the names that are allowed."""

    model_config = ConfigDict(extra="allow", strict=True)
    id: Slug
    title: Text
    experiment: str

    @field_validator("experiment")
    @classmethod
    def known(cls, value: str, info: ValidationInfo) -> str:
        allowed = sorted((info.context or {}).get("experiments", ()))
        guess = difflib.get_close_matches(str(value), allowed, n=1)
        raise PydanticCustomError("experiment", "{allowed}{hint}", {
            "allowed": ", ".join(allowed),
            "hint": f" (did you mean '{guess[0]}'?)" if guess else ""})


def _tagged(models: dict[str, type[BaseModel]]) -> Any:
    """A union of per-experiment models, chosen by the entry's `experiment`."""
    def tag(value: Any) -> str:
        name = value.get("experiment") if isinstance(value, Mapping) else None
        return name if name in models else "unknown experiment"

    members = [Annotated[model, Tag(name)] for name, model in models.items()]
    members.append(Annotated[_UnknownExperiment, Tag("unknown experiment")])
    return Annotated[Union[tuple(members)], Discriminator(tag)]  # type: ignore[valid-type]


def _claim_model() -> type[BaseModel]:
    """A claim, its checks any of the registered claim checks."""
    return create_model("claim", __base__=ClaimFile,
                        checks=(Annotated[list[check_type()], Field(min_length=1)], ...))


def report_schema() -> type[BaseModel]:
    """The whole report's model, built from the registered experiments' declarations."""
    sweepable = {e.name: e for e in experiments() if e.sweep_axes and e.scale_param}
    Section = _tagged({e.name: _section_model(e) for e in experiments()})
    Sweep = _tagged({name: _sweep_model(e) for name, e in sweepable.items()})
    return create_model(
        "report", __base__=_Strict,
        title=(Text, ...), authors=(Annotated[list[Text], Field(min_length=1)], ...),
        seed=(Annotated[int, BeforeValidator(_integral), Field(ge=0)], ...), verdicts=(VerdictsFile, ...),
        theory_tolerance=(Annotated[float, Field(gt=0)], 0.2),
        false_alarm_rate=(Annotated[float, Field(gt=0, le=0.5)], 1e-3),
        pages=(list[PageFile], []), sections=(Annotated[list[Section], Field(min_length=1)], ...),
        claims=(list[_claim_model()], []), sweeps=(list[Sweep], []),
        explorer=(ExplorerFile, ExplorerFile()),
        # The site's editions: English at /, each other language at /<code>/ (its catalogue,
        # locales/<code>/LC_MESSAGES/messages.po, is checked when the site is built).
        languages=(Annotated[list[LanguageCode], Field(min_length=1), AfterValidator(_languages)],
                   ["en", "zh"]))


# --- validating and resolving -------------------------------------------------------------------

def _place(document: Any, loc: tuple[Any, ...]) -> tuple[str, str]:
    """(file:line, dotted path) of the deepest value on `loc` that exists in the document."""
    node, where, path = document, getattr(document, "where", ""), []
    for part in loc:
        if isinstance(node, Mapping_) and part in node:
            where, node = node.place(part), node[part]
        elif isinstance(node, Sequence_) and isinstance(part, int) and 0 <= part < len(node):
            where, node = node.place(part), node[part]
        else:
            continue  # a union's tag or a validator's name: not a place in the file
        # An entry merged by id is named by it (sections[relu-normal]): after merging with the
        # lecture's config, an index would count entries the file does not show.
        named = node.get("id") if isinstance(part, int) and isinstance(node, Mapping_) else None
        path.append(f"[{named}]" if isinstance(named, str) and named else
                    f"[{part}]" if isinstance(part, int) else f".{part}")
    return where, "".join(path).lstrip(".")


def _describe(document: Any, error: Mapping[str, Any]) -> str:
    where, path = _place(document, tuple(error["loc"]))
    value = error.get("input")
    kind = error["type"]
    if kind == "extra_forbidden":
        parent = _place(document, tuple(error["loc"])[:-1])[1]
        known = _known_keys(tuple(error["loc"])[:-1])
        name = error["loc"][-1]
        guess = difflib.get_close_matches(str(name), known, n=1)
        return (f"{where}: {parent or 'the config'}: unknown key {name!r}"
                + (f" (did you mean '{guess[0]}'?)" if guess else "")
                + ("; allowed: " + ", ".join(known) if known else ""))
    if kind == "missing":
        parent_where, parent = _place(document, tuple(error["loc"])[:-1])
        return (f"{parent_where}: {parent + ': ' if parent else ''}required key "
                f"{error['loc'][-1]!r} missing")
    message = error["msg"]
    if kind == "string_pattern_mismatch":
        message = "a slug of lowercase letters, digits, '.', '-' and '_', not starting with '.' or '-'"
    elif kind == "too_short":
        message = f"at least {error['ctx']['min_length']} entries"
    elif kind == "string_too_long":
        message = f"at most {error['ctx']['max_length']} characters"
    message = message.removeprefix("Input should be ").removeprefix("Value error, ")
    shown = (error.get("ctx") or {}).get("shown") or _shown(value)
    return f"{where}: {path}: got {shown}; allowed: {message}"


def _shown(value: Any) -> str:
    """A value for an error line: its repr, cut short (a config never echoes much)."""
    text = repr(dict(value) if isinstance(value, dict) else list(value) if isinstance(value, list)
                else value)
    if len(text) > 80 and isinstance(value, (dict, list)):
        return f"a {'mapping' if isinstance(value, dict) else 'list'} of {len(value)} entries"
    return text if len(text) <= 80 else text[:77] + "..."


def _known_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys the mapping at `loc` may have, read from the schema that rejected one of its keys
    (`loc` as pydantic reports it: fields, list indices and the tags of discriminated unions)."""
    annotation: Any = _SCHEMA_CACHE.get("current")
    for part in loc:
        annotation = _step(annotation, part)
    model = _model(annotation)
    return list(model.model_fields) if model is not None else []


def _strip(annotation: Any) -> Any:
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _tag(annotation: Any) -> Any:
    """The tag of a union member: its Tag(...) marker, or its `experiment` literal."""
    for meta in typing.get_args(annotation)[1:] if typing.get_origin(annotation) is Annotated else ():
        if isinstance(meta, Tag):
            return meta.tag
    model = _model(annotation)
    field = model.model_fields.get("experiment") if model is not None else None
    return typing.get_args(field.annotation)[0] if field is not None else None


def _model(annotation: Any) -> type[BaseModel] | None:
    annotation = _strip(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (Union, types.UnionType):
        members = [m for m in typing.get_args(annotation) if m is not type(None)]
        return _model(members[0]) if len(members) == 1 else None
    return None


def _step(annotation: Any, part: Any) -> Any:
    """The annotation one step down `loc` from `annotation`."""
    annotation = _strip(annotation)
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        members = [m for m in typing.get_args(annotation) if m is not type(None)]
        tagged = [m for m in members if _tag(m) == part]
        if tagged:
            return tagged[0]
        for member in members:
            found = _step(member, part)
            if found is not None:
                return found
        return None
    if origin is list:
        return typing.get_args(annotation)[0] if isinstance(part, int) else None
    model = _model(annotation)
    if model is not None and part in model.model_fields:
        return model.model_fields[part].annotation
    return None


_SCHEMA_CACHE: dict[Any, type[BaseModel]] = {}  # by the registered experiments' names


def _context(document: Mapping_) -> dict[str, set[str]]:
    """The ids the references in the document may name (validated by the schema itself)."""
    sections = [s for s in document.get("sections", []) if isinstance(s, Mapping)] \
        if isinstance(document.get("sections"), list) else []
    sweeps = document.get("sweeps") if isinstance(document.get("sweeps"), list) else []
    sweep_ids = {w.get("id") for w in sweeps if isinstance(w, Mapping) and isinstance(w.get("id"), str)}
    return {
        "experiments": {e.name for e in experiments()},
        "sweep": sweep_ids,
        # A claim is shown beside a section, or beside a sweep's figure.
        "section": {s.get("id") for s in sections if isinstance(s.get("id"), str)} | sweep_ids,
        "setting": {t.get("id") for s in sections if isinstance(s.get("settings"), list)
                    for t in s["settings"] if isinstance(t, Mapping) and isinstance(t.get("id"), str)},
    }


def validate(document: Mapping_) -> tuple[BaseModel | None, list[str]]:
    """The merged document checked against the schema: the model, or every problem."""
    key = tuple(names())
    if key not in _SCHEMA_CACHE:
        _SCHEMA_CACHE[key] = report_schema()
    schema = _SCHEMA_CACHE["current"] = _SCHEMA_CACHE[key]
    try:
        return schema.model_validate(document, context=_context(document)), []
    except ValidationError as error:
        return None, [_describe(document, e) for e in error.errors()]


def _duplicates_in_file(document: Mapping_, name: str) -> list[str]:
    """Ids a single file lists twice (across files, a repeated id is an override)."""
    problems = []
    for key in ("pages", "sections", "claims", "sweeps"):
        entries = document.get(key)
        if not isinstance(entries, Sequence_):
            continue
        seen: dict[Any, str] = {}
        for index, entry in enumerate(entries):
            if not isinstance(entry, Mapping_) or not isinstance(entry.get("id"), str):
                continue
            if entry["id"] in seen:
                problems.append(f"{entry.place('id')}: {key}[{index}].id: duplicate id {entry['id']!r} "
                                f"(also at {seen[entry['id']]}); allowed: unique ids")
            seen.setdefault(entry["id"], entry.place("id"))
            settings = entry.get("settings") if key == "sections" else None
            if isinstance(settings, Sequence_):
                inner: dict[Any, str] = {}
                for j, setting in enumerate(settings):
                    if isinstance(setting, Mapping_) and isinstance(setting.get("id"), str):
                        if setting["id"] in inner:
                            problems.append(
                                f"{setting.place('id')}: sections[{index}].settings[{j}].id: duplicate "
                                f"setting id {setting['id']!r} (also at {inner[setting['id']]}); "
                                "allowed: ids unique across the report")
                        inner.setdefault(setting["id"], setting.place("id"))
    return problems


def explorer_problems(grid: Any, source_name: str) -> list[str]:
    """What is wrong with the explorer's narrowed grid: experiments that offer no explorer,
    axes not on their grid, values they do not offer. Read from the raw document too when the
    schema already failed elsewhere (so that a config with two problems hears of both); what the
    schema refuses (a grid that is not a mapping of lists) is left to it."""
    problems: list[str] = []
    if not isinstance(grid, dict):
        return problems
    for name, narrowed in grid.items():
        where = f"{source_name}: explorer: grid: {name}"
        declared = next((e.explore for e in experiments() if e.name == name), None)
        if declared is None:
            problems.append(f"{where}: no experiment of that name offers the explorer; allowed: "
                            + ", ".join(e.name for e in experiments() if e.explore is not None))
            continue
        if not isinstance(narrowed, dict):
            continue
        for key, values in narrowed.items():
            offered = declared.grid.get(key)
            if offered is None:
                problems.append(f"{where}: {key!r} is not on its grid; allowed: "
                                + ", ".join(declared.grid))
            elif not isinstance(values, (list, tuple)):
                continue
            elif not values or any(v not in offered for v in values):
                problems.append(f"{where}: {key} got {list(values)}; allowed: a non-empty subset "
                                f"of {list(offered)}")
    return problems


def _resolve(document: Mapping_, model: BaseModel, source_name: str) -> Report:
    """The validated model as the plain records the build uses; checks what needs the
    declarations' own logic (dependent parameters, every sweep cell) and ids across sections."""
    problems: list[str] = []
    pages = [Page(p.id, ConfigText(p.title or p.id), ConfigText(p.summary) if p.summary else None,
                  tuple(p.figures), p.explorer) for p in model.pages]
    page_ids = [p.id for p in pages]
    seen: dict[str, str] = {}
    sections: list[Section] = []
    for i, section in enumerate(model.sections):
        raw = document["sections"][i]
        experiment = get_experiment(section.experiment)
        page = section.page or experiment.page or experiment.name
        if page not in page_ids:  # a plug-in's page: after the last page holding sections
            last = max((page_ids.index(s.page) for s in sections), default=len(page_ids) - 1)
            pages.insert(last + 1, Page(page, experiment.title, experiment.summary))
            page_ids.insert(last + 1, page)
        section_params = section.params.model_dump(exclude_none=True)
        settings = []
        for j, setting in enumerate(section.settings):
            raw_setting = raw["settings"][j]
            where = raw["settings"].place(j)
            if setting.id in seen:
                problems.append(f"{raw_setting.place('id')}: sections[{i}].settings[{j}].id: duplicate "
                                f"id {setting.id!r} (also in section {seen[setting.id]!r}); allowed: "
                                "ids unique across the report")
                continue
            seen[setting.id] = section.id
            own = setting.params.model_dump(exclude_none=True)
            try:
                params = experiment.canonical_params({**section_params, **own},
                                                     f"setting {setting.id!r}: ")
            except ConfigError as error:
                place, path = where, f"sections[{i}].settings[{j}]"
                for entry, entry_path in ((raw_setting, path), (raw, f"sections[{i}]")):
                    own_params = entry.get("params")
                    if isinstance(own_params, Mapping_) and error.key in own_params:
                        place, path = own_params.place(error.key), f"{entry_path}.params.{error.key}"
                        break
                problems.append(f"{place}: {path}: {error}")
                continue
            settings.append(Setting(
                id=setting.id,
                label=ConfigText(setting.label or ", ".join(f"{k} {v}" for k, v in own.items())
                              or setting.id),
                section=section.id, experiment=experiment, params=params,
                runs=setting.runs or section.runs or experiment.default_runs,
                norm_runs=setting.norm_runs or section.norm_runs or DEFAULT_NORM_RUNS,
                lecture_log10=math.log10(setting.lecture) if setting.lecture else None,
                lecture_averages=section.lecture_averages or 1))
        kinds = tuple(default_kinds() if section.figures is None else section.figures)
        sections.append(Section(section.id, ConfigText(section.title), experiment, tuple(settings),
                                page, kinds, tuple(section.columns)))
    claims = [ClaimSpec(c.id, c.section, c.source, ConfigText(c.statement),
                        ConfigText(c.quote) if c.quote else None,
                        tuple(_check_spec(check) for check in c.checks)) for c in model.claims]
    sweeps = []
    for i, sweep in enumerate(model.sweeps):
        where = document["sweeps"].place(i)
        try:
            sweeps.append(_resolve_sweep(sweep, model.seed, page_ids, document["sweeps"][i]))
        except ConfigError as error:
            problems.append(f"{where}: sweeps[{i}]: {error}")
    problems += _check_cells(claims, sweeps, document)
    if sum(sweep.cells for sweep in sweeps) > MAX_REPORT_CELLS:
        problems.append(f"{source_name}: sweeps: {sum(s.cells for s in sweeps):,} cells in all ("
                        + ", ".join(f"{s.id} {s.cells:,}" for s in sweeps) + f"); allowed: at most "
                        f"{MAX_REPORT_CELLS:,} in a report (use `stabreport sweep` for larger grids)")
    problems += explorer_problems(model.explorer.grid, source_name)
    explorer_grid = {name: {k: tuple(v) for k, v in narrowed.items()}
                     for name, narrowed in model.explorer.grid.items()}
    if problems:
        raise ConfigError("\n".join(problems))
    return Report(title=ConfigText(model.title), seed=model.seed,
                  verdicts=Verdicts(math.log10(model.verdicts.vanishes_below),
                                    math.log10(model.verdicts.explodes_above)),
                  sections=tuple(sections), source=source_name, claims=tuple(claims),
                  theory_tolerance=model.theory_tolerance,
                  false_alarm_rate=model.false_alarm_rate, authors=tuple(map(ConfigText, model.authors)),
                  sweeps=tuple(sweeps), pages=tuple(pages), explorer_grid=explorer_grid,
                  explorer_runs=model.explorer.runs, languages=tuple(model.languages))


def _check_spec(check: BaseModel) -> CheckSpec:
    return next(c for c in CHECKS.all() if type(check) is c.model).spec(check)


def _resolve_sweep(sweep: BaseModel, seed: int, page_ids: list[str], raw: Any) -> Sweep:
    """A sweep's grid, curves and figure, every cell's parameters checked together."""
    experiment = get_experiment(sweep.experiment)
    axes = []
    for key in experiment.sweep_axes:  # in the declaration's order: the first is the x axis
        spec = getattr(sweep.grid, key)
        if spec is None:
            continue
        if isinstance(spec, RangeFile):
            axes.append(grid_axis(experiment, key, spec.start, spec.stop, spec.num, spec.log,
                                  f"sweep {sweep.id!r}: {key}: "))
        else:
            axes.append(Axis(key, tuple(dict.fromkeys(spec))))
    series = []
    for curve in sweep.series or ():
        curve_experiment = get_experiment(curve.experiment or experiment.name,
                                          f"sweep {sweep.id!r} series {curve.id!r}: ")
        for axis in axes:
            if axis.key not in curve_experiment.sweep_axes:
                raise ConfigError(f"series {curve.id!r} ({curve_experiment.name}) cannot sweep "
                                  f"{axis.key!r}; allowed: " + ", ".join(curve_experiment.sweep_axes))
        series.append(Series(curve.id, ConfigText(curve.label or curve.id), curve_experiment,
                             dict(curve.params)))
    figure = sweep.figure
    kind = FIGURES.get(figure)
    shape = kind.sweep
    if len(axes) != shape.axes or (series and not shape.curves):
        raise ConfigError(f"sweep {sweep.id!r} (figure {figure!r}) got grid axes "
                          f"{[a.key for a in axes]}{' and series' if series else ''}; allowed: "
                          + ("one axis, and any series" if shape.curves else "two axes and no series"))
    result = Sweep(sweep.id, ConfigText(sweep.title), experiment,
                   sweep.params.model_dump(exclude_none=True), tuple(axes),
                   sweep.runs or DEFAULT_SWEEP_RUNS, seed, sweep.page or DEFAULT_SWEEP_PAGE, figure,
                   tuple(series), shape.standard_error if sweep.standard_error is None
                   else sweep.standard_error)
    problem = kind.check_sweep(result)
    if problem:
        raise ConfigError(f"sweep {sweep.id!r}: {problem}")
    if result.cells > MAX_SWEEP_CELLS:
        raise ConfigError(f"sweep {sweep.id!r} has {result.cells:,} cells; allowed: at most "
                          f"{MAX_SWEEP_CELLS:,} (use `stabreport sweep` for larger grids)")
    if result.page not in page_ids:
        raise ConfigError(f"sweep {sweep.id!r} got page {result.page!r}; allowed: one of "
                          + ", ".join(page_ids))
    result.cell_params()  # every cell's parameters must be valid together
    return result


def _check_cells(claims: list[ClaimSpec], sweeps: list[Sweep], document: Any) -> list[str]:
    """What each check needs of the report beyond the schema (a cell of its sweep, ...)."""
    problems = []
    by_id = {sweep.id: sweep for sweep in sweeps}
    places = {entry.get("id"): document["claims"].place(i)
              for i, entry in enumerate(document.get("claims") or []) if isinstance(entry, Mapping)}
    for claim in claims:
        for check in claim.checks:
            problem = CHECKS.get(check.kind).validate(check, by_id)
            if problem:
                problems.append(f"{places.get(claim.id, '')}: claim {claim.id!r} {problem}")
    return problems


def default_text() -> str:
    return resources.files("stabreport.report").joinpath("default_report.yml").read_text(encoding="utf-8")


# What a config builds on (`extends:`): the lecture's whole report, or nothing but its own keys.
EXTENDS = {"lecture": default_text, "none": None}


def load_report(path: str | Path | None = None, text: str | None = None) -> Report:
    """The default report, overridden by `path` (or by YAML `text`) when given; a config with
    `extends: none` is the whole report by itself."""
    document = read_yaml(default_text(), "default_report.yml")
    source_name = "default_report.yml"
    if path is not None or text is not None:
        if text is None:
            try:
                text = Path(path).read_text(encoding="utf-8")  # type: ignore[arg-type]
            except (OSError, UnicodeDecodeError) as error:
                reason = getattr(error, "strerror", None) or type(error).__name__
                raise ConfigError(f"{path}: cannot be read ({reason}); allowed: a readable UTF-8 "
                                  "YAML file") from None
        source_name = str(path) if path is not None else CONFIG
        override = read_yaml(text, source_name)
        if not isinstance(override, Mapping_):
            raise ConfigError(f"{source_name}:1: the config got a {type(override).__name__.rstrip('_').lower()}; "
                              "allowed: a mapping of keys such as seed, verdicts, sections")
        duplicates = _duplicates_in_file(override, source_name)
        if duplicates:
            raise ConfigError("\n".join(duplicates))
        base = override.get("extends", "lecture")
        if not isinstance(base, str) or base not in EXTENDS:
            raise ConfigError(f"{override.place('extends')}: extends got {_shown(base)}; allowed: "
                              + ", ".join(EXTENDS))
        if EXTENDS[base] is None:
            document = Mapping_()
            document.where, document.places = f"{source_name}:1", {}
        _merge_mapping(document, override, MERGE_RULES)
        document.pop("extends", None)
    model, problems = validate(document)
    if problems:
        explorer = document.get("explorer")
        if isinstance(explorer, Mapping_):
            problems += explorer_problems(explorer.get("grid"), source_name)
        raise ConfigError("\n".join(dict.fromkeys(problems)))
    report = _resolve(document, model, source_name)
    problems = _anchor_problems(document, report, source_name)
    if problems:
        raise ConfigError("\n".join(problems))
    return report


# Page ids the site's own files take (MkDocs writes 404.html whatever the pages are).
RESERVED_PAGE_IDS = {"404": "the site's not-found page"}


def _id_place(document: Mapping_, key: str, ident: str, default: str) -> str:
    """file:line of the entry of `key` (or of a section's setting) whose id is `ident`."""
    for entry in document.get(key) or ():
        if isinstance(entry, Mapping_):
            if entry.get("id") == ident:
                return entry.place("id")
            for setting in entry.get("settings") or () if key == "sections" else ():
                if isinstance(setting, Mapping_) and setting.get("id") == ident:
                    return setting.place("id")
    return default


def _anchor_problems(document: Mapping_, report: Report, source_name: str) -> list[str]:
    """Every id is a file or an anchor of the site: a page a file of its own, and sections,
    settings (their table rows), claims, sweeps and figures anchors that links and citations
    land on. Two of them alike, or a page id the site's own files take, would send a citation to
    the wrong place."""
    from .pages import figure_specs

    problems = []
    for page in report.pages:
        if page.id in RESERVED_PAGE_IDS:
            problems.append(f"{_id_place(document, 'pages', page.id, source_name)}: page id {page.id!r} "
                            f"is {RESERVED_PAGE_IDS[page.id]}; allowed: any other id")
    owners: dict[str, str] = {}
    named = [("section", "sections", s.id) for s in report.sections] + \
        [("setting", "sections", s.id) for s in report.settings] + \
        [("claim", "claims", c.id) for c in report.claims] + \
        [("sweep", "sweeps", s.id) for s in report.sweeps] + \
        [("figure", "", f.id) for f in figure_specs(report)]
    for what, key, ident in named:
        if ident in owners and owners[ident] != what:
            place = _id_place(document, key, ident, source_name) if key else \
                _id_place(document, "sections", ident, source_name)
            problems.append(f"{place}: {what} id {ident!r} is also the id of a {owners[ident]}; "
                            "allowed: ids unique across sections, settings, claims, sweeps and "
                            "figures (each is an anchor of the site)")
        owners.setdefault(ident, what)
    return problems
