"""Configs that would expand before they are refused: an alias bomb, a huge sweep, an unset environment
variable, a glob sweep. Each ends in one line naming the key or file, before Hydra or OmegaConf expand it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ntk_eoc.pipeline import cli
from ntk_eoc.pipeline.compose import MAX_CONFIG_NODES, check_config_size, expanded_nodes
from ntk_eoc.pipeline.plan import Plan
from ntk_eoc.validate import ConfigError

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
CONFIG = {
    "experiment": "test", "overrides": [], "sweep": None, "hydra_config_dir": str(ROOT / "config" / "hydra"),
    "hydra_config_name": "config", "results_dir": "results", "jax_cache_dir": "",
}  # fmt: skip


def _bomb(levels: int) -> str:
    """Nested aliases: 10 copies of 10 copies ... of a 10-item list, 10^(levels+1) leaves in a few lines."""
    lines = ["# @package _global_", "defaults:", "  - test", "  - _self_", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels + 1)]
    return "\n".join([*lines, f"bomb: *a{levels}", ""])


def test_expanded_nodes_counts_every_use_of_a_shared_node_without_expanding():
    leaf = [0] * 10
    tree = {"a": [leaf] * 10, "b": leaf}
    assert expanded_nodes(
        tree, lambda v: list(v.values()) if isinstance(v, dict) else v if isinstance(v, list) else []
    ) == (1 + (1 + 10 * 11) + 11)
    nested: list = [0]
    for _ in range(12):
        nested = [nested] * 10  # 10^12 leaves, 13 distinct lists
    with pytest.raises(ConfigError, match=rf"config=<the Snakemake config>: expands to more than {MAX_CONFIG_NODES}"):
        check_config_size({"overrides": nested})


def test_an_alias_bomb_in_the_config_tree_is_refused_naming_the_file(tmp_path, capsys):
    config = tmp_path / "config"
    shutil.copytree(ROOT / "config", config)
    bomb = config / "hydra" / "experiment" / "bomb.yaml"
    bomb.write_text(_bomb(8))  # 10^9 nodes expanded
    assert cli.main(["show", "bomb", "--config-dir", str(config)]) == 1
    err = capsys.readouterr().err
    assert (
        err == f"ntk-eoc: error: invalid config: config file={str(bomb)!r}: expands to more than 100000 nodes "
        "through its aliases\n"
    )
    bomb.write_text(_bomb(3))  # 10^4 nodes: within the limit, composed and then checked key by key
    assert cli.main(["show", "bomb", "--config-dir", str(config)]) == 1
    assert "a0=['x', 'x'" in capsys.readouterr().err  # refused as an unknown key, not for its size


def test_an_unset_environment_variable_is_one_line(capsys):
    assert cli.main(["show", "test", "--override", "draws=${oc.env:NTK_EOC_SURELY_UNSET}"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ntk-eoc: error: invalid config: draws='${oc.env:NTK_EOC_SURELY_UNSET}': ")
    assert "Environment variable 'NTK_EOC_SURELY_UNSET' not found" in err and err.count("\n") == 1


def test_a_sweep_over_the_run_limit_is_refused_before_composing():
    sweep = ["depth=range(2,100)", "draws=range(8,100)"]
    with pytest.raises(ConfigError, match=r"makes \d+ runs \(.*98 depth x 92 draws\), over the limit of 4096"):
        Plan({**CONFIG, "sweep": sweep}, SCHEMA)


def test_a_glob_sweep_takes_the_matching_options_of_the_group():
    plan = Plan({**CONFIG, "sweep": ["activation=glob([relu,abs])"]}, SCHEMA)
    assert sorted({run.axes["activation"] for run in plan.runs.values()}) == ["abs", "relu"]
    with pytest.raises(ConfigError, match=r"the glob matches no option of activation \(options: abs, custom"):
        Plan({**CONFIG, "sweep": ["activation=glob(zz*)"]}, SCHEMA)
