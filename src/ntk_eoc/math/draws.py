"""Seeds and draw ids: the integers that name a sampled network.   [SCIENCE §5]

Draw s of a configuration with base seed ``seed`` is the network drawn with the JAX key
``fold_in(key(seed), s)`` (:func:`ntk_eoc.math.samplers.draw_keys`). ``jax.random.key`` keeps 32 bits of
a seed when 64-bit mode is off, and ``fold_in`` takes a 32-bit id, so both live in [0, 2^32): a larger
seed would silently repeat the draws of a smaller one and is refused. No JAX is imported here.
"""

from __future__ import annotations

__all__ = ["MAX_DRAW_ID", "MAX_SEED"]

MAX_SEED = 2**32 - 1
MAX_DRAW_ID = 2**32 - 1
