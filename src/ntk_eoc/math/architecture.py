"""One MLP as a chain of linear maps: widths, activation, factorized (low-rank) layers, initialisation.

Layer k maps m_{k-1} -> m_k. A dense layer is one map W_k (m_k x m_{k-1}); a factorized layer of inner
rank r_k is two maps, V_k (r_k x m_{k-1}) then U_k (m_k x r_k), with no activation between them:

    dense:       h_k = s_k W_k a_{k-1}
    factorized:  h_k = (1/sqrt(r_k)) U_k g_k,   g_k = s_k V_k a_{k-1}

All weight entries are drawn i.i.d. N(0, 1). The 1/sqrt(r_k) keeps the forward variance of the dense
layer: E_U[h h'^T] = s_k^2 (1/r_k) <V a, V a'> I and E_V (1/r_k) <V a, V a'> = <a, a'>.

Initialisation (``init``):

    eoc       NTK parameterization at the Edge of Chaos [SCIENCE §1]: s_1 = 1/sqrt(m_0),
              s_k = sigma/sqrt(m_{k-1}) (k >= 2); the parameters are the N(0,1) entries, so the
              kernel weight of a map of scale s is s^2.
    standard  the parameters are the scaled weights s W themselves, as in PyTorch's
              ``kaiming_normal_`` with gain 1: s_k = 1/sqrt(m_{k-1}) for k < l, s_l = 1/sqrt(m_l)
              (fan-out mode on the output layer; 1 for a scalar output); kernel weight 1. Its NTK
              grows with the widths: it has no infinite-width limit in this scaling.

With a_0 = x, a_k = phi(h_k) and delta = dN/d(output of a map), every map of scale s and kernel weight
w contributes w <input(x), input(x')> <delta(x), delta(x')> to the NTK (see :mod:`empirical`), so a
factorized layer contributes K_{U_k} + K_{V_k}.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from ..validate import MAX_DEPTH, Described, InvalidValue, choice, integer

__all__ = ["INITS", "ActivationLike", "Architecture", "Init", "LinearMap"]


class Init(enum.StrEnum):
    """Initialisation (module doc): the NTK parameterization at the EOC, or PyTorch's standard one."""

    EOC = "eoc"
    STANDARD = "standard"


INITS = tuple(str(i) for i in Init)


class ActivationLike(Protocol):
    """What the finite-width code needs from an activation (Activation, Elementwise)."""

    name: str

    @property
    def sigma(self) -> float: ...

    def phi(self, s: Any) -> Any: ...

    def dphi(self, s: Any) -> Any: ...

    def config(self) -> dict[str, Any]: ...


class LinearMap(NamedTuple):
    """One weight matrix of the chain: output = scale * input @ W^T, W (fan_out x fan_in) ~ N(0,1)."""

    layer: int  # the layer k = 1..l it belongs to
    fan_in: int
    fan_out: int
    scale: float  # forward multiplier s
    weight: float  # kernel weight: s^2 (eoc) or 1 (standard)
    nonlinear: bool  # phi is applied to its output


@dataclass(frozen=True)
class Architecture:
    """An l-layer bias-free MLP (module doc). Hashable: it keys compiled samplers.

    Args:
        widths: [m_0, ..., m_l].
        activation: an (a,b)-ReLU :class:`Activation` or an :class:`Elementwise` activation.
        ranks: per layer k = 1..l, the inner rank r_k of a factorized layer or None (dense);
            None for all dense. 1 <= r_k <= max(m_{k-1}, m_k).
        init: :class:`Init` ("eoc", the default, or "standard").

    Example:
        >>> from ntk_eoc import Activation
        >>> arch = Architecture((16, 64, 64, 1), Activation.named("relu"), ranks=(None, 8, None))
        >>> arch.n_params, [(m.fan_in, m.fan_out) for m in arch.maps]
        (2624, [(16, 64), (64, 8), (8, 64), (64, 1)])
    """

    widths: tuple[int, ...]
    activation: ActivationLike
    ranks: tuple[int | None, ...] | None = None
    init: Init = Init.EOC

    def __post_init__(self) -> None:
        where = "architecture"
        widths = tuple(self.widths) if not isinstance(self.widths, (str, bytes)) else ()
        if len(widths) < 2:
            raise InvalidValue("widths", self.widths, "must be [m_0, ..., m_l] with l >= 1", where)
        if len(widths) > MAX_DEPTH + 1:
            raise InvalidValue("widths", Described(f"<{len(widths)} widths>"), f"depth must be <= {MAX_DEPTH}", where)
        widths = tuple(integer(f"widths[{k}]", m, where=where) for k, m in enumerate(widths))
        depth = len(widths) - 1
        ranks = (None,) * depth if self.ranks is None else tuple(self.ranks)
        if len(ranks) != depth:
            raise InvalidValue("ranks", self.ranks, f"must list one entry per layer (l={depth})", where)
        checked: list[int | None] = []
        for k, r in enumerate(ranks, start=1):
            if r is None:
                checked.append(None)
                continue
            r = integer(f"ranks[{k - 1}] (layer {k})", r, where=where)
            if r > max(widths[k - 1], widths[k]):
                reason = f"is larger than both widths m_{k - 1}={widths[k - 1]} and m_{k}={widths[k]}"
                raise InvalidValue(f"ranks[{k - 1}] (layer {k})", r, reason, where)
            checked.append(r)
        init = choice("init", self.init, Init, where)
        for attr in ("phi", "dphi", "sigma", "name"):
            if not hasattr(self.activation, attr):
                raise TypeError(
                    f"architecture: activation must be an Activation or Elementwise, got {self.activation!r}"
                )
        object.__setattr__(self, "widths", widths)
        object.__setattr__(self, "ranks", tuple(checked))
        object.__setattr__(self, "init", init)

    def config(self) -> dict[str, Any]:
        """JSON form: widths, activation section, ranks (None: all dense), init (:meth:`from_config`)."""
        dense = all(r is None for r in self.ranks or ())
        return {
            "widths": list(self.widths),
            "activation": self.activation.config(),
            "ranks": None if dense else list(self.ranks or ()),
            "init": str(self.init),
        }

    @classmethod
    def from_config(cls, tree: Mapping[str, Any]) -> Architecture:
        """The architecture of :meth:`config`'s output."""
        from .activations import activation_from_config

        ranks = tree.get("ranks")
        return cls(
            tuple(tree["widths"]),
            activation_from_config(tree["activation"]),
            None if ranks is None else tuple(ranks),
            Init(tree.get("init", "eoc")),
        )

    @property
    def depth(self) -> int:
        """l, the number of layers."""
        return len(self.widths) - 1

    @property
    def factorized(self) -> tuple[bool, ...]:
        """Per layer: factorized (True) or dense."""
        return tuple(r is not None for r in self.ranks or ())

    def layer_scale(self, k: int) -> float:
        """s_k of layer k (module doc): the dense layer's scale, V_k's scale when factorized."""
        m_in = self.widths[k - 1]
        if self.init == Init.STANDARD:
            return 1.0 / math.sqrt(self.widths[k] if k == self.depth else m_in)
        return (1.0 if k == 1 else float(self.activation.sigma)) / math.sqrt(m_in)

    @property
    def maps(self) -> tuple[LinearMap, ...]:
        """The chain of linear maps in forward order (V_k before U_k)."""
        ntk = self.init == Init.EOC
        chain = []
        for k in range(1, self.depth + 1):
            m_in, m_out, r = self.widths[k - 1], self.widths[k], (self.ranks or ())[k - 1]
            s, last = self.layer_scale(k), k == self.depth
            if r is None:
                chain.append(LinearMap(k, m_in, m_out, s, s * s if ntk else 1.0, not last))
            else:
                u = 1.0 / math.sqrt(r)
                chain.append(LinearMap(k, m_in, r, s, s * s if ntk else 1.0, False))
                chain.append(LinearMap(k, r, m_out, u, u * u if ntk else 1.0, not last))
        return tuple(chain)

    @property
    def n_params(self) -> int:
        """Number of trainable parameters: sum over maps of fan_in fan_out."""
        return sum(m.fan_in * m.fan_out for m in self.maps)

    def layer_params(self) -> tuple[int, ...]:
        """P_k, the parameters of each layer: m_k m_{k-1} dense, r_k (m_{k-1} + m_k) factorized."""
        counts = [0] * self.depth
        for m in self.maps:
            counts[m.layer - 1] += m.fan_in * m.fan_out
        return tuple(counts)
