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
