"""Factorized layers, the standard initialisation and elementwise activations: the Gram-product NTK
against automatic differentiation of an independently written network, and bad input."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntk_eoc import Activation, Architecture, Elementwise, empirical_ntk, sample_kernels
from ntk_eoc.math import draw_program

INPUT_DIM, N_POINTS = 5, 4


def network(params: list, x: jax.Array, phi, scales: list[tuple[float, ...]]) -> jax.Array:
    """N(x) written out: layer k is h = s W a (dense) or h = (1/sqrt r) U (s V a) (factorized), phi between
    layers, none on the output. ``scales`` gives per layer the multipliers of its factors (dense: (s,),
    factorized: (s_V, s_U)); params are whatever is differentiated (N(0,1) entries for eoc, the scaled
    weights themselves for standard, with all multipliers 1)."""
    h = x
    for k, (p, s) in enumerate(zip(params, scales, strict=True)):
        if k > 0:
            h = phi(h)
        if isinstance(p, tuple):
            u, v = p
            h = s[1] * ((s[0] * (h @ v.T)) @ u.T)
        else:
            h = s[0] * (h @ p.T)
    return h


def autodiff_layers(params, x, phi, scales) -> np.ndarray:
    """Per-layer NTK blocks [(1/n) sum_{w in layer k} dN_o(x_i)/dw dN_o'(x_j)/dw] from jax.jacrev."""
    jac = jax.jacrev(network)(params, x, phi, scales)
    n, out_dim = x.shape[0], network(params, x, phi, scales).shape[1]
    blocks = []
    for j in jac:
        parts = j if isinstance(j, tuple) else (j,)
        flat = np.concatenate([np.asarray(q).reshape(n * out_dim, -1) for q in parts], axis=1)
        blocks.append(flat @ flat.T / n)
    return np.stack(blocks)


def draw(widths, ranks, seed):
    """N(0,1) weights: W_k, or (U_k, V_k) for a layer with a rank."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(1, len(widths)):
        if ranks[k - 1] is None:
            out.append(jnp.asarray(rng.standard_normal((widths[k], widths[k - 1]))))
        else:
            r = ranks[k - 1]
            u = jnp.asarray(rng.standard_normal((widths[k], r)))
            v = jnp.asarray(rng.standard_normal((r, widths[k - 1])))
            out.append((u, v))
    return out


CASES = [  # (activation, widths, ranks)
    (Activation.named("relu"), (INPUT_DIM, 7, 6, 3), (None, 3, None)),
    (Activation(-0.3, 0.8), (INPUT_DIM, 6, 8, 2), (2, 7, 1)),  # rank 7 > m_1 = 6 (< m_2), rank 1
    (Activation.named("abs"), (INPUT_DIM, 4, 1), (3, None)),
    (Elementwise("tanh"), (INPUT_DIM, 6, 6, 1), (None, 2, None)),
    (Elementwise("sigmoid"), (INPUT_DIM, 6, 6, 2), (4, None, 3)),
    (Elementwise("erf"), (INPUT_DIM, 5, 5, 1), (None, None, None)),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_eoc_factorized_ntk_equals_autodiff(sphere, tol, seed, case):
    act, widths, ranks = CASES[case]
    x = jnp.asarray(sphere(N_POINTS, INPUT_DIM))
    weights = draw(widths, ranks, seed + case)
    scales = []
    for k in range(1, len(widths)):
        s = (1.0 if k == 1 else act.sigma) / math.sqrt(widths[k - 1])
        scales.append((s,) if ranks[k - 1] is None else (s, 1.0 / math.sqrt(ranks[k - 1])))
    expected = autodiff_layers(weights, x, act.phi, scales)
    got = np.asarray(empirical_ntk(weights, x, act, per_layer=True))
    t = tol["autodiff"]
    np.testing.assert_allclose(got, expected, rtol=t.rtol, atol=t.atol)


@pytest.mark.parametrize("case", range(len(CASES)))
def test_standard_init_ntk_equals_autodiff_in_the_scaled_weights(sphere, tol, seed, case):
    # Standard init differentiates the scaled weights p = s W: kaiming fan-in std 1/sqrt(m_{k-1}),
    # the output layer std 1/sqrt(m_l) (fan-out), factors U with std 1/sqrt(r).
    act, widths, ranks = CASES[case]
    x = jnp.asarray(sphere(N_POINTS, INPUT_DIM))
    weights = draw(widths, ranks, seed + 10 + case)
    depth, scaled = len(widths) - 1, []
    for k, w in enumerate(weights, start=1):
        s = 1.0 / math.sqrt(widths[k] if k == depth else widths[k - 1])
        scaled.append((w[0] / math.sqrt(ranks[k - 1]), s * w[1]) if isinstance(w, tuple) else s * w)
    ones = [(1.0,) if r is None else (1.0, 1.0) for r in ranks]
    expected = autodiff_layers(scaled, x, act.phi, ones)
    got = np.asarray(empirical_ntk(weights, x, act, per_layer=True, init="standard"))
    t = tol["autodiff"]
    np.testing.assert_allclose(got, expected, rtol=t.rtol, atol=t.atol)


def test_the_authors_three_layer_sigmoid_network_matches_autodiff_in_its_middle_block(seed, tol):
    # X ~ N(0, I_d) raw, d -> d -> d -> 1, sigmoid, no biases, standard init: block of layer 2 only.
    d, n = 6, 9
    x = jnp.asarray(np.random.default_rng(seed).standard_normal((n, d)))
    act = Elementwise("sigmoid")
    weights = draw((d, d, d, 1), (None, None, None), seed)
    scaled = [w / math.sqrt(d) for w in weights[:2]] + [weights[2]]

    def net(params):
        return jax.nn.sigmoid(jax.nn.sigmoid(x @ params[0].T) @ params[1].T) @ params[2].T

    jac = np.asarray(jax.jacrev(net)(scaled)[1]).reshape(n, -1)
    got = np.asarray(empirical_ntk(weights, x, act, per_layer=True, init="standard"))[1]
    t = tol["autodiff"]
    np.testing.assert_allclose(got, jac @ jac.T / n, rtol=t.rtol, atol=t.atol)


@pytest.mark.parametrize("method", ["explicit", "conditioned"])
def test_sampled_factorized_draw_equals_the_gram_ntk_of_its_weights(sphere, tol, seed, method):
    # The explicit draw of a factorized network: its kernel must be the empirical NTK of the factors
    # it drew (same keys). Conditioned draws are compared in law in tests/statistical.
    act, widths, ranks = Activation.named("relu"), (INPUT_DIM, 40, 40, 1), (None, 6, None)
    x = sphere(N_POINTS, INPUT_DIM)
    k = sample_kernels(x, act, widths, [3], seed, method, "float64", ranks=ranks, per_layer=True)[0]
    assert k.shape == (3, N_POINTS, N_POINTS)
    assert np.allclose(k, np.swapaxes(k, 1, 2)) and np.linalg.eigvalsh(k.sum(axis=0))[0] > 0
    if method == "explicit":
        arch = Architecture(widths, act, ranks)
        shapes = tuple((m.fan_out, m.fan_in) for m in arch.maps)  # the blocks _explicit_draw takes, in order
        with jax.enable_x64(True):
            flat = draw_program._noise(jax.random.fold_in(jax.random.key(seed), 3), shapes, jnp.float64)
        weights = [flat[0], (flat[2], flat[1]), flat[3]]
        t = tol["autodiff"]
        np.testing.assert_allclose(
            k, np.asarray(empirical_ntk(weights, x, act, per_layer=True)), rtol=t.rtol, atol=t.atol
        )


def test_architecture_counts_parameters_and_maps():
    arch = Architecture((16, 64, 64, 1), Activation.named("relu"), ranks=(None, 8, None))
    assert arch.n_params == 16 * 64 + 8 * (64 + 64) + 64
    assert arch.layer_params() == (1024, 1024, 64)
    assert arch.factorized == (False, True, False)
    assert [(m.layer, m.nonlinear) for m in arch.maps] == [(1, True), (2, False), (2, True), (3, False)]
    # eoc kernel weights are the squared scales; standard ones are 1.
    assert all(math.isclose(m.weight, m.scale**2) for m in arch.maps)
    std = Architecture((16, 64, 64, 1), Activation.named("relu"), init="standard")
    assert [m.weight for m in std.maps] == [1.0, 1.0, 1.0]
    assert [m.scale for m in std.maps] == [0.25, 0.125, 1.0]


@pytest.mark.parametrize(
    ("ranks", "message"),
    [
        ((None, 0, None), r"ranks\[1\] \(layer 2\)=0: must be an integer >= 1"),
        ((None, 65, None), r"ranks\[1\] \(layer 2\)=65: is larger than both widths m_1=64 and m_2=64"),
        ((None, 8), r"ranks=\(None, 8\): must list one entry per layer \(l=3\)"),
        ((None, 2.5, None), r"ranks\[1\] \(layer 2\)=2.5: must be an integer >= 1"),
    ],
)
def test_bad_ranks_raise_naming_the_layer_and_value(ranks, message):
    with pytest.raises(ValueError, match=message):
        Architecture((16, 64, 64, 1), Activation.named("relu"), ranks=ranks)


def test_bad_ranks_and_init_raise_in_the_sampler_before_compute(sphere, seed):
    x = sphere(N_POINTS, INPUT_DIM)
    with pytest.raises(ValueError, match=r"sample_kernels: architecture: ranks\[0\] \(layer 1\)=41: is larger"):
        sample_kernels(x, Activation.named("relu"), (INPUT_DIM, 40, 1), [0], seed, ranks=(41, None))
    with pytest.raises(ValueError, match=r"init='lecun': must be one of eoc, standard"):
        sample_kernels(x, Activation.named("relu"), (INPUT_DIM, 40, 1), [0], seed, init="lecun")


def test_unknown_elementwise_name_raises():
    with pytest.raises(ValueError, match="swish"):
        Elementwise("swish")
