"""Inputs, stores and archives: everything ntk-eoc reads from or writes to disk.

- :mod:`.datasets`        input datasets x in R^{n x m_0}, scaled to ||x||^2 = m_0; distinctness check
- :mod:`.store`           xarray/zarr v3 stores: dim vocabulary, provenance, atomic self-checking writes
- :mod:`.integrity`       the store manifest, its verification and checked chunk reads (StoreError)
- :mod:`.writer`          temporaries, in-flight writes and the rename into place behind write_store
- :mod:`.invariants`      cheap physical checks of what stages read (kernel symmetry and diagonal)
- :mod:`.scan`            ``ntk-eoc verify``: every store under a folder; ``--repair`` moves bad ones aside
- :mod:`.archive`         one zip of an experiment with a sha256 manifest; verify and all-or-nothing restore
- :mod:`.archive_format`  what an archive may hold (manifest, names, entry types, size caps)
- :mod:`.archive_scan`    the structure and data passes of archive verification
"""
