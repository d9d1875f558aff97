"""Any input either gives a valid result or a clean error, never a traceback."""
import math
import re

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stabreport.cli import main
from stabreport.report.config import load_report
from stabreport.errors import ConfigError
from stabreport.experiments import get_experiment
from stabreport.render.formatting import orders, pow10, signed

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))
KEYS = st.sampled_from(["id", "title", "seed", "runs", "params", "settings", "sections",
                        "experiment", "scale", "width", "verdicts", "claims", "label", "lecture",
                        "norm_runs", "activation", "bogus", "section", "checks", "verdict"])
TREES = st.recursive(SCALARS, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=5)), max_leaves=25)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TREES)
def test_config_loader_gives_a_report_or_a_clean_error(tree):
    text = yaml.safe_dump(tree, allow_unicode=True)
    try:
        report = load_report(text=text)
    except ConfigError as error:
        message = str(error)
        assert message and all(line.strip() for line in message.splitlines())
        return
    assert report.settings and all(s.runs >= 1 for s in report.settings)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_config_loader_survives_arbitrary_text(text):
    try:
        load_report(text=text)
    except ConfigError as error:
        assert str(error)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["mlp", "products", "train"]), st.lists(st.text(max_size=20), max_size=4))
def test_set_parser_gives_typed_values_or_a_clean_error(name, assignments):
    experiment = get_experiment(name)
    try:
        overrides = experiment.parse_overrides(assignments)
        params = experiment.canonical_params(overrides)
    except ConfigError as error:
        assert "allowed" in str(error) or "unknown" in str(error)
        return
    for param in experiment.params:
        if param.name not in params:  # left out of the canonical form only where it says so
            assert param.omitted_at, param.name
            continue
        value = params[param.name]
        assert value is None or isinstance(value, param.kind)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=15))
def test_cli_set_never_tracebacks(value):
    code = main(["run", "products", "--set", f"scale={value}", "--set", "factors=2", "--runs", "2",
                 "--json"])
    assert code in (0, 2)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_pow10_formats_finite_values_and_refuses_others(x):
    if not math.isfinite(x):
        try:
            pow10(x)
        except ValueError:
            return
        raise AssertionError("formatted a non-finite value")
    text = pow10(x)
    match = re.fullmatch(r"(\d)\.(\d)\u00a0×\u00a010([⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)", text)
    assert match, text
    exponent = int(match.group(3).translate(str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")))
    mantissa = float(f"{match.group(1)}.{match.group(2)}")
    assert 1.0 <= mantissa < 10.0
    assert abs(math.log10(mantissa) + exponent - x) <= 0.03 + 1e-9 * abs(x)


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6),
       st.integers(0, 4))
def test_signed_and_orders_read_back_to_the_number(x, decimals):
    text = signed(x, decimals)
    assert abs(float(text.replace("−", "-")) - x) <= 0.5 * 10**-decimals + 1e-9
    assert "orders of magnitude" in orders(x) or "order of magnitude" in orders(x)
