"""ntk-eoc: the NTK of deep (a,b)-ReLU MLPs at the Edge of Chaos, its infinite-width limit, and fast
exact samplers of its finite-width fluctuations.

"SCIENCE §N" in docstrings is section N of the science notes ``src/ntk_eoc/SCIENCE.md`` (this package's
directory): conventions, formulas, the papers' claims with their references (§9) and what is tested.

The package is laid out by layer (imports go one way, down this list):

- :mod:`ntk_eoc.validate`   checks of user-given values, shared by every layer
- :mod:`ntk_eoc.math`       activations, schedules, architecture, layout, limit, empirical NTK, cost model,
  samplers, eigenvalues (SCIENCE §1-§5)
- :mod:`ntk_eoc.storage`    input datasets, xarray/zarr stores with provenance, archives
- :mod:`ntk_eoc.analysis`   statistics, spectra, claims tables, figures (SCIENCE §4)
- :mod:`ntk_eoc.pipeline`   the Snakemake side: plan, typed job specs, one module per stage, the CLI

The public names below are imported lazily, so ``python -m ntk_eoc.pipeline.stages.<stage>`` pays only
for what its stage uses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name -> module that defines it.
_PUBLIC = {
    "Activation": "ntk_eoc.math.activations",
    "Architecture": "ntk_eoc.math.architecture",
    "Elementwise": "ntk_eoc.math.activations",
    "LimitLayers": "ntk_eoc.math.limit",
    "draw_keys": "ntk_eoc.math.samplers",
    "empirical_ntk": "ntk_eoc.math.empirical",
    "limit_kernel": "ntk_eoc.math.limit",
    "limit_layers": "ntk_eoc.math.limit",
    "limit_spectrum": "ntk_eoc.analysis.spectrum",
    "open_store": "ntk_eoc.storage.store",
    "sample_kernels": "ntk_eoc.math.samplers",
    "widths": "ntk_eoc.math.schedules",
}
__all__ = [
    "Activation",
    "Architecture",
    "Elementwise",
    "LimitLayers",
    "draw_keys",
    "empirical_ntk",
    "limit_kernel",
    "limit_layers",
    "limit_spectrum",
    "open_store",
    "sample_kernels",
    "widths",
]

if TYPE_CHECKING:
    from .analysis.spectrum import limit_spectrum
    from .math.activations import Activation, Elementwise
    from .math.architecture import Architecture
    from .math.empirical import empirical_ntk
    from .math.limit import LimitLayers, limit_kernel, limit_layers
    from .math.samplers import draw_keys, sample_kernels
    from .math.schedules import widths
    from .storage.store import open_store


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ntk_eoc' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
