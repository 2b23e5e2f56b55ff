"""Inputs, stores and archives: everything ntk-eoc reads from or writes to disk.

- :mod:`.datasets`  input datasets x in R^{n x m_0}, scaled to ||x||^2 = m_0
- :mod:`.store`     xarray/zarr v3 stores: dim vocabulary, provenance, atomic writes
- :mod:`.archive`   one zip of an experiment with a sha256 manifest; verify and restore
"""
