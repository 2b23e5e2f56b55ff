"""The (a,b)-ReLU family and its EOC constants (SCIENCE.md §1)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from ntk_eoc import Activation
from ntk_eoc.math.activations import LEAKY_RELU_ALPHA, activation_from_config

# (a, b) pairs covering both signs of a and b, a pure |s|, ReLU and a near-linear member.
AB_PAIRS = [(0.5, 0.5), (0.0, 1.0), (-0.3, 0.8), (0.7, -0.2), (0.9, 0.1)]


@pytest.mark.parametrize(
    ("name", "alpha", "a", "b", "sigma2", "delta", "kappa2"),
    [
        ("relu", None, 0.5, 0.5, 2.0, 0.5, 2.0),
        ("abs", None, 0.0, 1.0, 1.0, 1.0, 1.0),
        ("identity", None, 1.0, 0.0, 1.0, 0.0, 1.0),
        # leaky ReLU alpha = 0.2: (0.6, 0.4), a^2 + b^2 = 0.52, Delta = 0.16/0.52, kappa^2 = 1/0.52
        ("leaky_relu", 0.2, 0.6, 0.4, 1.0 / 0.52, 0.16 / 0.52, 1.0 / 0.52),
    ],
)
def test_named_activation_has_the_science_constants(name, alpha, a, b, sigma2, delta, kappa2):
    act = Activation.named(name, alpha=alpha)
    # The constants are one or two float64 operations from exact decimal inputs: a few ulp.
    np.testing.assert_allclose([act.a, act.b], [a, b], rtol=1e-15, atol=1e-16)
    np.testing.assert_allclose([act.sigma2, act.delta, act.kappa**2], [sigma2, delta, kappa2], rtol=1e-14)
    np.testing.assert_allclose(act.sigma**2, act.sigma2, rtol=1e-14)


@pytest.mark.parametrize(("a", "b"), AB_PAIRS)
def test_kappa_squared_equals_one_plus_two_sqrt_delta_one_minus_delta(a, b):
    act = Activation(a, b)
    # Two algebraically equal float64 expressions of O(1) size: a few ulp apart.
    np.testing.assert_allclose(act.kappa**2, 1.0 + 2.0 * math.sqrt(act.delta * (1.0 - act.delta)), rtol=1e-14)
    assert 1.0 <= act.kappa <= math.sqrt(2.0) + 1e-15  # kappa = sqrt 2 at Delta = 1/2, up to an ulp


@pytest.mark.parametrize(("a", "b"), AB_PAIRS)
def test_phi_and_its_derivative_match_the_definition(a, b):
    act = Activation(a, b)
    s = np.array([-2.5, -1.0, -1e-3, 0.0, 1e-3, 0.7, 3.0])
    expected_phi = np.where(s >= 0, (a + b) * s, (a - b) * s)
    expected_dphi = np.where(s > 0, a + b, np.where(s < 0, a - b, a))  # phi'(0) = a
    # One multiply-add per entry: exact to an ulp.
    np.testing.assert_allclose(np.asarray(act.phi(s)), expected_phi, rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(np.asarray(act.dphi(s)), expected_dphi, rtol=1e-15, atol=1e-15)


def test_relu_phi_is_max_with_zero():
    s = np.linspace(-3.0, 3.0, 13)
    np.testing.assert_array_equal(np.asarray(Activation.named("relu").phi(s)), np.maximum(s, 0.0))


def test_only_the_identity_is_flagged_linear_and_warns():
    assert Activation.named("identity").is_linear
    assert not Activation.named("relu").is_linear
    with pytest.warns(UserWarning, match="Delta_phi = 0"):
        Activation(2.0, 0.0).warn_if_linear()


def test_default_name_records_a_and_b():
    assert Activation(-0.3, 0.8).name == "ab(-0.3,0.8)"


@pytest.mark.parametrize(
    ("a", "b", "match"),
    [
        (0.0, 0.0, r"a=0.0: max\(\|a\|, \|b\|\) is below 1e-100 \(a = b = 0 is the zero function\)"),
        (float("nan"), 1.0, r"a=nan: must be finite"),
        (1.0, float("nan"), r"b=nan: must be finite"),
        (float("inf"), 1.0, r"a=inf: must be finite"),
        (0.5, -float("inf"), r"b=-inf: must be finite"),
        (1e-300, 1e-300, r"a=1e-300: max\(\|a\|, \|b\|\) is below 1e-100"),
        (0.5, 1e200, r"b=1e\+200: must satisfy \|value\| <= 1e\+100"),
    ],
)
def test_bad_coefficients_raise_value_error_naming_the_value(a, b, match):
    with pytest.raises(ValueError, match=match):
        Activation(a, b)


def test_unknown_activation_name_raises_naming_it():
    with pytest.raises(ValueError, match=r"name='gelu': unknown"):
        Activation.named("gelu")


@pytest.mark.parametrize("alpha", [float("nan"), float("inf")])
def test_leaky_relu_without_a_finite_alpha_raises(alpha):
    with pytest.raises(ValueError, match=rf"activation: alpha={alpha!r}: must be finite"):
        Activation.named("leaky_relu", alpha=alpha)


def test_leaky_relu_defaults_to_the_config_alpha():
    config = (Path(__file__).parents[3] / "config/hydra/activation/leaky_relu.yaml").read_text()
    assert f"alpha: {LEAKY_RELU_ALPHA}" in config
    leaky = Activation.named("leaky_relu")
    assert (leaky.alpha, leaky.a, leaky.b) == (LEAKY_RELU_ALPHA, 0.55, 0.45)


def test_alpha_with_a_member_other_than_leaky_relu_raises():
    with pytest.raises(ValueError, match=r"alpha=0.1: is only used by leaky_relu, not by 'relu'"):
        Activation.named("relu", alpha=0.1)


@pytest.mark.parametrize(
    "section",
    [{"name": "relu"}, {"name": "abs"}, {"name": "identity"}, {"name": "leaky_relu", "alpha": -0.3},
     {"name": "custom", "a": 0.25, "b": -0.75}, {"name": "tanh"}],
)  # fmt: skip
def test_config_section_round_trips(section):
    act = activation_from_config(section)
    assert act.config() == section and activation_from_config(act.config()) == act
