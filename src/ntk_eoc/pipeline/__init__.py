"""Thin adapters behind the Snakemake rules: one module per stage, run as ``python -m``.

Each module parses its arguments (the rule's params arrive as one JSON string ``--config``), sets up
logging, calls the math in :mod:`ntk_eoc` and writes one store with :func:`ntk_eoc.store.write_store`.
"""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

__all__ = ["json_config", "parser", "setup_logging"]

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging() -> logging.Logger:
    """INFO-level logging to stderr (the rule redirects it to its log file)."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, force=True)
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)  # absent TPU/proxy backends
    return logging.getLogger("ntk_eoc.pipeline")


def json_config(text: str) -> dict[str, Any]:
    """The rule's params (a JSON object)."""
    value = json.loads(text)
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"--config must be a JSON object, got {text!r}")
    return value


def parser(description: str) -> argparse.ArgumentParser:
    """Argument parser with the ``--config`` (JSON) and ``--output`` (path) arguments of every stage."""
    out = argparse.ArgumentParser(description=description)
    out.add_argument("--config", type=json_config, required=True, help="config sub-tree of the rule (JSON)")
    out.add_argument("--output", required=True, help="output path")
    return out
