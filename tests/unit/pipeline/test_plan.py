"""The plan (DAG side): built from the Snakemake config without JAX, one spec per job, typed axes."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ntk_eoc.math.cost import batch_size, choose_maps, draw_bytes, resolve_method
from ntk_eoc.pipeline.plan import VIEW_STAGES, Plan, view_name
from ntk_eoc.pipeline.runs import ConfigError
from ntk_eoc.pipeline.specs import SampleSpec

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
CONFIG = {
    "experiment": "test",
    "overrides": [],
    "sweep": None,
    "hydra_config_dir": str(ROOT / "config" / "hydra"),
    "hydra_config_name": "config",
    "results_dir": "results",
    "jax_cache_dir": "",
}


@pytest.fixture(scope="module")
def plan() -> Plan:
    return Plan(CONFIG, SCHEMA)


def test_the_plan_imports_no_numerical_library():
    code = (
        "import json, sys\n"
        "from ntk_eoc.pipeline.plan import Plan, view_name\n"
        f"Plan(json.loads(sys.argv[1]), {str(SCHEMA)!r}).final_targets()\n"
        "print(sorted(m for m in ('jax', 'xarray', 'zarr', 'pandas', 'matplotlib', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code, json.dumps(CONFIG)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_runs_carry_typed_axes_with_the_activation_last(plan):
    run = plan.runs["activation~leaky_relu__schedule~quadratic"]
    assert run.axes == {"schedule": "quadratic", "activation": "leaky_relu(0.1)"}
    assert len(plan.runs) == 4 and plan.figure_names()[:2] == ["deviation_vs_width", "activations"]


def test_sample_spec_holds_the_runs_architectures(plan):
    run = plan.runs["activation~relu__schedule~constant"]
    assert run.sample_key == "sphere-n6-d4-s0/relu__constant__depth~3__out~1/seed~0__float32__auto"
    wildcards = {"sample_key": run.sample_key, "widths": "4-8", "start": 2, "stop": 4}
    job = plan.job("sample", wildcards)
    spec = SampleSpec.from_json(plan.spec("sample")(wildcards))
    assert spec == job.spec and job.inputs == {"dataset": plan.path("dataset", dataset=run.dataset)}
    assert spec.architectures == (run.config.architecture(4), run.config.architecture(8))
    assert spec.architectures[1].widths == (4, 8, 8, 1)
    # sampler.method=auto is resolved once, in the plan, by the cost model: the job gets a concrete route
    # (method and per-map routes), the same DrawCost the memory check and the memory request used
    n = run.config.dataset.n_points
    assert spec.methods == tuple(resolve_method("auto", arch, n) for arch in spec.architectures)
    assert "auto" not in spec.methods
    built = job.spec  # the plan's own objects (spec is their JSON round trip)
    for m, arch, method, routes in zip(
        built.base_widths, built.architectures, built.methods, built.routes, strict=True
    ):
        cost = run.config.draw_cost(m)
        assert cost is run.config.draw_cost(m) and run.config.architecture(m) is arch
        conditioned = choose_maps(arch, n) if method == "conditioned" else (False,) * len(arch.maps)
        assert (cost.method, cost.routes) == (method, routes) == (method, conditioned)
        assert cost.bytes == draw_bytes(method, arch, n, 4) and cost.batch == batch_size(method, arch, n, 4)
    assert plan.mem_mb("sample")(wildcards) == job.mem_mb >= 1000


def test_specs_of_shared_stores_do_not_depend_on_the_rest_of_the_view():
    """A variant reuses a shared store only if the store's job has the same spec in both views: the dataset
    job must not see which activations read it, nor the analysis jobs settings they do not use."""
    one = {**CONFIG, "sweep": ["activation=relu", "schedule=constant"], "overrides": ["draws=32"]}
    both = {**one, "sweep": ["activation=relu,abs", "schedule=constant"]}
    other = {**one, "overrides": ["draws=32", "sampler.draws_per_job=16", "+concentration.quantiles=[0.5]"]}
    plans = [Plan(cfg, SCHEMA) for cfg in (one, both, other)]
    run = "activation~relu__schedule~constant"
    dataset = {"dataset": plans[0].runs[run].dataset}
    assert len({p.spec("dataset")(dataset) for p in plans}) == 1
    key = {"concentration_key": plans[0].runs[run].concentration_key}
    assert plans[2].runs[run].concentration_key == key["concentration_key"]
    assert len({p.spec("concentration")(key) for p in plans}) == 1
    fluct = {"fluctuations_key": plans[0].runs[run].fluctuations_key}
    assert plans[2].runs[run].fluctuations_key == fluct["fluctuations_key"]
    assert len({p.spec("fluctuations")(fluct) for p in plans}) == 1
    # another bootstrap is another fluctuation store (its name holds every bootstrap setting), same draws
    boot = Plan({**one, "overrides": ["draws=32", "+concentration.n_boot=100"]}, SCHEMA).runs[run]
    assert boot.concentration_key == key["concentration_key"]
    assert boot.fluctuations_key.startswith(f"{key['concentration_key']}__boot~bca~100~0~")
    assert boot.fluctuations_key != fluct["fluctuations_key"]


def test_one_network_of_two_schedules_is_sampled_and_summarised_once():
    """At depth 2 every schedule gives [m_0, m, m_l]: the quadratic and constant runs share their sample,
    concentration and fluctuation jobs (named by the constant schedule), while each run keeps its config
    and the figures job reads the shared store for both."""
    sweep = ["activation=relu", "schedule=quadratic,constant", "depth=2,3"]
    cfg = {**CONFIG, "sweep": sweep, "overrides": ["draws=32"]}
    plan = Plan(cfg, SCHEMA)
    assert len(plan.runs) == 4 and len(plan.jobs["run_config"]) == 4
    run = "activation~relu__schedule~{}__depth~{}".format
    quad, const = plan.runs[run("quadratic", 2)], plan.runs[run("constant", 2)]
    assert quad.sample_key == const.sample_key and "__constant__depth~2" in quad.sample_key
    assert plan.runs[run("quadratic", 3)].sample_key != plan.runs[run("constant", 3)].sample_key
    assert len({job.spec.key for job in plan.jobs["sample"].values()}) == 3
    assert len(plan.jobs["concentration"]) == len(plan.jobs["fluctuations"]) == 3
    assert quad.config.schedule.name == "quadratic"  # the run is still the quadratic run
    figures = plan.jobs["figures"][""]
    assert len(figures.inputs["concentration"]) == 4 and len(set(figures.inputs["concentration"])) == 3
    assert figures.spec.config["schedule"] == {"name": "quadratic"}


def test_final_targets_are_the_views_configs_figures_and_tables(plan):
    targets = plan.final_targets()
    assert sum("/configs/" in t for t in targets) == 4 and "results/test/tables/claims.md" in targets
    assert all(t.startswith("results/test/") for t in targets) and len(targets) == len(set(targets))
    stores = plan.store_paths()
    assert all(p.startswith("results/stores/") for p in stores)
    assert sum("/samples/" in p for p in stores) == 4 * 2  # 4 runs x one group of widths x 2 blocks


def test_cheap_base_widths_share_a_job_and_dear_ones_get_their_own(plan):
    from ntk_eoc.pipeline.resources import GROUP_SECONDS, draw_seconds, width_groups

    cfg = plan.runs["activation~relu__schedule~quadratic"].config
    assert width_groups(cfg) == [(4, 8)]
    sampler = dataclasses.replace(cfg.sampler, draws_per_job=4096)  # blocks of many draws: wide ones are dear
    wide = dataclasses.replace(cfg, base_widths=(4, 8, 4096, 8192), sampler=sampler)
    groups = width_groups(wide)
    assert groups[0] == (4, 8) and all(len(g) == 1 for g in groups[1:])
    for (m,) in groups[1:]:
        assert wide.sampler.draws_per_job * draw_seconds(wide, m) >= GROUP_SECONDS


def test_view_names_say_what_a_variant_changes():
    assert view_name("demo", [], None, None) == "demo"
    assert view_name("demo", ["draws=512"], ["activation=relu,abs,leaky_relu"], None) == (
        "demo+draws=512+activation=relu,abs,leaky_relu"
    )
    assert view_name("demo", ["base_widths=[4, 8]"], None, None) == "demo+base_widths=4,8"
    assert len(view_name("demo", ["x=" + "1," * 100], None, None)) <= 80
    assert view_name("demo", [], None, "mine") == "mine"
    with pytest.raises(ConfigError, match="name='stores': must be a plain folder name"):
        view_name("demo", [], None, "stores")
    with pytest.raises(ConfigError, match="is 300 characters long; at most 80"):
        view_name("demo", [], None, "a" * 300)


def test_a_name_may_not_take_another_experiments_view():
    """``name=demo`` on a variant would rewrite the demo's configs, figures and tables: refused, as is a
    derived variant name; the experiment's own name for itself and names of one's own are planned."""
    with pytest.raises(ConfigError, match="name='demo': is the view of experiment demo, which this run would"):
        Plan({**CONFIG, "name": "demo"}, SCHEMA)
    with pytest.raises(ConfigError, match="is the view of a variant of an experiment"):
        Plan({**CONFIG, "name": "test+draws=8"}, SCHEMA)
    assert Plan({**CONFIG, "name": "test"}, SCHEMA).view == "test"
    assert Plan({**CONFIG, "name": "mine", "overrides": ["draws=32"]}, SCHEMA).view == "mine"


def test_bad_snakemake_config_names_the_key():
    with pytest.raises(ConfigError, match=r"experiment='test.yaml': 'test.yaml' does not match"):
        Plan({**CONFIG, "experiment": "test.yaml"}, SCHEMA)
    with pytest.raises(ConfigError, match=r"bogus=1: unknown key"):
        Plan({**CONFIG, "bogus": 1}, SCHEMA)


@pytest.mark.parametrize("value", ["", "   ", "/", "/tmp/.."])
def test_results_dir_must_name_a_folder_below_the_filesystem_root(value):
    with pytest.raises(ConfigError, match=rf"results_dir={value!r}: must be a non-empty relative or absolute folder"):
        Plan({**CONFIG, "results_dir": value}, SCHEMA)
    assert Plan({**CONFIG, "results_dir": "/tmp/r"}, SCHEMA).stores == "/tmp/r/stores"


@pytest.mark.slow
@pytest.mark.parametrize("experiment", sorted(p.stem for p in (ROOT / "config/hydra/experiment").glob("*.yaml")))
def test_every_shipped_experiment_is_planned(experiment):
    """Each experiment in config/hydra/experiment composes, validates (memory of its largest draw
    included) and yields its final targets, as ``snakemake -n --config experiment=<name>`` would."""
    plan = Plan({**CONFIG, "experiment": experiment}, SCHEMA)
    targets = plan.final_targets()
    assert plan.runs and targets and all(t.startswith(f"results/{experiment}/") for t in targets)


def test_fluctuations_are_measured_for_dense_layers_only():
    """The product-form law is derived for dense layers: an experiment with factorized ones gets no
    fluctuation stores, figures or rows."""
    assert Plan({**CONFIG, "experiment": "demo"}, SCHEMA).fluctuations
    factorized = Plan({**CONFIG, "experiment": "factorized"}, SCHEMA)
    assert not factorized.fluctuations
    assert not [t for t in factorized.final_targets() if "figures/fluctuations" in t]
    assert not [p for p in factorized.store_paths() if "/fluctuations/" in p]
    assert [p for p in Plan({**CONFIG, "experiment": "demo"}, SCHEMA).store_paths() if "/fluctuations/" in p]


def test_every_rule_file_quotes_its_output_pattern_from_the_table():
    """Each rule file names what it writes in its header (``# output: stores/<pattern>``), the same
    pattern the plan builds its jobs from, and reads its inputs one way (``unpack(PLAN.inputs(stage))``)."""
    from ntk_eoc.pipeline.outputs import STORE_PATTERNS

    rules = ROOT / "workflow" / "rules"
    for stage, pattern in STORE_PATTERNS.items():
        text = (rules / f"{stage}.smk").read_text()
        assert f"# output: stores/{pattern}\n" in text, stage
        assert f'unpack(PLAN.inputs("{stage}"))' in text and f'PLAN.output("{stage}")' in text, stage
    for path in rules.glob("*.smk"):
        text = path.read_text()
        if path.stem != "common":
            assert "# output: " in text and f'unpack(PLAN.inputs("{path.stem}"))' in text, path.name


def test_each_job_is_built_once_and_found_by_its_output(plan):
    """The table holds one job per output; a rule's lookup by wildcards returns that job, with the
    stores it reads among the outputs of other jobs of the table."""
    outputs = {path for stage in plan.jobs for path in plan.jobs[stage]}
    assert {"sample", "limit", "concentration", "spectrum", "figures"} <= set(plan.jobs)
    for stage in ("sample", "limit", "concentration", "fluctuations", "spectrum", "dataset"):
        for path, job in plan.jobs.get(stage, {}).items():
            assert job.stage == stage and job.output == path
            for value in job.inputs.values():
                assert set(value if isinstance(value, tuple) else (value,)) <= outputs
    figures = plan.job("figures")
    assert list(figures.inputs["concentration"]) == [
        plan.path("concentration", concentration_key=run.concentration_key) for run in plan.runs.values()
    ]
    assert dict(figures.spec.figure_files).keys() == set(plan.figure_names())
    assert plan.store_paths() == [p for s in plan.jobs if s not in ("run_config", *VIEW_STAGES) for p in plan.jobs[s]]


def test_first_order_predictions_cover_dense_single_output_networks_only():
    """One first-order store per network of the demo (depth 2 shared by both schedules), each fed to the
    figures job with its runs; factorized layers and a second output dimension get none (SCIENCE §6.1)."""
    demo = Plan({**CONFIG, "experiment": "demo"}, SCHEMA)
    stores = [p for p in demo.store_paths() if "/first_order/" in p]
    assert len(stores) == 10 and all(p.endswith("/fo~4096~4096~0.zarr") for p in stores)
    figures = demo.job("figures")
    assert len(figures.spec.first_order_runs) == len(demo.runs) == len(figures.inputs["first_order"])
    spec = demo.jobs["first_order"][stores[0]].spec
    assert spec.hidden_widths in ((1,), (1, 1, 1), (1, 4, 9), (1,) * 7, tuple(k * k for k in range(1, 8)))
    factorized = Plan({**CONFIG, "experiment": "factorized"}, SCHEMA)
    dense = [r for r in factorized.runs.values() if not any(r.config.factorized)]
    assert len([p for p in factorized.store_paths() if "/first_order/" in p]) == len({r.first_order_key for r in dense})
    two = Plan({**CONFIG, "experiment": "demo", "sweep": ["output_dim=1,2", "depth=2"]}, SCHEMA)
    single = {rid for rid, run in two.runs.items() if run.config.output_dim == 1}
    assert set(two.job("figures").spec.first_order_runs) == single and 2 * len(single) == len(two.runs)
