"""Draws of K(theta): reproducibility by draw id, per-layer sums, input validation, compile reuse.
Agreement in law between the two methods is in tests/statistical/test_sampler_law.py."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from math_helpers import gaussians_per_draw

from ntk_eoc import Activation, Elementwise, draw_keys, sample_kernels
from ntk_eoc.math import samplers as samplers_module
from ntk_eoc.math.architecture import Architecture
from ntk_eoc.math.cost import (
    BATCH_BYTES,
    MAX_BATCH,
    batch_size,
    choose_maps,
    choose_method,
    gaussian_blocks,
)

ACT = Activation(-0.3, 0.8)
N_POINTS, INPUT_DIM = 5, 6
# Wide enough that the conditioned method conditions its hidden layers (checked below), so that the
# reproducibility tests cover both routes.
WIDTHS = (INPUT_DIM, 48, 48, 2)
METHODS = ["explicit", "conditioned"]
BACKEND_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


@pytest.fixture(scope="module")
def x(sphere):
    return sphere(N_POINTS, INPUT_DIM)


@pytest.fixture(scope="module")
def eight_draws(x, seed):
    """Draws 0..7 of the test configuration in float32, per method (one compilation each)."""
    return {m: sample_kernels(x, ACT, WIDTHS, range(8), seed, m, "float32") for m in METHODS}


def test_the_test_configuration_conditions_a_hidden_layer():
    assert any(choose_maps(Architecture(WIDTHS, ACT), N_POINTS))
    assert choose_method(Architecture(WIDTHS, ACT), N_POINTS) == "conditioned"


def test_gaussian_blocks_list_what_each_route_draws():
    arch = Architecture(WIDTHS, ACT)
    assert gaussian_blocks("explicit", arch, N_POINTS) == ((48, 6), (48, 48), (2, 48))
    assert gaussians_per_draw("explicit", arch, N_POINTS) == arch.n_params
    routes = choose_maps(arch, N_POINTS)
    assert routes == (False, True, False)
    # Conditioned map 48 -> 48: Z1 (n x m_out) and Z3^T (n m_l x m_in), n m_l = 10 <= m_out.
    assert gaussian_blocks("conditioned", arch, N_POINTS) == ((48, 6), (N_POINTS, 48), (N_POINTS * 2, 48), (2, 48))


@pytest.mark.parametrize("method", METHODS)
def test_draws_split_into_calls_equal_one_call_bit_for_bit(x, seed, eight_draws, method):
    whole = eight_draws[method]
    first = sample_kernels(x, ACT, WIDTHS, range(4), seed, method, "float32")
    second = sample_kernels(x, ACT, WIDTHS, range(4, 8), seed, method, "float32")
    assert whole.dtype == np.float32
    assert whole.shape == (8, N_POINTS * 2, N_POINTS * 2)
    np.testing.assert_array_equal(np.concatenate([first, second]), whole)
    # A permuted subset, and a repeated id, give the same rows.
    np.testing.assert_array_equal(sample_kernels(x, ACT, WIDTHS, [5, 2], seed, method, "float32"), whole[[5, 2]])
    np.testing.assert_array_equal(sample_kernels(x, ACT, WIDTHS, [3, 3], seed, method, "float32"), whole[[3, 3]])
    # Different ids are different networks.
    assert not np.array_equal(whole[0], whole[1])


@pytest.mark.parametrize("method", METHODS)
def test_draws_spanning_several_batches_equal_their_split(x, seed, method):
    batch = batch_size(method, Architecture(WIDTHS, ACT), N_POINTS, 4)
    ids = np.arange(batch + 3)
    whole = sample_kernels(x, ACT, WIDTHS, ids, seed, method, "float32")
    parts = [sample_kernels(x, ACT, WIDTHS, ids[i : i + 5], seed, method, "float32") for i in range(0, ids.size, 5)]
    np.testing.assert_array_equal(np.concatenate(parts), whole)


@pytest.mark.parametrize("method", METHODS)
def test_draws_do_not_depend_on_the_callers_x64_setting(x, seed, eight_draws, method):
    # The suite runs with x64 on; pipeline jobs sample float32 with it off. The draw is traced under a
    # scoped x64 (its n x n factorizations are float64) either way.
    with jax.enable_x64(False):
        off = sample_kernels(x, ACT, WIDTHS, range(8), seed, method, "float32")
        assert not jax.config.jax_enable_x64, "sampling must leave the caller's x64 setting as it was"
    np.testing.assert_array_equal(off, eight_draws[method])


@pytest.mark.parametrize("method", METHODS)
def test_an_accelerator_sized_batch_gives_the_same_bits(x, seed, eight_draws, monkeypatch, method):
    """The batch only groups calls of one compiled executable: 1 or 256 draws in flight, same bits."""
    for budget in [(1, 1), (2**40, 256)]:
        monkeypatch.setattr(samplers_module, "device_batch_budget", lambda budget=budget: budget)
        np.testing.assert_array_equal(
            sample_kernels(x, ACT, WIDTHS, range(8), seed, method, "float32"), eight_draws[method]
        )


class _FakeDevice:
    def __init__(self, platform, stats):
        self.platform, self._stats = platform, stats

    def memory_stats(self):
        return self._stats


def test_batch_budget_follows_the_accelerator_memory_and_keeps_the_cpu_default():
    assert samplers_module.device_batch_budget(jax.devices("cpu")[0]) == (BATCH_BYTES, MAX_BATCH)
    gpu = _FakeDevice("gpu", {"bytes_limit": 100 * 2**30, "bytes_in_use": 0})
    budget, max_batch = samplers_module.device_batch_budget(gpu)
    assert budget == 25 * 2**30 and max_batch == samplers_module.DEVICE_MAX_BATCH
    # A device that reports no memory, or too little, keeps the CPU budget.
    assert samplers_module.device_batch_budget(_FakeDevice("gpu", None)) == (BATCH_BYTES, MAX_BATCH)
    assert samplers_module.device_batch_budget(_FakeDevice("gpu", {"bytes_limit": 2**20}))[0] == BATCH_BYTES
    arch = Architecture((INPUT_DIM, 4096, 4096, 1), ACT)
    assert batch_size("conditioned", arch, 64, 4) < batch_size(
        "conditioned", arch, 64, 4, budget_bytes=budget, max_batch=max_batch
    )


def test_another_seed_gives_other_networks(x, seed, eight_draws):
    other = sample_kernels(x, ACT, WIDTHS, [0], seed + 1, "conditioned", "float32")
    assert not np.array_equal(other[0], eight_draws["conditioned"][0])


@pytest.mark.parametrize("method", METHODS)
def test_per_layer_kernels_sum_to_the_total(x, seed, tol, eight_draws, method):
    total = eight_draws[method]
    layers = sample_kernels(x, ACT, WIDTHS, range(8), seed, method, "float32", per_layer=True)
    assert layers.shape == (8, len(WIDTHS) - 1, N_POINTS * 2, N_POINTS * 2)
    t = tol["float32_sum"]
    np.testing.assert_allclose(layers.sum(axis=1, dtype=np.float64), total, rtol=t.rtol, atol=t.atol)


@pytest.mark.parametrize("method", METHODS)
def test_sampled_kernels_are_symmetric_and_positive_semidefinite(eight_draws, method):
    k = eight_draws[method].astype(np.float64)
    # Each K_k is an elementwise product of two float32 Gram matrices: symmetric to a few ulp.
    np.testing.assert_allclose(k, np.swapaxes(k, 1, 2), rtol=1e-5, atol=1e-6)
    eig = np.linalg.eigvalsh(0.5 * (k + np.swapaxes(k, 1, 2)))
    # A sum of Gram matrices: eigenvalues >= 0 up to float32 rounding, ~ n m_l eps32 ||K||.
    assert np.all(eig.min(axis=1) >= -1e-5 * eig.max(axis=1))
    assert np.all(np.diagonal(k, axis1=1, axis2=2) > 0.0)


@pytest.mark.parametrize("method", METHODS)
def test_inputs_whose_kernel_would_overflow_or_underflow_float32_are_refused(x, seed, method):
    # ||x|| ~ 1e20: the kernel's Gram products (~1e40) would overflow float32; ||x|| ~ 1e-30 would give
    # all-zero kernels. Both are refused before compute, naming the first row and the homogeneity rule.
    for scale, norm in ((1e20, r"e\+20"), (1e-30, r"e-30")):
        with pytest.raises(ValueError, match=rf"\|\|x\[0\]\|\|=\d\.\d+{norm}: 5 row norm\(s\) outside .*c\^2 K"):
            sample_kernels(x * scale, ACT, WIDTHS, range(2), seed, method, "float32")


def test_inputs_at_the_ends_of_the_float32_range_give_the_rescaled_kernel(x, seed):
    # K(c X) = c^2 K(X): at c = 2^-30 and 2^30 (norms ~ 2e-9 and 2e9, inside the range) the kernels are
    # the unscaled ones times c^2 up to float32 rounding.
    base = sample_kernels(x, ACT, WIDTHS, range(2), seed, "explicit", "float32").astype(np.float64)
    for c in (2.0**-30, 2.0**30):
        scaled = sample_kernels(x * c, ACT, WIDTHS, range(2), seed, "explicit", "float32") / c**2
        np.testing.assert_allclose(scaled, base, rtol=1e-5, atol=1e-6 * np.abs(base).max())


def test_non_finite_draws_are_named_by_their_ids(x, monkeypatch):
    def fake(method, arch, per_layer, n, dtype, routes):
        return lambda base, draw, x: jax.numpy.full((10, 10), np.nan if draw in (3, 6) else 1.0, np.float32)

    monkeypatch.setattr(samplers_module, "_compiled_draw", fake)
    with pytest.raises(FloatingPointError, match=r"draw\(s\) \[3, 6\]"):
        sample_kernels(x, ACT, WIDTHS, range(2, 8), 0, "conditioned", "float32")


def test_draws_run_with_one_blas_thread_and_restore_the_callers_setting(x, seed):
    from threadpoolctl import threadpool_info

    def blas_threads() -> set[int]:
        return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}

    before, during = blas_threads(), []
    sample_kernels(
        x, ACT, WIDTHS, range(2), seed, "conditioned", "float32", progress=lambda *a: during.append(blas_threads())
    )
    assert during and all(threads == {samplers_module.BLAS_THREADS} for threads in during)
    assert blas_threads() == before


def test_draw_keys_fold_the_draw_id_into_the_base_key(seed):
    keys = draw_keys(seed, [0, 7])
    base = jax.random.key(seed)
    np.testing.assert_array_equal(
        jax.random.key_data(keys), jax.random.key_data(jax.numpy.stack([jax.random.fold_in(base, s) for s in (0, 7)]))
    )


def test_routes_are_an_argument_checked_before_compute(x, seed):
    """``routes`` picks each map's route for conditioned draws: all explicit gives another draw of the same
    network than the cost model's mix; bad routes are refused by name."""
    arch = Architecture(WIDTHS, ACT)
    chosen = sample_kernels(x, arch, draws=range(2), seed=seed, method="conditioned")
    same = sample_kernels(x, arch, draws=range(2), seed=seed, method="conditioned", routes=choose_maps(arch, N_POINTS))
    np.testing.assert_array_equal(chosen, same)
    every = sample_kernels(x, arch, draws=range(2), seed=seed, method="conditioned", routes=(True,) * len(arch.maps))
    assert every.shape == chosen.shape and not np.array_equal(every, chosen)
    with pytest.raises(ValueError, match="routes"):
        sample_kernels(x, arch, draws=range(2), seed=seed, method="conditioned", routes=(True,))
    with pytest.raises(ValueError, match="routes are for method='conditioned'"):
        sample_kernels(x, arch, draws=range(2), seed=seed, method="explicit", routes=(True,) * len(arch.maps))


@pytest.mark.parametrize(
    "act",
    [Activation.named("relu"), Activation.named("abs"), ACT, Elementwise("tanh")],
    ids=["relu", "abs", "ab", "tanh"],
)
@pytest.mark.parametrize("ranks", [None, (None, 12, None)], ids=["dense", "factorized"])
def test_the_shared_program_with_every_map_explicit_is_the_explicit_draw(x, seed, act, ranks):
    """The conditioned program takes scales, kernel weights and (a, b) as arguments; with every map
    explicit it cuts the same weights from the draw's key as the explicit draw, so the two are the same
    network: per-layer kernels equal to float32 rounding."""
    arch = Architecture(WIDTHS, act, ranks)
    explicit = sample_kernels(x, arch, draws=range(3), seed=seed, method="explicit", per_layer=True)
    shared = sample_kernels(
        x, arch, draws=range(3), seed=seed, method="conditioned", per_layer=True, routes=(False,) * len(arch.maps)
    )
    np.testing.assert_allclose(shared, explicit, rtol=0, atol=1e-5 * np.abs(explicit).max())


def test_activations_of_the_same_kind_share_one_compiled_program(x, seed):
    """relu, abs and any (a, b) differ only in arguments of the conditioned program: one compilation."""
    widths = (INPUT_DIM, 44, 1)  # a configuration no other test uses
    before = samplers_module._conditioned_program._cache_size()
    for act in (Activation.named("relu"), Activation.named("abs"), Activation(0.2, -0.7)):
        sample_kernels(x, act, widths, range(2), seed, "conditioned", "float32")
    assert samplers_module._conditioned_program._cache_size() == before + 1


def test_a_second_call_with_the_same_configuration_compiles_nothing(x, seed):
    compiles: list[str] = []

    def listener(event: str, duration: float, **kwargs) -> None:
        if event == BACKEND_COMPILE_EVENT:
            compiles.append(str(kwargs.get("fun_name", "")))

    # A configuration no other test uses, so the first call compiles. The event wraps every XLA
    # compilation request, persistent-cache hits included, so it counts whatever in-memory caching missed.
    widths = (INPUT_DIM, 40, 1)
    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        sample_kernels(x, ACT, widths, range(3), seed, "conditioned", "float32")
        first = len(compiles)
        sample_kernels(x, ACT, widths, range(3, 9), seed, "conditioned", "float32")
        second = len(compiles) - first
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    assert first > 0, "the compile listener saw no compilation: the check below would be vacuous"
    assert second == 0, f"second call compiled {compiles[first:]}"


@pytest.fixture
def no_compute(monkeypatch):
    """Fail the test if sampling reaches the compiled draws: errors must come before compute."""

    def refuse(*args, **kwargs):
        raise AssertionError("sample_kernels reached compute before rejecting its input")

    monkeypatch.setattr(samplers_module, "_compiled_draw", refuse)


def _call(x, **overrides):
    args = {"x": x, "network": ACT, "widths": WIDTHS, "draws": range(2), "seed": 0, "method": "auto"}
    args.update(overrides)
    return sample_kernels(**args)


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"method": "exact"}, r"method=.exact."),
        ({"dtype": "float16"}, r"dtype=.float16."),
        ({"draws": [0, -1]}, r"draws=\[0, -1\]"),
        ({"draws": [2**32]}, r"draws=\[4294967296\]"),
        ({"draws": [0.5]}, r"draws=\[0.5\]"),
        ({"seed": -1}, r"seed=-1"),
        ({"widths": (INPUT_DIM, 0, 1)}, r"widths=\[6, 0, 1\]"),
        ({"widths": (INPUT_DIM, 48.7, 1)}, r"widths=\[6, 48.7, 1\]"),  # not silently truncated to 48
        ({"widths": (INPUT_DIM, True, 1)}, r"widths=\[6, True, 1\]"),
        ({"widths": (INPUT_DIM,)}, r"widths=\[6\]"),
        ({"widths": (INPUT_DIM + 1, 8, 1)}, r"shape \(n, m_0=7\), got \(5, 6\)"),
        ({"max_bytes": 1000}, r"max_bytes=1000"),
    ],
)
def test_bad_arguments_raise_value_error_before_compute(x, no_compute, overrides, match):
    with pytest.raises(ValueError, match=match):
        _call(x, **overrides)


@pytest.mark.parametrize("shape", [(N_POINTS,), (N_POINTS, INPUT_DIM, 1), (N_POINTS, INPUT_DIM - 1)])
def test_inputs_of_the_wrong_shape_raise_before_compute(no_compute, shape):
    with pytest.raises(ValueError, match=r"x(=<array of shape .*>:)? must have shape"):
        _call(np.ones(shape))


def test_non_finite_inputs_raise_before_compute(x, no_compute):
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"x has 1 non-finite value\(s\) \(first at \(0, 0\): nan\)"):
        _call(bad)


def test_float64_without_x64_raises_before_compute(x, no_compute):
    with jax.enable_x64(False), pytest.raises(ValueError, match=r"dtype='float64' needs 64-bit JAX"):
        _call(x, dtype="float64")


def test_a_non_activation_raises_type_error(x, no_compute):
    with pytest.raises(TypeError, match=r"got tuple"):
        _call(x, network=(0.5, 0.5))
