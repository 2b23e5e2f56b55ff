"""The quickstart notebook (workflow/notebooks/quickstart.ipynb) runs top to bottom in a fresh kernel.

The kernel's connection file, IPython profile, Jupyter dirs and matplotlib cache all go to the test's
temporary directory, and so does the notebook's working directory: the test leaves no file elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the test extra installs nbformat")
nbclient = pytest.importorskip("nbclient", reason="the test extra installs nbclient")
pytest.importorskip("ipykernel", reason="the test extra installs ipykernel")
from jupyter_client import KernelManager  # noqa: E402  (installed with nbclient)

pytestmark = pytest.mark.slow  # end-to-end: run by default, deselected by -m 'not slow'

NOTEBOOK = Path(__file__).resolve().parents[3] / "workflow" / "notebooks" / "quickstart.ipynb"
CELL_TIMEOUT_S = 600  # a stuck cell fails the test instead of hanging it (not a speed requirement)
# Where Jupyter, IPython and matplotlib would otherwise write under the home directory.
HOME_DIRS = ("JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR", "IPYTHONDIR", "MPLCONFIGDIR")
# Their defaults: none may appear during the test (one that already exists is left alone).
HOME_DEFAULTS = (".ipython", ".jupyter", ".local/share/jupyter", ".config/matplotlib", ".cache/matplotlib")


def _text(nb) -> str:
    """All stream and plain-text outputs of the executed notebook."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", "") or out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("notebook")
    env = {name: str(root / name.lower()) for name in HOME_DIRS}
    saved = {name: os.environ.get(name) for name in (*HOME_DIRS, "NTK_EOC_STORE")}
    os.environ.update(env)
    os.environ.pop("NTK_EOC_STORE", None)  # the notebook writes its own tiny store
    absent = [d for d in HOME_DEFAULTS if not (Path.home() / d).exists()]
    try:
        nb = nbformat.read(NOTEBOOK, as_version=4)
        km = KernelManager(kernel_name="python3", connection_file=str(root / "kernel.json"))
        client = nbclient.NotebookClient(
            nb, km=km, timeout=CELL_TIMEOUT_S, resources={"metadata": {"path": str(root / "cwd")}}
        )
        (root / "cwd").mkdir()
        try:
            client.execute()
        finally:  # a kernel manager passed in is not shut down by nbclient; this removes the connection file
            if km.has_kernel:
                km.shutdown_kernel(now=True)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return nb, root, [d for d in absent if (Path.home() / d).exists()]


def test_notebook_runs_every_cell_without_errors(executed):
    nb = executed[0]
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code and all(cell.execution_count for cell in code)
    errors = [out for cell in code for out in cell.outputs if out.output_type == "error"]
    assert not errors, errors


def test_notebook_shows_progress_limit_own_weights_and_stores(executed):
    text = _text(executed[0])
    assert "64/64 draws" in text  # the progress(done, total, seconds) callback
    assert "= l / n = 0.375" in text  # K_inf's diagonal
    assert "sum to K: True" in text  # empirical_ntk with per_layer=True
    assert text.count("predicted mean ||K(theta) - K_inf||") == 2  # the first-order prediction
    assert "config: {'activation': {'name': 'relu'}" in text  # open_store kept the provenance
    assert "('draw', 'i', 'j') (64, 8, 8)" in text  # plain xr.open_zarr


def test_notebook_writes_nothing_outside_its_directories(executed):
    _, root, created = executed
    assert not created  # nothing new under the home directory
    assert not any((root / "cwd").iterdir())  # the tiny store lives in a TemporaryDirectory, cleaned up
    assert not (root / "kernel.json").exists()  # the kernel was shut down, its connection file removed
