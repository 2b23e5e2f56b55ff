"""One module per pipeline stage, run by its rule as ``python -m ntk_eoc.pipeline.stages.<stage>``.

Each module reads as decode -> compute -> write: :func:`parser` gives the ``--spec`` argument (the
rule's params, the stage's typed spec as JSON) and the stage's own paths, :func:`setup_logging` sends
INFO lines to stderr (the rule redirects them to the job's log), the math comes from :mod:`ntk_eoc`,
and one store is written with :func:`ntk_eoc.storage.store.write_store`.
"""

from __future__ import annotations

import argparse
import logging

__all__ = ["parser", "setup_logging"]

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging() -> logging.Logger:
    """INFO-level logging to stderr (the rule redirects it to its log file)."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, force=True)
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)  # absent TPU/proxy backends
    return logging.getLogger("ntk_eoc.pipeline")


def parser(description: str, spec: type, *paths: str) -> argparse.ArgumentParser:
    """Arguments of a stage: ``--spec`` (JSON of ``spec``, decoded on parsing) and each of ``paths``
    (``--output``, ``--dataset``, ...) as a required string."""

    def decode(text: str):
        try:
            return spec.from_json(text)
        except (ValueError, KeyError, TypeError) as err:
            raise argparse.ArgumentTypeError(f"--spec is not a valid {spec.__name__}: {err}") from None

    out = argparse.ArgumentParser(description=description)
    out.add_argument("--spec", type=decode, required=True, help=f"{spec.__name__} as JSON (the rule's params)")
    for name in paths:
        out.add_argument(f"--{name}", required=True)
    return out
