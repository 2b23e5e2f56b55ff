"""Run configs: composition of an experiment's sweep, validation messages, ids and job specs."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from ntk_eoc.math.schedules import Schedule
from ntk_eoc.pipeline.compose import compose_runs, run_id, sweep_axes
from ntk_eoc.pipeline.outputs import Run
from ntk_eoc.pipeline.runs import ConfigError, RunConfig
from ntk_eoc.pipeline.specs import SampleSpec

HYDRA_DIR = str(Path(__file__).resolve().parents[3] / "config" / "hydra")

BASE = {
    "activation": {"name": "relu"},
    "schedule": {"name": "quadratic"},
    "dataset": {"name": "sphere", "n_points": 6, "input_dim": 4, "seed": 0},
    "sampler": {"method": "auto", "dtype": "float32", "draws_per_job": 2, "seed": 0},
    "depth": 3,
    "output_dim": 1,
    "base_widths": [8, 4],
    "draws": 5,
}


def _with(key: str, value: object) -> dict:
    cfg = {k: dict(v) if isinstance(v, dict) else v for k, v in BASE.items()}
    section, _, sub = key.partition(".")
    if sub:
        cfg.setdefault(section, {})[sub] = value
    else:
        cfg[section] = value
    return cfg


def _run(cfg: dict) -> Run:
    return Run("default", {}, cfg, RunConfig.from_dict(cfg))


def test_valid_config_gives_blocks_widths_and_ids():
    run = RunConfig.from_dict(BASE)
    assert run.base_widths == (4, 8)
    assert run.blocks() == [(0, 2), (2, 4), (4, 5)]
    assert run.layer_widths(4) == [4, 4, 16, 1]
    ids = _run(BASE)
    assert ids.dataset == "sphere-n6-d4-s0" and ids.limit_key == "sphere-n6-d4-s0/relu__depth~3__out~1"
    assert ids.sample_key == "sphere-n6-d4-s0/relu__quadratic__depth~3__out~1/seed~0__float32__auto"
    assert run.activation.a == 0.5


def test_explicit_schedule_multiplies_base_width():
    run = RunConfig.from_dict(_with("schedule", {"name": "explicit", "factors": [2, 3]}))
    assert run.layer_widths(4) == [4, 8, 12, 1]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("sampler.dtype", "float16", "invalid config: sampler.dtype='float16': must be one of float32, float64"),
        ("sampler.seed", 2**32, "invalid config: sampler.seed=4294967296: must be an integer with 0 <= value"),
        ("sampler.drawz", 3, "invalid config: sampler.drawz=3: unknown key"),
        ("depth", 0, "invalid config: depth=0: must be an integer >= 1"),
        ("activation.name", "swish", "invalid config: activation.name='swish': must be one of"),
        ("activation.alpha", 0.2, "invalid config: activation.alpha=0.2: is not used by activation 'relu'"),
        ("schedule.name", "cubic", "invalid config: schedule.name='cubic'"),
        ("dataset.n_points", 1, "invalid config: dataset.n_points=1: must be an integer >= 2"),
        ("base_widths", [4, 4], r"invalid config: base_widths=\[4, 4\]: has duplicates"),
        ("draws", "many", "invalid config: draws='many'"),
        ("concentration.first_order_samples", 10, "invalid config: concentration.first_order_samples=10: must be an"),
        ("concentration.first_order_draws", 2**30, "invalid config: concentration.first_order_draws=1073741824"),
        ("claims.first_order_margin", -1, "invalid config: claims.first_order_margin=-1: must be > 0"),
    ],
)
def test_bad_value_names_key_and_value(key, value, message):
    with pytest.raises(ConfigError, match=message):
        RunConfig.from_dict(_with(key, value))


def test_leaky_relu_and_custom_need_their_parameters():
    leaky = RunConfig.from_dict(_with("activation", {"name": "leaky_relu", "alpha": 0.2}))
    assert (leaky.activation.a, leaky.activation.b) == pytest.approx((0.6, 0.4))
    with pytest.raises(ConfigError, match=re.escape("activation.b=None: must be a number")):
        RunConfig.from_dict(_with("activation", {"name": "custom", "a": 1.0}))
    with pytest.raises(ConfigError, match=re.escape("activation.a=0.0")):
        RunConfig.from_dict(_with("activation", {"name": "custom", "a": 0.0, "b": 0.0}))


def test_sampling_spec_does_not_depend_on_draw_count_or_split():
    def spec(run: RunConfig) -> str:
        s, cost = run.sampler, run.draw_cost(4)
        return SampleSpec("r", (4,), (run.architecture(4),), s.seed, (cost.method,), (cost.routes,), s.dtype).to_json()

    a = RunConfig.from_dict(BASE)
    b = RunConfig.from_dict({**BASE, "draws": 50, "sampler": {**BASE["sampler"], "draws_per_job": 7}})
    assert spec(a) == spec(b)
    assert SampleSpec.from_json(spec(a)).architectures[0].widths == (4, 4, 16, 1)


def test_limit_key_is_shared_across_schedules_and_names_say_the_values():
    a, b, c = _run(BASE), _run(_with("schedule", {"name": "constant"})), _run(_with("depth", 4))
    assert a.limit_key == b.limit_key != c.limit_key
    leaky = _run(_with("activation", {"name": "leaky_relu", "alpha": 0.2}))
    assert "/leaky_relu~0.2__quadratic__depth~3__out~1/" in leaky.sample_key
    custom = _run(_with("activation", {"name": "custom", "a": 0.25, "b": -0.75}))
    assert custom.limit_key.endswith("/custom~0.25~-0.75__depth~3__out~1")
    factorized = _run({**BASE, "rank_factors": [None, 0.5, None], "depth": 3})
    assert "__rank~x-0.5-x" in factorized.sample_key and factorized.limit_key.endswith("__fact~x-f-x")
    # floats are named losslessly: a value 6 significant digits cannot tell apart gets its own stores
    near = _run(_with("activation", {"name": "leaky_relu", "alpha": 0.2000001}))
    assert "/leaky_relu~0.2000001__" in near.sample_key and near.limit_key != leaky.limit_key


def test_sweep_axes_and_run_ids():
    axes = sweep_axes(["activation=relu,abs", "depth=range(2,4)", "draws=8"])
    assert axes == {
        "activation": [("activation=relu", "relu"), ("activation=abs", "abs")],
        "depth": [("depth=2", 2), ("depth=3", 3)],
        "draws": [("draws=8", 8)],
    }
    assert run_id(["activation=relu", "depth=2"]) == "activation~relu__depth~2"
    assert run_id([]) == "default"


def test_compose_test_experiment_with_sweep_replacement_and_overrides():
    composed = compose_runs(HYDRA_DIR, "config", "test", overrides=["draws=6"], sweep=["activation=abs"])
    runs = {c.run_id: c for c in composed}
    assert sorted(runs) == ["activation~abs__schedule~constant", "activation~abs__schedule~quadratic"]
    assert runs["activation~abs__schedule~quadratic"].axes == {"activation": "abs", "schedule": "quadratic"}
    run = RunConfig.from_dict(runs["activation~abs__schedule~quadratic"].resolved)
    assert run.draws == 6 and run.dataset.n_points == 6 and run.activation.config() == {"name": "abs"}
    assert runs["activation~abs__schedule~constant"].resolved["schedule"] == {"name": "constant"}
    assert RunConfig.from_dict(runs["activation~abs__schedule~constant"].resolved).schedule.name == Schedule.CONSTANT


def test_an_override_of_a_swept_key_is_refused_naming_the_sweep():
    with pytest.raises(ConfigError, match=r"overrides='activation=abs': activation is swept by the experiment"):
        compose_runs(HYDRA_DIR, "config", "test", overrides=["activation=abs"])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["sampler.drawz=3"], "invalid config: sampler.drawz='3': unknown key; did you mean .*sampler.draws_per_job"),
        (["dataset=tanh"], "invalid config: dataset='tanh': .*Could not find 'dataset/tanh'"),
        (["sampler.method=fast"], "invalid config: sampler.method='fast': must be one of auto"),
    ],
)
def test_compose_errors_name_key_and_value(overrides, message):
    with pytest.raises(ConfigError, match=message):
        for composed in compose_runs(HYDRA_DIR, "config", "test", overrides=overrides):
            RunConfig.from_dict(composed.resolved)


def test_experiment_without_sweep_is_one_default_run(tmp_path):
    shutil.copytree(HYDRA_DIR, tmp_path / "hydra")
    (tmp_path / "hydra/experiment/plain.yaml").write_text("# @package _global_\ndraws: 2\nbase_widths: [4]\n")
    (run,) = compose_runs(str(tmp_path / "hydra"), "config", "plain")
    assert run.run_id == "default" and RunConfig.from_dict(run.resolved).draws == 2
    with pytest.raises(ConfigError, match="run ids become paths"):
        compose_runs(str(tmp_path / "hydra"), "config", "plain", sweep=["activation.name=a/b"])


def test_a_base_width_whose_draw_does_not_fit_is_refused_when_planned():
    cfg = {**BASE, "sampler": {**BASE["sampler"], "method": "explicit"}, "base_widths": [60000]}
    with pytest.raises(ConfigError, match=r"base_widths=60000: one explicit draw at widths .* needs .* GiB, over"):
        RunConfig.from_dict(
            _with("dataset", {**BASE["dataset"], "n_points": 64}) | {k: cfg[k] for k in ("sampler", "base_widths")}
        )


def test_sampler_max_gib_sets_the_memory_a_draw_may_need():
    dataset = _with("dataset", {**BASE["dataset"], "n_points": 64})
    explicit = {**BASE["sampler"], "method": "explicit"}
    cfg = dataset | {"sampler": {**explicit, "max_gib": 1}, "base_widths": [8192]}
    with pytest.raises(ConfigError, match=r"base_widths=8192: .* needs 4\.0 GiB, over sampler.max_gib=1 "):
        RunConfig.from_dict(cfg)
    assert RunConfig.from_dict(cfg | {"sampler": {**explicit, "max_gib": 4.5}}).sampler.max_gib == 4.5
    with pytest.raises(ConfigError, match=r"max_gib=0: must be > 0"):
        RunConfig.from_dict(cfg | {"sampler": {**explicit, "max_gib": 0}})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"depth": 10**9}, r"depth=1000000000: needs >= .* GiB per draw"),
        ({"draws": 10**9}, r"draws=1000000000: one base width's kernels need .* GiB, over sampler.max_gib"),
        ({"concentration": {"n_boot": 10**12}}, r"concentration.n_boot=1000000000000: with draws=.* the bootstrap"),
        ({"spectrum": {"depths": [10, 10**9]}}, r"spectrum.depths=1000000000: exceeds 1000000"),
    ],
)
def test_sizes_are_refused_before_anything_is_allocated(change, message):
    """One line naming the key; allocating these sizes (a 10^9-entry width list, 10^9 / draws_per_job draw
    blocks) would take minutes or end in MemoryError before any check."""
    with pytest.raises(ConfigError, match=message):
        RunConfig.from_dict({**BASE, **change})
