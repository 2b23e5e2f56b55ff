"""Hydra composition of an experiment: its sweep expanded into runs, each composed once and resolved.

An experiment (config group ``experiment``) declares its sweep in ``hydra.sweeper.params`` in Hydra's
override grammar; the Snakemake-level ``sweep`` replaces axes key by key and ``overrides`` apply to
every run. Each combination of the axes is one run: its id is ``key~value__key~value`` over the swept
keys (``default`` when nothing is swept) and its axes are the typed values Hydra parsed (``depth: 4``,
``activation: "relu"``). Compose happens inside ``initialize_config_dir`` (absolute path), so it can run
many times in one process. :func:`validate_workflow_config` checks the Snakemake-level config (the
keys `--config` sets) against its JSON schema first.
"""

from __future__ import annotations

import difflib
import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..validate import ConfigError, Described

__all__ = ["ComposedRun", "compose_runs", "run_id", "sweep_axes", "validate_workflow_config"]


@dataclass(frozen=True)
class ComposedRun:
    """One run of an experiment: id, swept overrides, typed swept values, resolved config dict."""

    run_id: str
    overrides: tuple[str, ...]
    axes: dict[str, Any]
    resolved: dict[str, Any]


def sweep_axes(entries: Sequence[str], hydra_dir: str | None = None) -> dict[str, list[tuple[str, Any]]]:
    """Parse Hydra override strings (``key=v1,v2``, ``key=range(a,b)``, ``group=glob(pattern)``) into
    ordered axes key -> [(override, typed value)]; a glob takes the matching options of the config group
    ``<hydra_dir>/<key>/``, in sorted order."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import Glob
    from hydra.errors import HydraException

    axes: dict[str, list[tuple[str, Any]]] = {}
    for entry in entries:
        try:
            overrides = OverridesParser.create().parse_overrides([entry])
        except HydraException as err:
            raise ConfigError("sweep", entry, str(err).splitlines()[0]) from None
        for override in overrides:
            key = override.get_key_element()
            if isinstance(override.value(), Glob):
                group = Path(hydra_dir or ".") / key
                options = sorted(p.stem for p in group.glob("*.yaml")) if hydra_dir and group.is_dir() else []
                chosen = override.value().filter(options)
                if not chosen:
                    known = ", ".join(options) or f"{key} is not a config group"
                    raise ConfigError("sweep", entry, f"the glob matches no option of {key} (options: {known})")
                axes[key] = [(f"{key}={name}", name) for name in chosen]
            elif override.is_sweep_override():
                if not override.is_discrete_sweep():
                    raise ConfigError("sweep", entry, "only discrete sweeps (v1,v2 or range(a,b)) are supported")
                values = list(override.sweep_iterator())
                texts = list(override.sweep_string_iterator())
                axes[key] = [(f"{key}={text}", value) for text, value in zip(texts, values, strict=True)]
            else:
                axes[key] = [(f"{key}={override.get_value_element_as_str()}", override.value())]
    return axes


def run_id(overrides: Sequence[str]) -> str:
    """``key~value__key~value`` over the swept overrides ("default" when nothing is swept)."""
    return "__".join(o.replace("=", "~", 1) for o in overrides) or "default"


# Limits on what a config may expand to, checked before Hydra or OmegaConf read it: a YAML file's size and
# the nodes it expands to with its aliases (a nested-alias "bomb" of a few lines expands to 10^9 nodes),
# and the runs a sweep may make (the largest shipped experiment has 288).
MAX_CONFIG_BYTES = 2**20
MAX_CONFIG_NODES = 100_000
MAX_RUNS = 4096


def expanded_nodes(root: Any, children: Any, limit: int = MAX_CONFIG_NODES) -> int:
    """The nodes of the tree under ``root`` with shared nodes (YAML aliases) counted at every use, without
    expanding it: counts are memoized per node, so the cost is one visit of each distinct node. Stops
    counting past ``limit`` (returns a number > limit)."""
    memo: dict[int, int] = {}

    def count(node: Any, depth: int) -> int:
        key = id(node)
        if key in memo:
            return memo[key]
        if depth > 200:
            return limit + 1
        memo[key] = limit + 1  # a cycle counts as too large
        total = 1
        for child in children(node):
            total += count(child, depth + 1)
            if total > limit:
                break
        memo[key] = total
        return total

    return count(root, 0)


def _yaml_children(node: Any) -> list[Any]:
    import yaml

    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _python_children(value: Any) -> list[Any]:
    if isinstance(value, Mapping):
        return [*value.keys(), *value.values()]
    if isinstance(value, (list, tuple)):
        return list(value)
    return []


def check_config_tree(hydra_dir: str | Path) -> None:
    """ConfigError naming the file when a YAML file of the Hydra tree is over MAX_CONFIG_BYTES, is not
    valid YAML, or expands to more than MAX_CONFIG_NODES nodes."""
    import yaml

    for path in sorted(Path(hydra_dir).rglob("*.yaml")):
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError("config file", str(path), f"is {size} bytes, over the limit of {MAX_CONFIG_BYTES}")
        try:
            documents = list(yaml.compose_all(path.read_text()))
        except yaml.YAMLError as err:
            raise ConfigError("config file", str(path), " ".join(f"not valid YAML: {err}".split())) from None
        nodes = sum(expanded_nodes(doc, _yaml_children) for doc in documents if doc is not None)
        if nodes > MAX_CONFIG_NODES:
            raise ConfigError(
                "config file", str(path), f"expands to more than {MAX_CONFIG_NODES} nodes through its aliases"
            )


def check_config_size(cfg: Mapping[str, Any]) -> None:
    """ConfigError when the Snakemake config (``--config``, ``--configfile``) expands to more than
    MAX_CONFIG_NODES values."""
    if expanded_nodes(cfg, _python_children) > MAX_CONFIG_NODES:
        reason = f"expands to more than {MAX_CONFIG_NODES} values"
        raise ConfigError("config", Described("<the Snakemake config>"), reason)


def compose_runs(
    hydra_dir: str,
    config_name: str,
    experiment: str,
    overrides: Sequence[str] = (),
    sweep: Sequence[str] | None = None,
) -> list[ComposedRun]:
    """Compose every run of an experiment (resolved dicts, not yet validated).

    Args:
        hydra_dir: absolute path of the Hydra config tree.
        config_name: primary config name (``config``).
        experiment: option of the ``experiment`` group.
        overrides: base Hydra overrides applied to every run; a key the sweep sets is refused.
        sweep: override strings whose axes replace (key by key) the experiment's
            ``hydra.sweeper.params``; None keeps the experiment's sweep.

    Raises:
        ConfigError: naming the first bad key and value.
    """
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    check_config_tree(hydra_dir)
    base = [f"experiment={experiment}", *overrides]
    hydra_cfg = _compose(hydra_dir, config_name, base, with_hydra=True)
    swept = hydra_cfg.hydra.sweeper.params
    params = OmegaConf.to_container(swept) if swept is not None else {}
    axes = sweep_axes([f"{k}={v}" for k, v in params.items()], hydra_dir)
    axes.update(sweep_axes(sweep or [], hydra_dir))
    for override in overrides:
        key = override.lstrip("+~").partition("=")[0]
        if key in axes:
            values = ", ".join(text.partition("=")[2] for text, _ in axes[key])
            raise ConfigError(
                "overrides", override, f"{key} is swept by the experiment ({values}); change it with "
                f"sweep=[\"{key}=...\"] instead",
            )  # fmt: skip
    count = math.prod(len(values) for values in axes.values())
    if count > MAX_RUNS:
        sizes = " x ".join(f"{len(v)} {k}" for k, v in axes.items())
        raise ConfigError("sweep", sweep, f"makes {count} runs ({sizes}), over the limit of {MAX_RUNS}")
    runs = []
    for combo in itertools.product(*axes.values()):
        texts = [text for text, _ in combo]
        rid = run_id(texts)
        if "/" in rid or any(c.isspace() for c in rid):
            raise ConfigError("sweep", texts, "run ids become paths: no '/' or spaces in swept values")
        cfg = _compose(hydra_dir, config_name, [*base, *texts], with_hydra=False)
        typed = {key: value for key, (_, value) in zip(axes, combo, strict=True)}
        try:
            resolved = OmegaConf.to_container(cfg, resolve=True)
        except OmegaConfBaseException as err:
            key = str(getattr(err, "full_key", None) or "overrides")
            given = [o.partition("=")[2] for o in [*base, *texts] if o.lstrip("+~").partition("=")[0] == key]
            raw = OmegaConf.to_container(cfg, resolve=False)
            for part in key.split("."):
                raw = raw.get(part) if isinstance(raw, dict) else None
            reason = " ".join(str(err).split("full_key:")[0].split())
            raise ConfigError(key, given[-1] if given else raw, reason) from None
        runs.append(ComposedRun(rid, tuple(texts), typed, resolved))
    return runs


def _compose(hydra_dir: str, config_name: str, overrides: Sequence[str], with_hydra: bool) -> Any:
    """One Hydra compose call (context-managed, so it can run many times in one process)."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_dir(config_dir=hydra_dir, version_base="1.3"):
            return compose(config_name, overrides=list(overrides), return_hydra_config=with_hydra)
    except (HydraException, OmegaConfBaseException) as err:
        message = " ".join(str(err).split("Config search path")[0].split())
        unknown = re.match(r"Could not override '([^']+)'", message)
        if unknown:
            override = next((o for o in overrides if o.lstrip("+~").partition("=")[0] == unknown.group(1)), "")
            reason = unknown_key(hydra_dir, config_name, list(overrides[:1]), unknown.group(1))
            raise ConfigError(unknown.group(1), override.partition("=")[2], reason) from None
        for override in reversed(overrides):
            key, _, value = override.lstrip("+~").partition("=")
            if f"'{key}'" in message or f"'{key}/{value}'" in message or f"'{override}'" in message:
                raise ConfigError(key, value, message) from None
        raise ConfigError("overrides", list(overrides), message) from None


def _keys(tree: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths of every leaf of a config tree."""
    out = []
    for key, value in tree.items():
        path = f"{prefix}{key}"
        out += _keys(value, f"{path}.") if isinstance(value, Mapping) else [path]
    return out


def unknown_key(hydra_dir: str, config_name: str, base: Sequence[str], key: str) -> str:
    """Why ``key`` cannot be set, before Hydra's own hint: the closest known keys of a run, or the options
    of a config group that have it (``activation.a`` is a key of ``activation=custom``)."""
    import yaml
    from omegaconf import OmegaConf

    cfg = OmegaConf.to_container(_compose(hydra_dir, config_name, base, with_hydra=False), resolve=False)
    known = _keys(cfg)
    group, _, sub = key.partition(".")
    options = sorted(
        p.stem for p in Path(hydra_dir, group).glob("*.yaml") if sub and sub in (yaml.safe_load(p.read_text()) or {})
    )
    if options:
        return f"unknown key here; {sub} is a key of {', '.join(f'{group}={o}' for o in options)}: select it"
    close = difflib.get_close_matches(key, known, n=3)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    return f"unknown key; {hint}keys of a run: {', '.join(sorted(known))}"


def _check_results_dir(value: str) -> None:
    """``results_dir`` names a folder: non-empty, not blank, not the filesystem root (every view and store is
    planned under it)."""
    if not value.strip() or Path(value).resolve() == Path(Path(value).resolve().anchor):
        raise ConfigError(
            "results_dir", value, "must be a non-empty relative or absolute folder, not the filesystem root"
        )


def validate_workflow_config(cfg: Mapping[str, Any], schema_path: str | Path) -> None:
    """Check the Snakemake-level config against its JSON schema; ConfigError naming key and value."""
    import jsonschema
    import yaml

    with open(schema_path) as handle:
        schema = yaml.safe_load(handle)
    check_config_size(cfg)
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(dict(cfg)))
    if error is None:
        _check_results_dir(cfg["results_dir"])
        return
    if error.validator == "additionalProperties":
        extra = sorted(set(cfg) - set(schema.get("properties", {})))
        raise ConfigError(extra[0], cfg[extra[0]], f"unknown key; allowed: {', '.join(schema['properties'])}")
    key = ".".join(str(p) for p in error.absolute_path) or "config"
    raise ConfigError(key, error.instance, error.message)
