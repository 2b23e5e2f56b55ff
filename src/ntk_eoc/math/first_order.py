"""The first-order finite-width theory of the whole NTK matrix: the covariance of every entry, the 1/m
shift of its mean, and the predicted law of ||K(theta) - K_inf||.   [SCIENCE §6.1]

For inputs on the sphere (||x||^2 = m_0; other norms by homogeneity, K_theta(c x, c' x') = c c' K_theta)
and output dimension 1, write G_0 = X X^T / m_0, G_j = sigma^2 phi(h_j) phi(h_j)^T / m_j the forward Gram
of hidden layer j = 1..l-1 and B_j = <delta_j, delta_j'> its backward Gram (B_l = 1 1^T). Exactly,

    K_theta = sum_{k=1}^{l} G_{k-1} o B_k                 (o: entrywise; the matrix K is K_theta / n)
    G_j = F(G_{j-1}) + eG_j,        B_j = Fdot(G_{j-1}) o B_{j+1} + eB_j,

with F(G)_ab = sqrt(G_aa G_bb) f(rho_ab), Fdot(G)_ab = fdot(rho_ab), rho_ab = G_ab / sqrt(G_aa G_bb) (the
maps f, fdot of SCIENCE §3), and (eG_j, eB_j) the fluctuation of layer j's average over its m_j neurons of
the one-neuron features

    y_j = ( sigma^2 phi(h) phi(h)^T,  sigma^2 (phi'(h) o u) (phi'(h) o u)^T ) - their means,
    h ~ N(0, G_{j-1}),  u ~ N(0, B_{j+1}) independent of h

(the backward signal's Gaussian law given the forward pass). Fluctuations of different layers have zero
mean and are uncorrelated, each of covariance Cov(y_j) / m_j. Linearizing the recursion at the limit
(L_j its derivative with respect to layer j's fluctuation) gives, to first order in 1/m_k,

    K - K_inf ~= sum_j L_j y_j / sqrt(m_j) (Gaussian),     Cov(K) ~= sum_j Cov(L_j y_j) / m_j,
    E[K] - K_inf ~= (1/2) sum_j E[D^2 K (y_j, y_j)] / m_j + sum_j L_j (0, dB_j)    (the mean shift, order
                    1/m: the recursion's curvature and the shared-weight term below).

The backward signal u reaching layer j is W_{j+1}^T delta_{j+1}, and delta_{j+1} depends on W_{j+1} through
h_{j+1}: taken exactly (Gaussian integration by parts in W_{j+1}), the mean of B_j gains, for j <= l-2,

    dB_j = (1/m_j) sigma^6 (2 b^2 / pi) / sqrt(1 - rho_j^2) E[phi'(h) phi'(h') (2 phi(h) phi(h')
           - rho_j (phi(h)^2 + phi(h')^2))] B_{j+2},      h ~ N(0, G_{j-1}), rho_j = G_j off the diagonal

(phi'' = 2b delta(s): E[phi''(h) phi''(h')] = 2b^2 / (pi sqrt(1-rho^2)) and E[phi'''(h) phi'(h')] is -rho
times that), zero on the diagonal and for j = l-1, propagated to K linearly; the covariance is unchanged at
first order.

On the diagonal every map is linear (F(G)_aa = G_aa, Fdot_aa = 1), so E[K_ii] = l / n exactly and the
relative variance is sum_k w(k/l) / m_k, the first order of the product form V_diag (SCIENCE §6). Off the
diagonal f and fdot are curved and the mean shifts by O(1/m).

The one-neuron expectations have no closed form off the diagonal (four-point orthant integrals of
a s + b|s|); they are computed by Monte Carlo over ``samples`` neurons per layer (fixed seed), all layers
perturbed at once with independent neurons (the cross-layer terms have mean zero), and every estimate
carries its standard error from batch means. The cost depends on n, l and ``samples``, not on the widths.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ..validate import flag, input_points, integer, real
from .activations import Activation
from .layout import dataset_scale
from .limit import limit_kernel

__all__ = ["FirstOrderKernel", "first_order_kernel", "predicted_deviations", "relative_variance_dsum"]

_TWO_OVER_PI = 2.0 / math.pi
# Float64 entries of one batch's tangents and their intermediates (about 8 arrays of this size).
_BATCH_ENTRIES = 2**21
# Batches whose spread gives the Monte Carlo standard errors.
_SE_GROUPS = 32


@dataclasses.dataclass(frozen=True)
class FirstOrderKernel:
    """The first-order model of K(theta) for one dataset, activation and set of hidden widths.

    Attributes:
        limit: K_inf, the (n, n) NTK matrix (with its 1/n).
        rows, cols: the upper-triangle index pairs (i <= j) that order the P = n(n+1)/2 entries.
        covariance: (P, P) first-order Cov(K_ij, K_kl) over those entries.
        covariance_se: its Monte Carlo standard error.
        mean_shift: (n, n) E[K] - K_inf to order 1/m (zero on the diagonal).
        mean_shift_se: its Monte Carlo standard error.
        hidden_widths: m_1..m_{l-1} the model is for; samples: neurons per layer of the estimate.
    """

    limit: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    covariance: np.ndarray
    covariance_se: np.ndarray
    mean_shift: np.ndarray
    mean_shift_se: np.ndarray
    hidden_widths: tuple[float, ...]
    samples: int

    def scaled(self, factor: float) -> FirstOrderKernel:
        """The model for every hidden width multiplied by ``factor`` (covariance and shift divide by it)."""
        c = real("factor", factor, positive=True, where="FirstOrderKernel.scaled")
        return dataclasses.replace(
            self,
            covariance=self.covariance / c,
            covariance_se=self.covariance_se / c,
            mean_shift=self.mean_shift / c,
            mean_shift_se=self.mean_shift_se / c,
            hidden_widths=tuple(m * c for m in self.hidden_widths),
        )

    def entry_covariance(self) -> np.ndarray:
        """Cov(K_ab, K_cd) as an (n, n, n, n) array (symmetric under a<->b, c<->d and (ab)<->(cd))."""
        n = self.limit.shape[0]
        index = np.empty((n, n), dtype=np.int64)
        index[self.rows, self.cols] = np.arange(self.rows.size)
        index[self.cols, self.rows] = index[self.rows, self.cols]
        return self.covariance[index[:, :, None, None], index[None, None, :, :]]

    def relative_diagonal_variance(self) -> np.ndarray:
        """Var(K_ii) / E[K_ii]^2 per point i: the first order of V_diag (SCIENCE §6) for inputs on the sphere."""
        diagonal = np.flatnonzero(self.rows == self.cols)
        return np.diag(self.covariance)[diagonal] / np.diag(self.limit) ** 2


def _f(rho, delta):
    return (1.0 - delta) * rho + delta * _TWO_OVER_PI * (jnp.sqrt(1.0 - rho * rho) + rho * jnp.arcsin(rho))


def _off_diagonal_cosines(g):
    d = jnp.sqrt(jnp.diagonal(g))
    eye = jnp.eye(g.shape[0], dtype=bool)
    return eye, d[:, None] * d[None, :], jnp.where(eye, 0.0, g / (d[:, None] * d[None, :]))


def _forward_map(g, delta):
    """F(G): sqrt(G_aa G_bb) f(rho_ab) off the diagonal, G_aa on it (f(1) = 1)."""
    eye, scale, rho = _off_diagonal_cosines(g)
    return jnp.where(eye, g, scale * _f(rho, delta))


def _derivative_map(g, delta):
    """Fdot(G): fdot(rho_ab) = (1-Delta) + Delta (2/pi) arcsin rho_ab, 1 on the diagonal."""
    eye, _, rho = _off_diagonal_cosines(g)
    return jnp.where(eye, 1.0, (1.0 - delta) + delta * _TWO_OVER_PI * jnp.arcsin(rho))


def _recursion(eg, eb, g0, delta):
    """(K_theta, G_0..G_{l-2}, G_{l-1}, B_1..B_{l-1}) with the fluctuations eg, eb (l-1, n, n) added layer by
    layer."""

    def forward(g, e):
        return _forward_map(g, delta) + e, g

    g_last, g_before = jax.lax.scan(forward, g0, eg)  # g_before[j-1] = G_{j-1}; g_last = G_{l-1}
    ones = jnp.ones_like(g0)

    def backward(carry, inputs):
        b, k = carry
        g, e = inputs
        b = _derivative_map(g, delta) * b + e
        return (b, k + g * b), b

    (_, k), b_layers = jax.lax.scan(backward, (ones, g_last * ones), (g_before, eb), reverse=True)
    return k, g_before, g_last, b_layers


def _jet(fn, g, x1, x2):
    """Second-order jet of fn at the point g along g + e x1 + (e^2/2) x2: (D fn[x1], D fn[x2] + D^2 fn[x1, x1])."""

    def along(point):
        return jax.jvp(fn, (point,), (x1,))[1]

    y1, y11 = jax.jvp(along, (g,), (x1,))
    return y1, jax.jvp(fn, (g,), (x2,))[1] + y11


def _kernel_jet(g_before, g_last, tg, tb, delta):
    """(D K_theta[t], D^2 K_theta[t, t]) for the fluctuations t = (tg, tb) of every layer, propagated through
    the recursion as second-order jets around the limit trajectory (g_before[j-1] = G_{j-1}, g_last =
    G_{l-1}); the fluctuation of layer j enters linearly, G_j = F(G_{j-1}) + e tg_j, B_j = ... + e tb_j."""
    forward_map = functools.partial(_forward_map, delta=delta)
    derivative_map = functools.partial(_derivative_map, delta=delta)
    zero = jnp.zeros_like(g_last)

    def forward(carry, inputs):
        x1, x2 = carry  # the jet of G_{j-1}
        g, t = inputs
        y1, y2 = _jet(forward_map, g, x1, x2)
        return (y1 + t, y2), (x1, x2)

    (last1, last2), (before1, before2) = jax.lax.scan(forward, (zero, zero), (g_before, tg))
    ones = jnp.ones_like(g_last)

    def backward(carry, inputs):
        b1, b2, b0, k1, k2 = carry  # the jet of B_{j+1} and of the partial sum of K
        g, x1, x2, t = inputs
        p0 = derivative_map(g)
        p1, p2 = _jet(derivative_map, g, x1, x2)
        nb0 = p0 * b0
        nb1 = p0 * b1 + p1 * b0 + t
        nb2 = p0 * b2 + 2.0 * p1 * b1 + p2 * b0
        k1 = k1 + g * nb1 + x1 * nb0
        k2 = k2 + g * nb2 + 2.0 * x1 * nb1 + x2 * nb0
        return (nb1, nb2, nb0, k1, k2), None

    init = (zero, zero, ones, last1 * ones, last2 * ones)  # term k = l: G_{l-1} o B_l, B_l = 1 1^T exactly
    (_, _, _, k1, k2), _ = jax.lax.scan(backward, init, (g_before, before1, before2, tb), reverse=True)
    return k1, k2


@jax.jit
def _limit_trajectory(zeros, g0, delta):
    """The recursion without fluctuations: the limit trajectory the jets expand around."""
    return _recursion(zeros, zeros, g0, delta)


def _neurons(key, g_chol, u_chol, g_next, b_mean, inv_sqrt_m, a, b, sigma2, batch):
    """One batch of one neuron per hidden layer: h ~ N(0, G_{j-1}), phi(h), phi'(h) and the centred features
    tg = sigma^2 phi(h) phi(h)^T - G_j, tb = sigma^2 (phi'(h) u)(phi'(h) u)^T - B_j, u ~ N(0, B_{j+1}), each
    scaled by 1/sqrt(m_j): (batch, l-1, n[, n])."""
    layers, n = g_chol.shape[0], g_chol.shape[-1]
    zh, zu = jax.random.normal(key, (2, batch, layers, n), dtype=g_chol.dtype)
    h = jnp.einsum("ljk,slk->slj", g_chol, zh)
    u = jnp.einsum("ljk,slk->slj", u_chol, zu)
    act, slope = a * h + b * jnp.abs(h), a + b * jnp.sign(h)
    back = slope * u
    scale = inv_sqrt_m[None, :, None, None]
    tg = (sigma2 * act[..., :, None] * act[..., None, :] - g_next) * scale
    tb = (sigma2 * back[..., :, None] * back[..., None, :] - b_mean) * scale
    return act, slope, tg, tb


@functools.partial(jax.jit, static_argnames=("batch",))
def _neuron_batch(key, g_before, g_last, g_chol, u_chol, g_next, b_mean, inv_sqrt_m, a, b, sigma2, delta, batch):
    """D K and D^2 K along one batch of one-neuron fluctuations of every layer (K_theta, not yet / n)."""
    act, slope, tg, tb = _neurons(key, g_chol, u_chol, g_next, b_mean, inv_sqrt_m, a, b, sigma2, batch)
    d1, d2 = jax.vmap(lambda t1, t2: _kernel_jet(g_before, g_last, t1, t2, delta))(tg, tb)
    squares = act * act
    shared = (
        slope[..., :, None]
        * slope[..., None, :]
        * (2.0 * act[..., :, None] * act[..., None, :] - g_next * (squares[..., :, None] + squares[..., None, :]))
    )  # phi'(h) phi'(h') (2 phi(h) phi(h') - rho (phi(h)^2 + phi(h')^2)), rho = G_j: the shared-weight term
    return d1, d2, shared


@jax.jit
def _backward_response(g_before, g_last, tb, delta):
    """D K_theta along a deterministic change tb (l-1, n, n) of the backward Grams."""
    return _kernel_jet(g_before, g_last, jnp.zeros_like(tb), tb, delta)[0]


def _shared_weight_coefficient(g_next: np.ndarray, activation: Activation) -> np.ndarray:
    """sigma^6 (2 b^2 / pi) / sqrt(1 - rho_j^2) off the diagonal (rho_j = G_j), 0 on it: the Gaussian expectation
    of the second derivative of phi'(h) phi'(h') (phi'' = 2b delta, SCIENCE §6.1)."""
    eye = np.eye(g_next.shape[-1], dtype=bool)
    rho = np.where(eye, 0.0, g_next)
    out = activation.sigma2**3 * (2.0 * activation.b**2 / math.pi) / np.sqrt(np.clip(1.0 - rho * rho, 1e-300, None))
    return np.where(eye, 0.0, out)


def _term_responses(g_before, g_last, tg, tb, delta):
    """First-order responses of the l terms X_k = G_{k-1} o B_k (X_l = G_{l-1}) of K_theta to the fluctuations
    (tg, tb) of every layer, (l, n, n)."""
    forward_map = functools.partial(_forward_map, delta=delta)
    derivative_map = functools.partial(_derivative_map, delta=delta)

    def forward(x1, inputs):
        g, t = inputs
        return jax.jvp(forward_map, (g,), (x1,))[1] + t, x1

    last1, before1 = jax.lax.scan(forward, jnp.zeros_like(g_last), (g_before, tg))

    def backward(carry, inputs):
        b1, b0 = carry
        g, x1, t = inputs
        p0, p1 = jax.jvp(derivative_map, (g,), (x1,))
        nb0, nb1 = p0 * b0, p0 * b1 + p1 * b0 + t
        return (nb1, nb0), g * nb1 + x1 * nb0

    ones = jnp.ones_like(g_last)
    _, terms = jax.lax.scan(backward, (jnp.zeros_like(g_last), ones), (g_before, before1, tb), reverse=True)
    return jnp.concatenate([terms, last1[None]])


@functools.partial(jax.jit, static_argnames=("batch",))
def _layer_term_moments(key, g_before, g_last, g_chol, u_chol, g_next, b_mean, inv_sqrt_m, a, b, sigma2, delta, batch):
    """Sum over one batch of neurons of E_j[dX_k dX_k'] per layer j, terms k, k' and entry: (l-1, l, l, n, n)."""
    _, _, tg, tb = _neurons(key, g_chol, u_chol, g_next, b_mean, inv_sqrt_m, a, b, sigma2, batch)
    masks = jnp.eye(g_chol.shape[0], dtype=tg.dtype)[:, :, None, None]  # one layer's fluctuation at a time

    def one(tg1, tb1):
        return jax.vmap(lambda mask: _term_responses(g_before, g_last, tg1 * mask, tb1 * mask, delta))(masks)

    responses = jax.vmap(one)(tg, tb)  # (batch, layer j, term k, n, n)
    return jnp.einsum("sjkab,sjqab->jkqab", responses, responses)


@dataclasses.dataclass(frozen=True)
class _Trajectory:
    """The limit trajectory of the recursion for inputs on the sphere and the factors the neurons are drawn
    with: G_0..G_{l-2} (``g_before``), G_{l-1}, B_1..B_{l-1}, G_j and B_{j+1} per hidden layer j, and the
    row norms ||x_a|| / sqrt(m_0) that scale K back to the inputs."""

    m: np.ndarray
    norms: np.ndarray
    g_before: np.ndarray
    g_last: np.ndarray
    b_layers: np.ndarray
    g_next: np.ndarray
    g_chol: np.ndarray
    u_chol: np.ndarray

    def args(self) -> tuple[jax.Array, ...]:
        """The arrays of :func:`_neuron_batch` and :func:`_layer_term_moments`, in their order."""
        values = (self.g_before, self.g_last, self.g_chol, self.u_chol, self.g_next, self.b_layers, self.m**-0.5)
        return tuple(jnp.asarray(v) for v in values)


def _trajectory(activation: Activation, x: np.ndarray, hidden_widths: Sequence[float], where: str) -> _Trajectory:
    """Checked inputs and the limit trajectory around which both models expand (call under x64); the arrays
    are empty for l = 1."""
    if not isinstance(activation, Activation):
        raise ValueError(f"{where}: activation must be an (a,b)-ReLU Activation, got {activation!r}")
    x = input_points("x", x, where, np.float64, allow_zero_rows=False)
    m = np.array([real("hidden_widths", w, positive=True, where=where) for w in hidden_widths], dtype=np.float64)
    n, layers = x.shape[0], m.size
    norms = np.linalg.norm(x, axis=1) / math.sqrt(x.shape[1])
    unit = x / (norms[:, None] * math.sqrt(x.shape[1]))
    g0 = unit @ unit.T
    np.fill_diagonal(g0, 1.0)
    if np.any(np.abs(g0[~np.eye(n, dtype=bool)]) >= 1.0 - 1e-12):
        raise ValueError(f"{where}: x has two parallel rows; the first-order model needs distinct directions")
    if layers == 0:
        empty = np.zeros((0, n, n))
        return _Trajectory(m, norms, empty, g0, empty, empty, empty, empty)
    zeros = jnp.zeros((layers, n, n))
    _, g_before, g_last, b_layers = (np.asarray(v) for v in _limit_trajectory(zeros, jnp.asarray(g0), activation.delta))
    b_next = np.concatenate([b_layers[1:], np.ones((1, n, n))])  # B_{j+1} for j = 1..l-1
    g_next = np.concatenate([g_before[1:], g_last[None]])  # G_j = F(G_{j-1}), the features' forward mean
    g_chol = np.stack([_psd_factor(g) for g in g_before])
    u_chol = np.stack([_psd_factor(bb) for bb in b_next])
    return _Trajectory(m, norms, g_before, g_last, b_layers, g_next, g_chol, u_chol)


def relative_variance_dsum(
    activation: Activation, x: np.ndarray, hidden_widths: Sequence[float], samples: int = 2**14, seed: int = 0
) -> np.ndarray:
    """Var(K_ab) / (K_aa K_bb) for every entry under the independent-layer model at all orders.   [SCIENCE §6.1]

    The l terms X_k = G_{k-1} o B_k of K_theta are taken as products over the hidden layers of independent
    factors whose relative second moments are the first-order ones, c_j(k, k') = E[dX_k^(j) dX_k'^(j)] /
    (X_k X_k') (dX^(j): the first-order response to layer j's fluctuation alone, Monte Carlo over ``samples``
    neurons):

        Var(K_ab) = sum_{k,k'} X_k X_k' [prod_j (1 + c_j(k, k')) - 1],

    which on the diagonal is the independent-layer sum V_dsum of SCIENCE §6 (c_j = C/m_j or C'/m_j) and to
    first order is the diagonal of :func:`first_order_kernel`'s covariance. Inputs on the sphere, output
    dimension 1; (n, n) array, the matrix's 1/n cancels.
    """
    where = "relative_variance_dsum"
    samples = integer("samples", samples, minimum=2, where=where)
    seed = integer("seed", seed, minimum=0, where=where)
    with jax.enable_x64(True):
        t = _trajectory(activation, x, hidden_widths, where)
        n, layers = t.norms.size, t.m.size
        if layers == 0:
            return np.zeros((n, n))
        batch = int(max(1, min(samples, _BATCH_ENTRIES // (layers * layers * (layers + 1) * n * n))))
        total = np.zeros((layers, layers + 1, layers + 1, n, n))
        done, index, key = 0, 0, jax.random.key(seed)
        while done < samples:
            part = _layer_term_moments(
                jax.random.fold_in(key, index), *t.args(), activation.a, activation.b, activation.sigma2,
                activation.delta, batch,
            )  # fmt: skip
            total += np.asarray(part)
            done, index = done + batch, index + 1
    terms = np.concatenate([t.g_before * t.b_layers, t.g_last[None]])  # X_k at the limit, (l, n, n)
    pair = terms[:, None] * terms[None, :]
    safe = np.where(pair != 0.0, pair, 1.0)
    c = np.where(pair != 0.0, total / done / safe, 0.0)  # (l-1, l, l, n, n)
    growth = np.expm1(np.sum(np.log1p(np.clip(c, -1.0 + 1e-15, None)), axis=0))
    var = np.sum(pair * growth, axis=(0, 1))
    diag = np.diag(terms.sum(axis=0))
    out = var / np.outer(diag, diag)
    if not np.all(np.isfinite(out)):
        raise FloatingPointError(f"{where}: non-finite moments (inputs too close to parallel for depth {layers + 1})")
    return out


def _psd_factor(m: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((m + m.T) / 2.0)
    return v * np.sqrt(np.clip(w, 0.0, None))


def first_order_kernel(
    activation: Activation,
    x: np.ndarray,
    hidden_widths: Sequence[float],
    samples: int = 2**16,
    seed: int = 0,
    *,
    shared_weights: bool = True,
) -> FirstOrderKernel:
    """The first-order covariance and the 1/m mean shift of K(theta) (output dimension 1).   [SCIENCE §6.1]

        Cov(K) ~= sum_j Cov(L_j y_j) / m_j,
        E[K] - K_inf ~= (1/2) sum_j E[D^2 K(y_j, y_j)] / m_j + sum_j L_j (0, dB_j)

    (module docstring: y_j one neuron's centred forward and backward features of hidden layer j, L_j the
    derivative of the limit recursion with respect to them, dB_j the shared-weight term).

    Args:
        activation: the (a,b)-ReLU at the EOC.
        x: (n, m_0) inputs, distinct (no two parallel); any norms (the kernel is homogeneous).
        hidden_widths: m_1..m_{l-1} (e.g. ``widths(...)[1:-1]``), positive; empty for l = 1 (K is then
            deterministic).
        samples: Monte Carlo neurons per layer (relative standard error of a variance about sqrt(2/samples)).
        seed: seed of the Monte Carlo neurons.
        shared_weights: include the mean's shared-weight term (module doc); False gives the curvature term
            alone (for comparison: it is 15-25% short of the measured shift).

    Returns:
        :class:`FirstOrderKernel` for these widths (``.scaled(c)`` gives it for widths c m_j).
    """
    where = "first_order_kernel"
    samples = integer("samples", samples, minimum=2 * _SE_GROUPS, where=where)
    seed = integer("seed", seed, minimum=0, where=where)
    shared_weights = flag("shared_weights", shared_weights, where)
    with jax.enable_x64(True):
        t = _trajectory(activation, x, hidden_widths, where)
        delta = activation.delta
        n, layers, m = t.norms.size, t.m.size, t.m
        limit = limit_kernel(x, activation, layers + 1)
        rows, cols = np.triu_indices(n)
        outer = np.outer(t.norms, t.norms)
        p = rows.size
        if layers == 0:
            zero = np.zeros((p, p))
            return FirstOrderKernel(limit, rows, cols, zero, zero, np.zeros((n, n)), np.zeros((n, n)), (), samples)
        args = t.args()
        batch = int(max(1, min(samples // _SE_GROUPS, _BATCH_ENTRIES // (layers * n * n))))
        b_after = np.concatenate([t.b_layers[2:], np.ones((1, n, n)), np.zeros((1, n, n))])[-layers:]  # B_{j+2}
        groups = np.zeros((_SE_GROUPS, p, p))
        shared_groups = np.zeros((_SE_GROUPS, layers, n, n))
        shift_groups = np.zeros((_SE_GROUPS, p))
        counts = np.zeros(_SE_GROUPS)
        key, done, index = jax.random.key(seed), 0, 0
        while done < samples:
            d1, d2, shared = _neuron_batch(
                jax.random.fold_in(key, index), *args, activation.a, activation.b, activation.sigma2, delta, batch
            )
            take = min(batch, samples - done)
            y = np.asarray(d1)[:take, rows, cols] * outer[rows, cols]
            y2 = np.asarray(d2)[:take, rows, cols] * outer[rows, cols]
            group = index % _SE_GROUPS
            groups[group] += y.T @ y
            shift_groups[group] += y2.sum(axis=0)
            shared_groups[group] += np.asarray(shared)[:take].sum(axis=0)
            counts[group] += take
            done, index = done + take, index + 1
        # the shared-weight term of the mean (module doc): one deterministic backward change per group
        coefficient = _shared_weight_coefficient(t.g_next, activation) * b_after / m[:, None, None]
        for group in np.flatnonzero(counts) if shared_weights else ():
            change = jnp.asarray(coefficient * shared_groups[group] / counts[group])
            response = np.asarray(_backward_response(args[0], args[1], change, delta))
            shift_groups[group] += 2.0 * counts[group] * response[rows, cols] * outer[rows, cols]
    scale = dataset_scale(n)
    used = counts > 0
    cov_groups = groups[used] / counts[used, None, None] * scale**2
    shift_per = 0.5 * shift_groups[used] / counts[used, None] * scale
    k = used.sum()
    covariance = np.einsum("g,gij->ij", counts[used], cov_groups) / counts.sum()
    shift = counts[used] @ shift_per / counts.sum()
    cov_se = cov_groups.std(axis=0, ddof=1) / math.sqrt(k)
    shift_se = shift_per.std(axis=0, ddof=1) / math.sqrt(k)
    mean_shift, mean_shift_se = np.zeros((n, n)), np.zeros((n, n))
    for out, values in ((mean_shift, shift), (mean_shift_se, shift_se)):
        out[rows, cols] = values
        out[cols, rows] = values
    if not (np.all(np.isfinite(covariance)) and np.all(np.isfinite(mean_shift))):
        raise FloatingPointError(f"{where}: non-finite moments (inputs too close to parallel for depth {layers + 1})")
    widths = tuple(float(w) for w in m)
    return FirstOrderKernel(limit, rows, cols, covariance, cov_se, mean_shift, mean_shift_se, widths, samples)


def predicted_deviations(
    model: FirstOrderKernel, draws: int = 4096, seed: int = 0, include_shift: bool = False
) -> dict[str, np.ndarray]:
    """Draws of ||K - K_inf|| under the first-order Gaussian model K - K_inf ~ N(0, Cov) (plus the mean
    shift with ``include_shift``), in the norms of :func:`ntk_eoc.analysis.stats.deviations`.

    Returns:
        ``op_abs, fro_abs, max_abs`` and ``op_rel, fro_rel, max_rel`` (divided by the same norm of K_inf),
        each (draws,) float64. Without the shift every norm scales exactly as 1/sqrt(m) with the widths.
    """
    where = "predicted_deviations"
    draws = integer("draws", draws, minimum=2, where=where)
    seed = integer("seed", seed, minimum=0, where=where)
    n = model.limit.shape[0]
    factor = _psd_factor(model.covariance)
    rng = np.random.default_rng(seed)
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("op_abs", "fro_abs", "max_abs")}
    block = max(1, 2**22 // (n * n))
    for start in range(0, draws, block):
        z = rng.standard_normal((min(block, draws - start), factor.shape[1]))
        entries = z @ factor.T
        dev = np.zeros((z.shape[0], n, n))
        dev[:, model.rows, model.cols] = entries
        dev[:, model.cols, model.rows] = entries
        if include_shift:
            dev += model.mean_shift
        out["op_abs"].append(np.max(np.abs(np.linalg.eigvalsh(dev)), axis=-1))
        out["fro_abs"].append(np.sqrt(np.sum(dev * dev, axis=(-2, -1))))
        out["max_abs"].append(np.max(np.abs(dev), axis=(-2, -1)))
    limit = model.limit
    reference = {
        "op": float(np.max(np.abs(np.linalg.eigvalsh(limit)))),
        "fro": float(np.sqrt(np.sum(limit * limit))),
        "max": float(np.max(np.abs(limit))),
    }
    result = {k: np.concatenate(v) for k, v in out.items()}
    for norm, ref in reference.items():
        result[f"{norm}_rel"] = result[f"{norm}_abs"] / ref
    return result
