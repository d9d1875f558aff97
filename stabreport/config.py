"""The report's configuration: what to run and how to present it, validated once at the door.

The embedded `default_report.yml` reproduces the whole lecture. An optional `stabreport.yml`
overrides it key by key: scalars replace, sections and settings merge by `id` (a known id
changes that entry, a new id adds one). Every problem found is reported, each on one line with
the file, the line and the offending value; nothing is run or written until the config is valid.
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    StringConstraints,
    ValidationError,
)

from .errors import ConfigError
from .experiments import EXPERIMENTS, Experiment
from .paths import CONFIG

DEFAULT_NORM_RUNS = 2000

# A slug becomes a file name and a URL: refuse anything that could be a path.
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=64)]
ParamValue = int | float | str


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class VerdictsFile(_File):
    vanishes_below: PositiveFloat | None = None
    explodes_above: PositiveFloat | None = None


class SettingFile(_File):
    id: Slug
    label: str | None = None
    params: dict[str, ParamValue] = Field(default_factory=dict)
    runs: PositiveInt | None = None
    norm_runs: PositiveInt | None = None
    lecture: PositiveFloat | None = None


class SectionFile(_File):
    id: Slug
    title: str | None = None
    experiment: str | None = None
    runs: PositiveInt | None = None
    norm_runs: PositiveInt | None = None
    lecture_averages: PositiveInt | None = None
    params: dict[str, ParamValue] = Field(default_factory=dict)
    settings: list[SettingFile] = Field(default_factory=list)


VerdictWord = Literal["vanishes", "stays moderate", "explodes"]


class CheckFile(_File):
    """One condition of a claim: a setting's verdict is (or is not) a word, or a setting is the
    closest to 1 among several (`least_extreme` with `expect`)."""
    setting: Slug | None = None
    verdict: VerdictWord | None = None
    not_verdict: VerdictWord | None = None
    least_extreme: list[Slug] | None = None
    expect: Slug | None = None


class ClaimFile(_File):
    id: Slug
    section: Slug | None = None
    source: Literal["lecture", "site"] | None = None
    statement: str | None = None
    quote: str | None = None
    checks: list[CheckFile] | None = None


class GridFile(_File):
    start: float
    stop: float
    num: Annotated[int, Field(ge=1, le=4096)]
    log: bool = False


class SweepFile(_File):
    id: Slug
    title: str | None = None
    experiment: str | None = None
    params: dict[str, ParamValue] = Field(default_factory=dict)
    grid: dict[str, GridFile | list[ParamValue]] | None = None
    runs: PositiveInt | None = None


class ReportFile(_File):
    title: str | None = None
    authors: list[Annotated[str, StringConstraints(min_length=1)]] | None = None
    seed: Annotated[int, Field(ge=0)] | None = None
    verdicts: VerdictsFile | None = None
    theory_tolerance: Annotated[float, Field(gt=0)] | None = None
    sections: list[SectionFile] = Field(default_factory=list)
    claims: list[ClaimFile] = Field(default_factory=list)
    sweeps: list[SweepFile] = Field(default_factory=list)


@dataclass(frozen=True)
class Setting:
    id: str
    label: str
    section: str
    experiment: Experiment
    params: Mapping[str, Any]
    runs: int
    norm_runs: int  # runs of the O(k) tangent path, for the column-length statistics
    lecture_log10: float | None  # log10 of the lecture's single quoted value
    lecture_averages: int  # the lecture's statistic averages this many runs


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    experiment: Experiment
    settings: tuple[Setting, ...]


@dataclass(frozen=True)
class Verdicts:
    vanishes_below_log10: float
    explodes_above_log10: float

    def of(self, log10_value: float) -> str:
        if log10_value < self.vanishes_below_log10:
            return "vanishes"
        if log10_value > self.explodes_above_log10:
            return "explodes"
        return "stays moderate"


@dataclass(frozen=True)
class CheckSpec:
    kind: str  # "verdict" or "least_extreme"
    setting: str  # the setting checked, or the one expected to be least extreme
    value: str = ""  # the verdict word, for kind "verdict"
    negate: bool = False
    among: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClaimSpec:
    id: str
    section: str
    source: str  # "lecture" (shown whatever it finds) or "site" (must hold under --strict)
    statement: str
    quote: str | None
    checks: tuple[CheckSpec, ...]


@dataclass(frozen=True)
class Report:
    title: str
    seed: int
    verdicts: Verdicts
    sections: tuple[Section, ...]
    source: str  # where the overrides came from, for the method page
    claims: tuple[ClaimSpec, ...] = ()
    theory_tolerance: float = 0.2  # decades allowed to approximate theory
    authors: tuple[str, ...] = ("The stabreport authors",)  # for citations
    sweeps: tuple[Any, ...] = ()  # stabreport.sweeps.Sweep: grids for the phase diagrams

    @property
    def settings(self) -> tuple[Setting, ...]:
        return tuple(s for section in self.sections for s in section.settings)

    def setting(self, setting_id: str) -> Setting:
        for s in self.settings:
            if s.id == setting_id:
                return s
        raise KeyError(setting_id)


# --- reading YAML with line numbers -------------------------------------------------------------

@dataclass(frozen=True)
class _Source:
    name: str
    data: Any
    root: yaml.Node | None

    def line(self, path: tuple[Any, ...]) -> int | None:
        """1-based line of the deepest node on `path` (a pydantic-style location)."""
        node, line = self.root, None
        for part in path:
            if node is None:
                break
            line = node.start_mark.line + 1
            if isinstance(node, yaml.MappingNode):
                node = next((v for k, v in node.value if k.value == part), None) or \
                    next((k for k, v in node.value if k.value == part), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
            else:
                node = None
        return node.start_mark.line + 1 if node is not None else line

    def where(self, path: tuple[Any, ...]) -> str:
        line = self.line(path)
        dotted = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
        return f"{self.name}:{line}: {dotted}" if line else f"{self.name}: {dotted}"


def _read_source(text: str, name: str) -> _Source:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark else name
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{where}: YAML syntax error: {problem}; allowed: valid YAML") from None
    if data is None:
        data = {}
    return _Source(name, data, root)


def _parse_file(source: _Source) -> ReportFile:
    if not isinstance(source.data, dict):
        raise ConfigError(f"{source.name}:1: the config got a {type(source.data).__name__}; "
                          "allowed: a mapping of keys such as seed, verdicts, sections")
    try:
        return ReportFile.model_validate(source.data)
    except ValidationError as error:
        raise ConfigError("\n".join(_describe(source, e) for e in error.errors())) from None


def _describe(source: _Source, error: Mapping[str, Any]) -> str:
    loc = tuple(error["loc"])
    if error["type"] == "extra_forbidden":
        parent = _model_at(loc[:-1])
        known = list(parent.model_fields) if parent else []
        guess = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f" (did you mean '{guess[0]}'?)" if guess else ""
        return (f"{source.where(loc)}: unknown key {loc[-1]!r}{hint}; allowed: "
                + ", ".join(known))
    value = error.get("input")
    message = error["msg"]
    if error["type"] == "string_pattern_mismatch":
        message = "a slug of lowercase letters, digits, '.', '-' and '_', not starting with '.' or '-'"
    elif error["type"] == "missing":
        return f"{source.where(loc)}: required key missing"
    message = message.removeprefix("Input should be ").removeprefix("Value error, ")
    return f"{source.where(loc)}: got {value!r}; allowed: {message}"


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: Any = ReportFile
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        annotation = field.annotation
        for candidate in (SectionFile, SettingFile, VerdictsFile, ClaimFile, CheckFile, SweepFile,
                          GridFile):
            if candidate is annotation or candidate in getattr(annotation, "__args__", ()):
                model = candidate
                break
        else:
            return None
    return model


# --- merging and resolving ----------------------------------------------------------------------

def _merge(base: ReportFile, override: ReportFile) -> dict[str, Any]:
    """Merge two parsed files: scalars replace, sections and settings merge by id."""
    merged = base.model_dump(exclude_none=True)
    extra = override.model_dump(exclude_unset=True, exclude_none=True)
    for key in ("claims", "sweeps"):  # merged by id: a known id changes it, a new id adds one
        known = {c["id"]: c for c in merged.get(key, [])}
        for entry in extra.get(key, []):
            if entry["id"] in known:
                known[entry["id"]].update(entry)
            else:
                merged.setdefault(key, []).append(entry)
                known[entry["id"]] = entry
    for key in ("title", "seed", "theory_tolerance", "authors"):
        if key in extra:
            merged[key] = extra[key]
    merged["verdicts"] = {**merged.get("verdicts", {}), **extra.get("verdicts", {})}
    sections = {s["id"]: s for s in merged.get("sections", [])}
    for section in extra.get("sections", []):
        target = sections.get(section["id"])
        if target is None:
            merged.setdefault("sections", []).append(section)
            sections[section["id"]] = section
            continue
        for key, value in section.items():
            if key == "params":
                target["params"] = {**target.get("params", {}), **value}
            elif key != "settings":
                target[key] = value
        settings = {s["id"]: s for s in target.setdefault("settings", [])}
        for setting in section.get("settings", []):
            if setting["id"] in settings:
                current = settings[setting["id"]]
                for key, value in setting.items():
                    current[key] = {**current.get(key, {}), **value} if key == "params" else value
            else:
                target["settings"].append(setting)
                settings[setting["id"]] = setting
    return merged


def _resolve(merged: dict[str, Any], origins: dict[tuple[str, ...], str], source_name: str) -> Report:
    problems: list[str] = []
    verdicts = merged["verdicts"]
    low, high = verdicts.get("vanishes_below"), verdicts.get("explodes_above")
    if low is None or high is None or not low < high:
        problems.append(f"{origins.get(('verdicts',), source_name)}: verdicts got vanishes_below="
                        f"{low!r}, explodes_above={high!r}; allowed: 0 < vanishes_below < explodes_above")
    seen: dict[str, str] = {}
    sections: list[Section] = []
    for section in merged.get("sections", []):
        where = origins.get(("section", section["id"]), source_name)
        name = section.get("experiment")
        if name is None or section.get("title") is None:
            missing = [k for k in ("experiment", "title") if section.get(k) is None]
            problems.append(f"{where}: section {section['id']!r} is new and needs "
                            + " and ".join(repr(k) for k in missing))
            continue
        if name not in EXPERIMENTS:
            guess = difflib.get_close_matches(name, list(EXPERIMENTS), n=1)
            problems.append(f"{where}: section {section['id']!r} got experiment {name!r}"
                            + (f" (did you mean '{guess[0]}'?)" if guess else "")
                            + "; allowed: " + ", ".join(EXPERIMENTS))
            continue
        experiment = EXPERIMENTS[name]
        section_problems = []
        for key, value in section.get("params", {}).items():
            try:
                experiment.param(key).validate(value)
            except ConfigError as error:
                section_problems.append(f"{where}: section {section['id']!r}: {error}")
        if section_problems:  # its settings would only repeat these
            problems.extend(section_problems)
            continue
        if not section.get("settings"):
            problems.append(f"{where}: section {section['id']!r} has no settings; allowed: a list "
                            "of at least one setting")
            continue
        settings = []
        for setting in section["settings"]:
            swhere = origins.get(("setting", section["id"], setting["id"]), where)
            if setting["id"] in seen:
                problems.append(f"{swhere}: duplicate id {setting['id']!r} (also in section "
                                f"{seen[setting['id']]!r}); allowed: ids unique across the report")
                continue
            seen[setting["id"]] = section["id"]
            overrides = {**section.get("params", {}), **setting.get("params", {})}
            try:
                params = experiment.canonical_params(overrides, f"setting {setting['id']!r}: ")
            except ConfigError as error:
                problems.append(f"{swhere}: {error}")
                continue
            lecture = setting.get("lecture")
            label = setting.get("label") or ", ".join(
                f"{k} {v}" for k, v in setting.get("params", {}).items()) or setting["id"]
            settings.append(Setting(
                id=setting["id"], label=label, section=section["id"], experiment=experiment,
                params=params, runs=setting.get("runs") or section.get("runs") or experiment.default_runs,
                norm_runs=setting.get("norm_runs") or section.get("norm_runs") or DEFAULT_NORM_RUNS,
                lecture_log10=math.log10(lecture) if lecture else None,
                lecture_averages=section.get("lecture_averages") or 1))
        sections.append(Section(section["id"], section["title"], experiment, tuple(settings)))
    section_ids = [s["id"] for s in merged.get("sections", [])]
    for dup in sorted({i for i in section_ids if section_ids.count(i) > 1}):
        problems.append(f"{source_name}: duplicate section id {dup!r}; allowed: unique ids")
    if not sections and not problems:
        problems.append(f"{source_name}: the report has no sections; allowed: at least one")
    claims = _resolve_claims(merged.get("claims", []), {s.id for s in sections}, set(seen),
                             origins, source_name, problems)
    sweeps = _resolve_sweeps(merged.get("sweeps", []), merged["seed"], origins, source_name,
                             problems)
    if problems:
        raise ConfigError("\n".join(problems))
    return Report(title=merged["title"], seed=merged["seed"],
                  verdicts=Verdicts(math.log10(low), math.log10(high)),
                  sections=tuple(sections), source=source_name, claims=tuple(claims),
                  theory_tolerance=merged.get("theory_tolerance", 0.2),
                  authors=tuple(merged.get("authors") or ("The stabreport authors",)),
                  sweeps=tuple(sweeps))


def _resolve_sweeps(raw: list[dict[str, Any]], seed: int, origins: dict[tuple[str, ...], str],
                    source_name: str, problems: list[str]) -> list[Any]:
    from .sweeps import SWEEPABLE, Axis, Sweep, grid_axis  # numpy: only once there are sweeps

    sweeps = []
    for sweep in raw:
        where = origins.get(("sweep", sweep["id"]), source_name)
        missing = [k for k in ("title", "experiment", "grid") if not sweep.get(k)]
        if missing:
            problems.append(f"{where}: sweep {sweep['id']!r} needs " + ", ".join(repr(k) for k in missing))
            continue
        if sweep["experiment"] not in EXPERIMENTS:
            problems.append(f"{where}: sweep {sweep['id']!r} got experiment {sweep['experiment']!r}; "
                            "allowed: " + ", ".join(EXPERIMENTS))
            continue
        experiment = EXPERIMENTS[sweep["experiment"]]
        keys = list(sweep["grid"])
        if len(keys) != 2 or "scale" not in keys or not set(keys) <= set(SWEEPABLE[experiment.name]):
            problems.append(f"{where}: sweep {sweep['id']!r} got grid keys {keys}; allowed: 'scale' "
                            "and one of " + ", ".join(k for k in SWEEPABLE[experiment.name] if k != "scale"))
            continue
        try:
            axes = []
            for key, spec in sweep["grid"].items():
                if isinstance(spec, dict):
                    axes.append(grid_axis(experiment, key, spec["start"], spec["stop"], spec["num"],
                                          spec.get("log", False), f"sweep {sweep['id']!r}: {key}: "))
                else:
                    param = experiment.param(key)
                    axes.append(Axis(key, tuple(param.validate(v, f"sweep {sweep['id']!r}: ")
                                                for v in spec)))
            result = Sweep(sweep["id"], sweep["title"], experiment, dict(sweep.get("params", {})),
                           tuple(axes), sweep.get("runs") or 200, seed)
            result.cell_params()  # every cell's parameters must be valid
        except ConfigError as error:
            problems.append(f"{where}: {error}")
            continue
        sweeps.append(result)
    return sweeps


def _resolve_claims(raw: list[dict[str, Any]], section_ids: set[str], setting_ids: set[str],
                    origins: dict[tuple[str, ...], str], source_name: str,
                    problems: list[str]) -> list[ClaimSpec]:
    claims = []
    for claim in raw:
        where = origins.get(("claim", claim["id"]), source_name)
        missing = [k for k in ("section", "statement", "checks") if not claim.get(k)]
        if missing:
            problems.append(f"{where}: claim {claim['id']!r} needs " + ", ".join(repr(k) for k in missing))
            continue
        if claim["section"] not in section_ids:
            problems.append(f"{where}: claim {claim['id']!r} got section {claim['section']!r}; "
                            "allowed: one of " + ", ".join(sorted(section_ids)))
            continue
        checks = []
        for check in claim["checks"]:
            named = [check.get("setting"), *(check.get("least_extreme") or []), check.get("expect")]
            unknown = [n for n in named if n is not None and n not in setting_ids]
            if unknown:
                problems.append(f"{where}: claim {claim['id']!r} names setting {unknown[0]!r}; "
                                "allowed: a setting id of the report")
                continue
            if check.get("least_extreme"):
                if check.get("expect") not in check["least_extreme"]:
                    problems.append(f"{where}: claim {claim['id']!r}: least_extreme needs 'expect' "
                                    "set to one of the settings it lists")
                    continue
                checks.append(CheckSpec("least_extreme", check["expect"],
                                        among=tuple(check["least_extreme"])))
            elif check.get("setting") and (check.get("verdict") is None) != (check.get("not_verdict") is None):
                word = check.get("verdict") or check.get("not_verdict")
                checks.append(CheckSpec("verdict", check["setting"], word,
                                        negate=check.get("not_verdict") is not None))
            else:
                problems.append(f"{where}: claim {claim['id']!r} got check {check!r}; allowed: "
                                "{setting, verdict} or {setting, not_verdict} or {least_extreme, expect}")
        claims.append(ClaimSpec(claim["id"], claim["section"], claim.get("source") or "lecture",
                                claim["statement"], claim.get("quote"), tuple(checks)))
    return claims


def _origins(source: _Source, parsed: ReportFile) -> dict[tuple[str, ...], str]:
    """Where each section and setting of a file was declared, as 'file:line'."""
    out: dict[tuple[str, ...], str] = {("verdicts",): source.where(("verdicts",))}
    for i, claim in enumerate(parsed.claims):
        out[("claim", claim.id)] = source.where(("claims", i))
    for i, sweep in enumerate(parsed.sweeps):
        out[("sweep", sweep.id)] = source.where(("sweeps", i))
    for i, section in enumerate(parsed.sections):
        out[("section", section.id)] = source.where(("sections", i))
        for j, setting in enumerate(section.settings):
            out[("setting", section.id, setting.id)] = source.where(("sections", i, "settings", j))
    return out


def _check_duplicates_in_file(source: _Source, parsed: ReportFile) -> None:
    problems = []
    ids = [s.id for s in parsed.sections]
    for i, section in enumerate(parsed.sections):
        if ids.index(section.id) != i:
            problems.append(f"{source.where(('sections', i, 'id'))}: duplicate section id "
                            f"{section.id!r}; allowed: unique ids")
        setting_ids = [s.id for s in section.settings]
        for j, setting in enumerate(section.settings):
            if setting_ids.index(setting.id) != j:
                problems.append(f"{source.where(('sections', i, 'settings', j, 'id'))}: duplicate "
                                f"setting id {setting.id!r}; allowed: ids unique across the report")
    if problems:
        raise ConfigError("\n".join(problems))


def default_text() -> str:
    return resources.files("stabreport").joinpath("default_report.yml").read_text(encoding="utf-8")


def load_report(path: str | Path | None = None, text: str | None = None) -> Report:
    """The default report, overridden by `path` (or by YAML `text`) when given."""
    base_source = _read_source(default_text(), "default_report.yml")
    base = _parse_file(base_source)
    origins = _origins(base_source, base)
    if path is None and text is None:
        merged = _merge(base, ReportFile())
        return _resolve(merged, origins, "default_report.yml")
    if text is None:
        assert path is not None
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path}: cannot be read ({error}); allowed: a readable UTF-8 "
                              "YAML file") from None
    name = str(path) if path is not None else CONFIG
    source = _read_source(text, name)
    parsed = _parse_file(source)
    _check_duplicates_in_file(source, parsed)
    merged = _merge(base, parsed)
    return _resolve(merged, {**origins, **_origins(source, parsed)}, name)
