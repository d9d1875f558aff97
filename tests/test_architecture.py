"""The layout's promises, checked on the source: the core asks declarations, it never branches on
an experiment's, an activation's or an initialiser's name; and no cache key is a hand-bumped
version."""
import ast
import re
from pathlib import Path

from helpers import PROJECT

from stabreport.experiments import names
from stabreport.experiments.nn import ACTIVATIONS, INITIALISERS

PACKAGE = PROJECT / "stabreport"
DECLARATIONS = set((PACKAGE / "experiments").glob("*.py"))  # nn.py (activations, initialisers) too
NAMES = set(names()) | set(ACTIVATIONS) | set(INITIALISERS)


def _core_modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p not in DECLARATIONS
                  and p.parent != PACKAGE / "experiments")


def _named_constants(node: ast.AST) -> list[str]:
    values = node.elts if isinstance(node, (ast.Tuple, ast.List, ast.Set)) else [node]
    return [v.value for v in values if isinstance(v, ast.Constant) and v.value in NAMES]


def test_no_core_module_compares_a_string_to_an_experiment_or_activation_name():
    found = []
    for path in _core_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                for operand in [node.left, *node.comparators]:
                    found += [f"{path.relative_to(PROJECT)}:{node.lineno}: {name!r}"
                              for name in _named_constants(operand)]
            elif isinstance(node, ast.Dict):
                found += [f"{path.relative_to(PROJECT)}:{node.lineno}: {key.value!r} as a key"
                          for key in node.keys if isinstance(key, ast.Constant) and key.value in NAMES]
    assert found == []


def test_no_template_branches_on_an_experiment_or_activation_name():
    pattern = re.compile(r"""(==|!=|equalto["']?\s*,)\s*["']([a-z_]+)["']""")
    found = [f"{path.relative_to(PROJECT)}: {match.group(2)!r}"
             for path in sorted((PROJECT / "templates").rglob("*.j2"))
             for match in pattern.finditer(path.read_text()) if match.group(2) in NAMES]
    assert found == []


def test_no_cache_key_carries_a_hand_bumped_version():
    pattern = re.compile(r"""(VERSION\s*=|version\s*=\s*["'])""")
    found = [f"{path.relative_to(PROJECT)}:{number}: {line.strip()}"
             for path in [*_core_modules(), *sorted(DECLARATIONS)]
             for number, line in enumerate(path.read_text().splitlines(), 1)
             if pattern.search(line) and "__version__" not in line]
    assert found == []


# --- the registries: figure kinds, statistics, claim checks, paths, languages, pages --------------

def _registered() -> dict[str, str]:
    """Every registered name of the open sets, with the set it belongs to."""
    from stabreport.core.results import PATHS
    from stabreport.render.kinds import FIGURES
    from stabreport.render.languages import LANGUAGES
    from stabreport.report.checks import CHECKS
    from stabreport.report.config import load_report
    from stabreport.report.model import HOME
    from stabreport.report.statistics import CELL_STATISTICS, SETTING_STATISTICS

    # The pages that once behaved by their id: the home page, the gain figure's and the explorer's
    # (a page's behaviour is declared in the config, never read off its id; a link to a page of
    # the lecture by its id is not behaviour).
    lecture = load_report()
    names = {HOME: "page"}
    names |= {p.id: "page" for p in lecture.pages if p.figures or p.explorer}
    names |= {name: "path" for name in PATHS}
    names |= {name: "language" for name in LANGUAGES.names()}
    names |= {name: "claim check" for name in CHECKS.names()}
    names |= {name: "statistic" for name in SETTING_STATISTICS.names() + CELL_STATISTICS.names()}
    names |= {name: "figure kind" for name in FIGURES.names()}
    return names


# Where the names are declared (and the experiments, which declare their own words and pages).
REGISTRY_DECLARATIONS = {PACKAGE / "core" / "results.py", PACKAGE / "report" / "model.py",
                         PACKAGE / "render" / "languages.py", PACKAGE / "report" / "default_report.yml"}
REGISTRY_FOLDERS = {PACKAGE / "render" / "kinds", PACKAGE / "report" / "statistics",
                    PACKAGE / "report" / "checks", PACKAGE / "experiments"}


def _outside_declarations(path: Path) -> bool:
    return path not in REGISTRY_DECLARATIONS and not any(path.is_relative_to(f) for f in REGISTRY_FOLDERS)


def _compared_constants(node: ast.AST) -> list[ast.Constant]:
    values = node.elts if isinstance(node, (ast.Tuple, ast.List, ast.Set)) else [node]
    return [v for v in values if isinstance(v, ast.Constant) and isinstance(v.value, str)]


def test_no_module_compares_a_string_with_a_registered_name_outside_its_declaration():
    names, found = _registered(), []
    for path in sorted(p for p in PACKAGE.rglob("*.py") if _outside_declarations(p)):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                for operand in [node.left, *node.comparators]:
                    found += [f"{path.relative_to(PROJECT)}:{node.lineno}: {c.value!r} "
                              f"({names[c.value]})" for c in _compared_constants(operand)
                              if c.value in names]
    assert found == []


# A template's comparisons: ==/!= "x", "x" in/not in ..., in ("x", ...) or in ["x", ...], and the
# tests of selectattr/rejectattr/select ("equalto", "x"; "in", [...]).
_TEMPLATE_COMPARISONS = re.compile(
    r"""(?:==|!=|\b(?:equalto|eq|ne|sameas)["']?\s*,)\s*(["'][\w.-]+["'])"""
    r"""|(["'][\w.-]+["'])\s*(?:==|!=|\bnot\s+in\b|\bin\b)"""
    r"""|\bin["']?\s*,?\s*([(\[][^)\]]*[)\]])""")


def test_no_template_compares_a_string_with_a_registered_name():
    names = _registered()
    templates = [*sorted((PROJECT / "templates").rglob("*.j2")),
                 *sorted((PACKAGE / "report" / "skeleton").rglob("*.j2"))]
    found = []
    for path in templates:
        for match in _TEMPLATE_COMPARISONS.finditer(path.read_text()):
            quoted = re.findall(r"""["']([\w.-]+)["']""", "".join(g or "" for g in match.groups()))
            found += [f"{path.relative_to(PROJECT)}: {name!r} ({names[name]})" for name in quoted
                      if name in names]
    assert found == []


def test_the_architecture_test_finds_each_form_it_forbids(tmp_path):
    """The patterns find what they exist to find (a template test that found nothing would pass)."""
    forms = ['{% if f.kind == "gain" %}', "{% if kind != 'dead-x' %}", '{% if "tangent" in paths %}',
             '{% if p.id in ["index", "x"] %}', '{{ xs|selectattr("kind", "equalto", "law") }}',
             '{{ xs|selectattr("kind", "in", ["verdict", "least_extreme"]) }}']
    for form in forms:
        quoted = [q for m in _TEMPLATE_COMPARISONS.finditer(form)
                  for q in re.findall(r"""["']([\w.-]+)["']""", "".join(g or "" for g in m.groups()))]
        assert set(quoted) & {"gain", "dead-x", "tangent", "index", "law", "verdict"}, form
    source = 'if kind == "phase" or path in ("full", "x"):\n    pass\n'
    constants = [c.value for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Compare)
                 for operand in [node.left, *node.comparators] for c in _compared_constants(operand)]
    assert {"phase", "full"} <= set(constants)
