"""The conditioned sampler draws K(theta) with the law of explicit N(0,1) weights (SCIENCE.md §5).

One helper, :func:`law_test`, compares two samples of kernels; every test here uses it, both to
accept the conditioned sampler and to reject deliberately wrong samplers (the power checks).

False-failure rate. Each call of :func:`law_test` spends ``FALSE_FAILURE_RATE`` = 1e-5 in total
(conftest.py), below the required 1e-4 per test:
- half on the moment z-tests: two-sample z-scores of the mean of every distinct entry (upper
  triangle with the diagonal) and of the mean of its square, Bonferroni over all of them; the
  z-scores are normal to within the central-limit error of 2000-draw means (fixed seeds make every
  outcome reproducible);
- a quarter each on two-sample Kolmogorov-Smirnov tests of lambda_min and lambda_max
  (distribution-free p-values from ``scipy.stats.ks_2samp``).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np
import pytest
from scipy import stats

from ntk_eoc import Activation, sample_kernels
from ntk_eoc.math import conditioning, draw_program
from ntk_eoc.math import samplers as samplers_module
from ntk_eoc.math.architecture import Architecture
from ntk_eoc.math.cost import choose_maps

pytestmark = pytest.mark.slow

N_DRAWS = 2000
N_POINTS, INPUT_DIM = 6, 8
SEED_EXPLICIT, SEED_CONDITIONED = 11, 12  # independent samples: distinct base seeds


@dataclass(frozen=True)
class LawTest:
    """Outcome of :func:`law_test`: the largest |z| of the moment tests against its Bonferroni
    threshold, and the KS p-values of (lambda_min, lambda_max) against theirs."""

    max_z: float
    z_threshold: float
    ks_pvalues: tuple[float, float]
    ks_threshold: float

    @property
    def same_law(self) -> bool:
        return self.max_z <= self.z_threshold and min(self.ks_pvalues) >= self.ks_threshold

    def __str__(self) -> str:
        return (
            f"max |z| = {self.max_z:.2f} (threshold {self.z_threshold:.2f}); KS p-values of "
            f"(lambda_min, lambda_max) = ({self.ks_pvalues[0]:.2e}, {self.ks_pvalues[1]:.2e}) "
            f"(threshold {self.ks_threshold:.1e})"
        )


def _two_sample_z(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Welch z-scores of mean(a) - mean(b), column by column."""
    se = np.sqrt(a.var(axis=0, ddof=1) / a.shape[0] + b.var(axis=0, ddof=1) / b.shape[0])
    return (a.mean(axis=0) - b.mean(axis=0)) / se


def _rounded_to_zero(eig: np.ndarray, rel: float) -> np.ndarray:
    """Eigenvalues (draws, N), ascending, with those below rel * lambda_max in magnitude set to 0."""
    return np.where(np.abs(eig) < rel * eig[:, -1:], 0.0, eig)


def law_test(first: np.ndarray, second: np.ndarray, alpha: float, bonferroni) -> LawTest:
    """Test that two samples of (draws, N, N) symmetric kernels have the same law, at total level alpha.

    Eigenvalues within rounding of 0 (|lambda| < N eps lambda_max of the draw) count as exactly 0: a
    singular K (rank-deficient layers) has lambda_min at that level, and there its value is rounding noise
    of the route and the solver, not a property of the law."""
    size = first.shape[-1]
    iu = np.triu_indices(size)
    entries_a, entries_b = first[:, iu[0], iu[1]], second[:, iu[0], iu[1]]
    moments_a = np.concatenate([entries_a, entries_a**2], axis=1)
    moments_b = np.concatenate([entries_b, entries_b**2], axis=1)
    z = _two_sample_z(moments_a, moments_b)
    eig_a, eig_b = (_rounded_to_zero(np.linalg.eigvalsh(k), np.finfo(k.dtype).eps * size) for k in (first, second))
    pvalues = tuple(float(stats.ks_2samp(eig_a[:, j], eig_b[:, j]).pvalue) for j in (0, -1))
    return LawTest(
        max_z=float(np.abs(z).max()),
        z_threshold=bonferroni(z.size, alpha / 2.0),
        ks_pvalues=pvalues,
        ks_threshold=alpha / 4.0,
    )


def _draws(x, act, widths, method, seed, n_draws=N_DRAWS, per_layer=False, ranks=None, dtype="float64", routes=None):
    kw = {"per_layer": per_layer, "ranks": ranks, "routes": routes}
    return sample_kernels(x, act, widths, range(n_draws), seed, method, dtype, **kw)


def _every_map(arch, n):
    """Routes that condition every map (Q of rank < fan_in or, for fan_in <= n, a rank-deficient Gram)."""
    return (True,) * len(arch.maps)


def _wide_input_maps(arch, n):
    """Routes that condition every map with more inputs than points (where Q is not square)."""
    return tuple(m.fan_in > n for m in arch.maps)


def _conditioned_with_routes(x, act, widths, seed, routes=_every_map):
    """Conditioned draws with the route of every map given by ``routes`` instead of the cost model."""
    return _draws(x, act, widths, "conditioned", seed, routes=routes(Architecture(widths, act), x.shape[0]))


@pytest.fixture(scope="module")
def x(sphere):
    return sphere(N_POINTS, INPUT_DIM)


# (activation, widths). The cost model conditions map 1 of the first (n = 6); the others condition every
# map with more inputs than points (the cost model draws such small maps explicitly: the n x n eigh's
# fixed cost dominates). The second has m_l = 3, where D has n m_l = 18 rows; the third has a hidden layer
# narrower than n.
CASES = [
    (Activation.named("relu"), (INPUT_DIM, 64, 64, 1)),
    (Activation.named("abs"), (INPUT_DIM, 48, 48, 3)),
    (Activation(-0.3, 0.8), (INPUT_DIM, 64, 4, 48, 1)),
]


@pytest.fixture(scope="module")
def relu_samples(x):
    """Explicit draws and per-layer conditioned draws of the first case; conditioned draws
    N_DRAWS..3 N_DRAWS - 1 feed the wrong samplers of the power checks."""
    act, widths = CASES[0]
    assert any(choose_maps(Architecture(widths, act), N_POINTS)), "the case must exercise conditioning"
    explicit = _draws(x, act, widths, "explicit", SEED_EXPLICIT)
    layers = _draws(x, act, widths, "conditioned", SEED_CONDITIONED, n_draws=3 * N_DRAWS, per_layer=True)
    return explicit, layers


@pytest.mark.parametrize(("act", "widths"), CASES[1:], ids=["abs-m_l=3", "ab-narrow-layer"])
def test_conditioned_sampler_has_the_law_of_explicit_weights(x, bonferroni, false_failure_rate, act, widths):
    explicit = _draws(x, act, widths, "explicit", SEED_EXPLICIT)
    conditioned = _conditioned_with_routes(x, act, widths, SEED_CONDITIONED, _wide_input_maps)
    result = law_test(explicit, conditioned, false_failure_rate, bonferroni)
    assert result.same_law, str(result)


def test_conditioned_relu_sampler_has_the_law_of_explicit_weights(relu_samples, bonferroni, false_failure_rate):
    explicit, layers = relu_samples
    result = law_test(explicit, layers[:N_DRAWS].sum(axis=1), false_failure_rate, bonferroni)
    assert result.same_law, str(result)


def test_law_test_rejects_a_sampler_with_last_layer_weights_scaled_by_1_1(relu_samples, bonferroni, false_failure_rate):
    # N is linear in W_l, so scaling W_l by 1.1 scales dN/dW_k by 1.1 for k < l and leaves dN/dW_l:
    # K_wrong = 1.21 sum_{k<l} K_k + K_l, an exact draw of the wrong network.
    explicit, layers = relu_samples
    fresh = layers[N_DRAWS : 2 * N_DRAWS]
    wrong = 1.21 * fresh[:, :-1].sum(axis=1) + fresh[:, -1]
    result = law_test(explicit, wrong, false_failure_rate, bonferroni)
    assert not result.same_law, str(result)


def test_law_test_rejects_a_mean_preserving_sampler_with_half_the_covariance(
    relu_samples, bonferroni, false_failure_rate
):
    # The average of two independent draws has the right mean and half the covariance: only the
    # second moments and the eigenvalue laws can tell.
    explicit, layers = relu_samples
    totals = layers[N_DRAWS:].sum(axis=1)
    wrong = 0.5 * (totals[:N_DRAWS] + totals[N_DRAWS:])
    result = law_test(explicit, wrong, false_failure_rate, bonferroni)
    assert not result.same_law, str(result)


@pytest.mark.parametrize(
    ("act", "widths"),
    [
        (Activation.named("leaky_relu", alpha=0.2), (5, 32, 4, 16, 2)),
        (Activation.named("relu"), (INPUT_DIM, 3, 32, 16, 1)),
    ],
    ids=["leaky-n>m_in", "relu-dead-units"],
)
def test_every_conditioning_branch_has_the_law_of_explicit_weights(sphere, bonferroni, false_failure_rate, act, widths):
    """Condition every layer, overriding the cost model: inputs of rank < n (m_{k-1} < n: the Gram B B^T
    is singular and its null directions are dropped), and the direct draw of G D^T (m_k < n m_l), which
    the cost model never chooses here. With ReLU and a 3-unit layer, 1 point in 8 has all units dead:
    a zero row of B, and zero rows of D."""
    x = sphere(N_POINTS, widths[0])
    explicit = _draws(x, act, widths, "explicit", SEED_EXPLICIT)
    conditioned = _conditioned_with_routes(x, act, widths, SEED_CONDITIONED)
    result = law_test(explicit, conditioned, false_failure_rate, bonferroni)
    assert result.same_law, str(result)


def _delta_apply_without_projection(noise, state, d, delta_gram):
    """A wrong backward pass: D W = Y^T + (Z1 D^T)^T Q^T, Y not projected off the row span of B."""
    basis_t, z1 = state
    y_t = conditioning.noise_rows_from(noise, d, delta_gram)
    return y_t + conditioning.dot(conditioning.dot(z1, d.T).T, basis_t)


def test_law_test_rejects_a_conditioned_sampler_that_skips_the_projection(
    x, monkeypatch, bonferroni, false_failure_rate
):
    """(I - Q Q^T) left out: W^T gets twice the variance along the n directions of B's row span. Narrow
    layers (m_k = 8 > n = 6) make that a large part of the backward pass.

    A sampler that keeps the projection but draws the row-span part independently of the forward pass
    (Q = 0: tau = 1) changes only higher moments of K (by the H -> -H symmetry of the gates, the second
    moments agree) and is not rejected even at 10,000 draws; that coupling is checked pathwise instead
    (B Q Z1 = R^T Z1, tests/unit/test_conditioning.py)."""
    act, widths = Activation.named("relu"), (INPUT_DIM, 8, 8, 1)
    explicit = _draws(x, act, widths, "explicit", SEED_EXPLICIT)
    # fault injection: the compiled programs are shared module-wide, so they are dropped before and after
    monkeypatch.setattr(draw_program, "delta_apply_from", _delta_apply_without_projection)
    samplers_module._compiled_draw.cache_clear()
    jax.clear_caches()
    try:
        wrong = _conditioned_with_routes(x, act, widths, SEED_CONDITIONED)
    finally:
        monkeypatch.undo()
        samplers_module._compiled_draw.cache_clear()
        jax.clear_caches()
    result = law_test(explicit, wrong, false_failure_rate, bonferroni)
    assert not result.same_law, str(result)


def test_float32_conditioned_draws_have_the_law_of_explicit_weights(relu_samples, x, bonferroni, false_failure_rate):
    """The Gram route in the default sampling dtype: float32 wide matmuls, float64 n x n factorizations."""
    act, widths = CASES[0]
    explicit, _ = relu_samples
    conditioned = _draws(x, act, widths, "conditioned", SEED_CONDITIONED + 1, dtype="float32").astype(np.float64)
    result = law_test(explicit, conditioned, false_failure_rate, bonferroni)
    assert result.same_law, str(result)


def test_duplicate_inputs_keep_the_law_and_give_equal_kernel_rows(x, bonferroni, false_failure_rate):
    """Points 0 and 1 equal: every Gram B B^T is singular. Rows 0 and 1 of K must agree (the null
    direction is dropped from Q, and its eigenvalue, rounding noise ~eps64 lam_max, contributes
    ~sqrt(eps64) to H), and K on the distinct points must have the law of explicit weights."""
    act, widths = Activation.named("relu"), (INPUT_DIM, 64, 64, 1)
    twin = np.concatenate([x[:1], x[:-1]])
    explicit = _draws(twin, act, widths, "explicit", SEED_EXPLICIT)
    conditioned = _draws(twin, act, widths, "conditioned", SEED_CONDITIONED)
    scale = np.abs(conditioned).max(axis=(1, 2), keepdims=True)[:, 0]
    assert np.abs(conditioned[:, 0] - conditioned[:, 1]).max(axis=1).max() <= 1e-6 * scale.max()
    result = law_test(explicit[:, 1:, 1:], conditioned[:, 1:, 1:], false_failure_rate, bonferroni)
    assert result.same_law, str(result)


@pytest.mark.parametrize(
    ("act", "widths", "ranks"),
    [
        (Activation.named("relu"), (INPUT_DIM, 64, 64, 1), (None, 24, None)),
        (Activation.named("abs"), (INPUT_DIM, 48, 96, 2), (16, 40, None)),
    ],
    ids=["relu-rank24", "abs-factorized-first-layer"],
)
def test_conditioned_factorized_sampler_has_the_law_of_explicit_factors(
    x, bonferroni, false_failure_rate, act, widths, ranks
):
    arch = Architecture(widths, act, ranks)
    routes = choose_maps(arch, N_POINTS)
    factors = [c for c, m in zip(routes, arch.maps, strict=True) if arch.factorized[m.layer - 1]]
    assert any(factors), "the case must condition a factor U_k or V_k"
    explicit = _draws(x, act, widths, "explicit", SEED_EXPLICIT, ranks=ranks)
    conditioned = _draws(x, act, widths, "conditioned", SEED_CONDITIONED, ranks=ranks)
    result = law_test(explicit, conditioned, false_failure_rate, bonferroni)
    assert result.same_law, str(result)
