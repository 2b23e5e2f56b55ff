"""The table of runs: one row per run of the experiment, with the ids of the stores it shares.

A run's shared stores are content-addressed by the config they depend on (:func:`config_hash`, a short
sha1 of canonical JSON), so two runs with the same dataset, or the same dataset, activation, depth and
output dimension, share the dataset and limit stores.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .runs import RunConfig

__all__ = ["Run", "config_hash", "run_axes"]

_HASH_CHARS = 8


def config_hash(tree: Mapping[str, Any]) -> str:
    """Short sha1 of the canonical JSON of a config sub-tree (content id of a shared store)."""
    text = json.dumps(tree, sort_keys=True, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:_HASH_CHARS]


@dataclass(frozen=True)
class Run:
    """One row of the table of runs: id, swept values (typed; the activation axis by name), config."""

    run_id: str
    axes: dict[str, Any]
    resolved: dict[str, Any]
    config: RunConfig

    @property
    def dataset_id(self) -> str:
        """``<name>-<hash>``: the dataset store is shared by every run with the same dataset config."""
        dataset = self.config.dataset.config()
        return f"{dataset['name']}-{config_hash(dataset)}"

    @property
    def limit_id(self) -> str:
        """Id of the limit store, shared across schedules and base widths."""
        cfg = self.config
        key: dict[str, Any] = {"dataset": cfg.dataset.config(), "activation": cfg.activation.config()}
        if any(cfg.factorized):
            key["factorized"] = list(cfg.factorized)
        return (
            f"{self.dataset_id}__{cfg.activation.config()['name']}-{config_hash(key)}"
            f"__depth~{cfg.depth}__output_dim~{cfg.output_dim}"
        )

    @property
    def spectrum_id(self) -> str:
        """``<dataset_id>__<activation>-<hash>``: shared by runs with the same dataset, activation, depths."""
        act = self.config.activation.config()
        key = {"activation": act, "depths": list(self.config.spectrum.depths)}
        return f"{self.dataset_id}__{act['name']}-{config_hash(key)}"


def run_axes(composed_axes: Mapping[str, Any], activation_name: str) -> dict[str, Any]:
    """Swept values; every swept ``activation`` or ``activation.<param>`` key becomes one ``activation``
    axis valued by the activation's name (relu, abs, leaky_relu(0.5)), which spectrum stores carry too."""
    axes = {k: v for k, v in composed_axes.items() if k != "activation" and not k.startswith("activation.")}
    if len(axes) < len(composed_axes):
        axes["activation"] = activation_name
    return axes
