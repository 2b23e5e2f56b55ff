#!/usr/bin/env bash
# Create .venv (Python >= 3.11, 3.12 preferred) and install ntk-eoc with its test extra.
set -euo pipefail
cd "$(dirname "$0")/.."
pick_python() {
  for cand in python3.12 python3.13 python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
      echo "$cand"; return
    fi
  done
  for cand in "$(pyenv root 2>/dev/null)"/versions/3.12*/bin/python3 "$(pyenv root 2>/dev/null)"/versions/3.11*/bin/python3; do
    [ -x "$cand" ] && { echo "$cand"; return; }
  done
  echo "no Python >= 3.11 found" >&2; exit 1
}
if [ ! -x .venv/bin/python ]; then
  py="$(pick_python)"
  echo "setup: creating .venv with $("$py" --version)"
  "$py" -m venv .venv
fi
echo "setup: installing ntk-eoc and its dependencies into .venv (jax, snakemake, hydra, xarray, zarr; about a minute on a fresh machine)"
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet --progress-bar off -e ".[test,slurm]"
.venv/bin/python -c 'import ntk_eoc, jax; print("ntk-eoc", ntk_eoc.__version__, "| jax", jax.__version__, "|", jax.devices())'
