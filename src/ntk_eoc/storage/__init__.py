"""Stores and archives: everything ntk-eoc writes to or reads from disk.

- :mod:`.store`           xarray/zarr v3 stores: dim vocabulary, provenance, atomic self-checking writes
- :mod:`.integrity`       the store manifest, its verification and checked chunk reads (StoreError)
- :mod:`.writer`          temporaries, in-flight writes and the rename into place behind write_store
- :mod:`.invariants`      cheap physical checks of what stages read (kernel symmetry and diagonal)
- :mod:`.run_kernels`     the kernels of one run, read from its sample stores without a copy
- :mod:`.scan`            ``ntk-eoc verify``: every store under a folder; ``--repair`` moves bad ones aside
- :mod:`.archive`         one zip of a view with a sha256 manifest; verify and all-or-nothing restore
  (:mod:`.archive.format`: what an archive may hold; :mod:`.archive.verification`: its two passes)

The input datasets are math (:mod:`ntk_eoc.math.datasets`); this package only stores them.
"""
