"""Activations with their derivatives, and weight initialisers.

Everything here is plain numpy. Each activation and initialiser is declared once, in a registry
that also feeds parameter validation, `stabreport list` and the method page.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from ..render.i18n import N_, _

Array = np.ndarray


@dataclass(frozen=True)
class Activation:
    """An activation, declared once: φ, its slope φ′ (directly, or as ln φ′ for activations
    whose slope underflows in their flat tails), and what theory may assume about it."""

    name: str
    formula: str  # LaTeX, for the site
    fn: Callable[[Array], Array]
    # phi(c x) = c phi(x) for c > 0: the forward vector may then be renormalised freely,
    # because phi'(c x) = phi'(x) and the Jacobian does not depend on the vector's length.
    positively_homogeneous: bool
    slope: Callable[[Array], Array] | None = None  # φ′, where it never underflows (ReLU: 0 or 1)
    # φ′ is 1 or 0, and with zero bias and symmetric weights a unit is active (φ′ = 1) with this
    # probability, independently of the others: the gradient's law is then exact at finite width
    # (a binomial mixture of χ² laws). None where φ′ takes other values.
    gate_probability: float | None = None
    # The textbook weight variance for this activation, as width · Var W (He: 2 for ReLU,
    # LeCun: 1), and the rule's name, for comparing with the critical scale (shown: declared
    # with N_, translated where shown).
    reference_gain: float = 1.0
    reference_rule: str = N_("LeCun's 1/√k")
    # ln φ′(x), for activations whose slope underflows in their flat tails (sigmoid-like): the
    # simulation then carries each layer's slopes in the log domain, so even at scales where
    # φ′ is far below float64's range the gradient is not mistaken for zero.
    log_slope: Callable[[Array], Array] | None = None
    # What it is, in one or two sentences of Markdown (math allowed): the introduction of a
    # section about it. Its name and formula are added by the template. Declared with N_ (it is
    # translated by `introduce`).
    about: str = ""
    # Its name as a reader reads it ("scaled sigmoid"), declared with N_; the identifier if unset.
    title: str = ""
    # φ′ as a function of the output y = φ(x), as frameworks' backward passes compute it (one
    # cheap pass, where derivative() costs several transcendental ones): used in training, whose
    # float32 arithmetic has no use for the tails' precision. None: derivative(x) is used.
    slope_of_output: Callable[[Array], Array] | None = None

    @property
    def words(self) -> str:
        """Its reader's name in the language being rendered."""
        return _(self.title) if self.title else self.name

    def __post_init__(self) -> None:
        if (self.slope is None) == (self.log_slope is None):
            raise ValueError(f"activation {self.name!r}: declare exactly one of slope, log_slope")

    def derivative(self, x: Array) -> Array:
        """φ′(x), from the one declaration of the slope."""
        return self.slope(x) if self.slope is not None else np.exp(self.log_slope(x))

    def reference_scale(self, width: int) -> float:
        return float(np.sqrt(self.reference_gain / width))


def _sigmoid(x: Array) -> Array:
    # tanh form: no overflow for large |x|, unlike 1 / (1 + exp(-x)).
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _scaled_sigmoid(x: Array) -> Array:
    # 4 sigmoid(x) - 2 == 2 tanh(x / 2), written in the form that keeps full precision near 0.
    return 2.0 * np.tanh(0.5 * x)


def _log_sech2(x: Array) -> Array:
    """ln sech²(x) = 2 ln 2 − 2|x| − 2 ln(1 + e^{−2|x|}), finite for every finite x."""
    a = np.abs(x)
    return 2.0 * np.log(2.0) - 2.0 * a - 2.0 * np.log1p(np.exp(-2.0 * a))


_LOG_QUARTER = np.log(0.25)


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("relu", r"\max(0, x)", lambda x: np.maximum(x, 0.0), positively_homogeneous=True,
                   title=N_("ReLU"),
                   slope=lambda x: (x > 0).astype(x.dtype), slope_of_output=lambda y: (y > 0).astype(y.dtype),
                   gate_probability=0.5, reference_gain=2.0, reference_rule=N_("He's √(2/k)"),
                   about=N_("It passes a positive input with slope 1 and switches a negative one "
                            "off (slope 0), so on average half the units carry the gradient back.")),
        # σ′(x) = ¼ sech²(x/2); 4σ(x) − 2 = 2 tanh(x/2) has slope sech²(x/2); tanh′ = sech².
        Activation("sigmoid", r"1 / (1 + e^{-x})", _sigmoid, positively_homogeneous=False,
                   title=N_("sigmoid"),
                   log_slope=lambda x: _LOG_QUARTER + _log_sech2(0.5 * x),
                   slope_of_output=lambda y: y * (1 - y),
                   about=N_("Its slope is at most ¼ (at zero) and falls to nothing in its flat "
                            "tails, so every layer shrinks the gradient unless the weights make up "
                            "for it.")),
        Activation("scaled_sigmoid", r"4\,\sigma(x) - 2", _scaled_sigmoid, title=N_("scaled sigmoid"),
                   positively_homogeneous=False, log_slope=lambda x: _log_sech2(0.5 * x),
                   slope_of_output=lambda y: 1 - 0.25 * y * y,
                   about=N_("It equals $2\\tanh(x/2)$: slope 1 at zero like tanh, saturating at "
                            "±2.")),
        Activation("tanh", r"\tanh x", np.tanh, positively_homogeneous=False, log_slope=_log_sech2,
                   slope_of_output=lambda y: 1 - y * y,
                   title=N_("tanh"),
                   about=N_("Its slope is 1 at zero and falls in its tails (saturating at ±1): "
                            "small weights keep units near zero, where a layer is nearly linear; "
                            "large ones saturate them and flatten the slope.")),
        Activation("linear", r"x", lambda x: x, positively_homogeneous=True, title=N_("linear"),
                   slope=lambda x: np.ones_like(x), slope_of_output=np.ones_like, gate_probability=1.0,
                   about=N_("It leaves only the weights: the gradient is a product of random "
                            "matrices, as in the first experiment.")),
    )
}


@dataclass(frozen=True)
class Initialiser:
    name: str
    description: str  # its law; words in it are declared with N_ (translated by `introduce`)
    uses_scale: bool  # accepts `scale`, the standard deviation of one entry
    # Standard deviation of one weight entry for a square fan_in = fan_out = width layer.
    std: Callable[[int, float | None], float]
    sample: Callable[[np.random.Generator, int, int, float | None], Array]
    # W = std · G with G standard normal: callers may draw G and fold std in elsewhere.
    gaussian: bool = False
    # `scale` may be left out: the init then keeps its own variance (orthogonal: gain 1).
    scale_optional: bool = False
    # For any h, the signs of W h are uniform over the 2^width orthants: true for iid symmetric
    # entries (independent rows) and for a Haar-orthogonal W (W h is uniform on a sphere). With
    # zero bias a ReLU unit is then active with probability ½, independently of the others.
    uniform_signs: bool = True
    # ‖W v‖ = std · √width · ‖v‖ for every v: an orthogonal matrix times a scale.
    preserves_lengths: bool = False
    title: str = ""  # its name as a reader reads it ("Xavier uniform"), declared with N_

    @property
    def words(self) -> str:
        return _(self.title) if self.title else self.name


def _normal(std_of: Callable[[int, float | None], float]):
    def sample(rng: np.random.Generator, batch: int, width: int, scale: float | None) -> Array:
        w = rng.standard_normal((batch, width, width))
        w *= std_of(width, scale)
        return w
    return sample


def _xavier_uniform(rng: np.random.Generator, batch: int, width: int, scale: float | None) -> Array:
    bound = np.sqrt(6.0 / (width + width))
    return rng.uniform(-bound, bound, size=(batch, width, width))


def _orthogonal(rng: np.random.Generator, batch: int, width: int, scale: float | None) -> Array:
    # Haar-distributed orthogonal matrices: QR of a Gaussian matrix with the signs of R's
    # diagonal moved into Q (Mezzadri 2007); without the fix Q is not uniformly distributed.
    # With a scale, W = scale · √width · Q: entries with the variance of N(0, scale²).
    q, r = np.linalg.qr(rng.standard_normal((batch, width, width)))
    signs = np.sign(np.diagonal(r, axis1=-2, axis2=-1))
    signs[signs == 0] = 1.0
    q *= signs[:, None, :]
    if scale is not None:
        q *= scale * np.sqrt(width)
    return q


def _scale_std(width: int, scale: float | None) -> float:
    assert scale is not None
    return scale


INITIALISERS: dict[str, Initialiser] = {
    i.name: i
    for i in (
        Initialiser("normal", "N(0, scale²)", True, _scale_std, _normal(_scale_std), gaussian=True,
                    title=N_("normal")),
        Initialiser("xavier_uniform", "U(−a, a), a = √(6 / (fan_in + fan_out))", False,
                    lambda k, s: np.sqrt(2.0 / (k + k)), _xavier_uniform, title=N_("Xavier uniform")),
        Initialiser("xavier_normal", "N(0, 2 / (fan_in + fan_out))", False,
                    lambda k, s: np.sqrt(2.0 / (k + k)), _normal(lambda k, s: np.sqrt(2.0 / (k + k))),
                    gaussian=True, title=N_("Xavier normal")),
        Initialiser("he_normal", "N(0, 2 / fan_in)", False,
                    lambda k, s: np.sqrt(2.0 / k), _normal(lambda k, s: np.sqrt(2.0 / k)), gaussian=True,
                    title=N_("He normal")),
        Initialiser("lecun_normal", "N(0, 1 / fan_in)", False,
                    lambda k, s: np.sqrt(1.0 / k), _normal(lambda k, s: np.sqrt(1.0 / k)), gaussian=True,
                    title=N_("LeCun normal")),
        Initialiser("orthogonal", N_("Haar-random orthogonal matrix, times scale·√width if a "
                                     "scale is given (else gain 1)"), True,
                    lambda k, s: np.sqrt(1.0 / k) if s is None else s, _orthogonal,
                    scale_optional=True, preserves_lengths=True, title=N_("orthogonal")),
    )
}


def introduce(params: Mapping[str, Any]) -> dict[str, Any]:
    """What a section of networks introduces, from the parameters its settings share: the
    activation (name, formula, what it does) and the initialisation when all use the same, in
    the language being rendered."""
    facts: dict[str, Any] = {}
    activation = ACTIVATIONS.get(params.get("activation"))
    if activation is not None:
        facts.update(activation=activation.words, formula=activation.formula,
                     about=_(activation.about))
    init = INITIALISERS.get(params.get("init"))
    if init is not None:
        facts.update(init=init.words, init_law=_(init.description))
    return facts
