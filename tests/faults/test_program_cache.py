"""Compilation-cache damage: valid entries swapped between two programs, and damaged entries. JAX's plain
cache loads a swapped entry as the other program (the control); the sampling jobs' cache
(:mod:`ntk_eoc.pipeline.program_cache`) refuses it and recompiles, so the results stay correct."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ntk_eoc.pipeline.program_cache import MAGIC

# Two programs of the same signature (float32[4] -> float32[4]), compiled through the persistent cache.
PROGRAMS = """
import json, sys
import jax, jax.numpy as jnp
jax.config.update("jax_compilation_cache_dir", sys.argv[1])
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
if sys.argv[2] == "bound":
    from ntk_eoc.pipeline import program_cache
    print(program_cache.install(), file=sys.stderr)
x = jnp.arange(4.0)
print(json.dumps([jax.jit(lambda v: v * 2.0 + 1.0)(x).tolist(), jax.jit(lambda v: v * v - 3.0)(x).tolist()]))
"""
EXPECTED = [[1.0, 3.0, 5.0, 7.0], [-3.0, -2.0, 1.0, 6.0]]


def _run(cache: Path, mode: str) -> tuple[list, str]:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAMS, str(cache), mode], capture_output=True, text=True, check=True, timeout=300
    )
    return json.loads(done.stdout), done.stderr


def _swap_programs(cache: Path) -> None:
    first, second = sorted(cache.glob("jit__lambda-*-cache"))
    a, b = first.read_bytes(), second.read_bytes()
    first.write_bytes(b)
    second.write_bytes(a)


@pytest.mark.parametrize("mode", ["plain", "bound"])
def test_swapped_cache_entries_give_other_programs_unless_bound_to_their_keys(tmp_path, mode):
    cache = tmp_path / "cache"
    assert _run(cache, mode)[0] == EXPECTED  # cold: compiled and written
    if mode == "bound":
        assert all(p.read_bytes().startswith(MAGIC) for p in cache.glob("*-cache"))
    _swap_programs(cache)
    values, log = _run(cache, mode)
    if mode == "plain":
        assert values == EXPECTED[::-1]  # the attack is real: each program ran as the other
        return
    assert values == EXPECTED
    assert log.count("is written for another key: removed, the program is recompiled") == 2
    values, log = _run(cache, mode)  # the recompiled entries were written back, valid
    assert values == EXPECTED and "removed" not in log


def test_damaged_and_foreign_entries_are_recompiled(tmp_path):
    cache = tmp_path / "cache"
    _run(cache, "plain")  # entries of JAX's own format
    values, log = _run(cache, "bound")
    assert values == EXPECTED and log.count("is not written by this cache") == 3
    entry = sorted(cache.glob("jit__lambda-*-cache"))[0]
    raw = bytearray(entry.read_bytes())
    raw[-1] ^= 0xFF
    entry.write_bytes(bytes(raw))
    values, log = _run(cache, "bound")
    assert values == EXPECTED and f"{entry} is damaged: removed" in log
