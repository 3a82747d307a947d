"""Fused forward Taylor streams through a field (orders 0, 1 and 2).

For $z = W h + b$ and $a = \\sigma(z)$ the value, first and second derivative
streams propagate as

$$z_i = W h_i,\\quad z_{ij} = W h_{ij},\\quad
a_i = \\sigma'(z) z_i,\\quad a_{ij} = \\sigma''(z) z_i z_j + \\sigma'(z) z_{ij},$$

so the streams share the activation and its derivatives (closed form for tanh and
sin), with one small matmul per stream and layer (`pinnlib.diff.taylor`).

Which fields are fused is decided by a protocol, not by pinnlib's own classes: a
field (or a layer of an ``eqx.nn.Sequential``) opts in by defining
``taylor_streams(self, value, first, second) -> (value, first, second)``, as
``pinnlib.nn.ModifiedMLP``, ``pinnlib.nn.FactorizedMLP``, ``pinnlib.nn.PirateNet``
and the embeddings ``FourierFeatures`` and ``PeriodicEmbedding`` do. Equinox's
``eqx.nn.MLP`` (without ``scan``) cannot carry the method and is handled here.
Layers in front of the last one that do not opt in (e.g. ``pinnlib.nn.Normalize``)
are pushed through with nested ``jax.jvp``.
"""

import equinox as eqx
import jax.numpy as jnp
import jax.tree_util as jtu

from .._errors import bad_argument
from ._streams import activate, apply, dense, linear

Index = tuple[int, ...]
METHOD = "taylor_streams"


def _has_method(u) -> bool:
    return callable(getattr(u, METHOD, None))


def is_fusable(u) -> bool:
    """Whether ``u`` opts into fused streams (optionally behind embeddings).

    That is: it has a ``taylor_streams`` method, or it is an ``eqx.nn.MLP`` without
    ``scan``, or an ``eqx.nn.Sequential`` whose last layer is fusable.
    """
    if _has_method(u):
        return True
    if isinstance(u, eqx.nn.MLP):
        return not getattr(u, "scan", False)
    if isinstance(u, eqx.nn.Sequential) and len(u.layers) > 0:
        return is_fusable(u.layers[-1])
    return False


def _stream_plan(
    indices: tuple[Index, ...],
) -> tuple[tuple[int, ...], tuple[Index, ...]]:
    firsts = sorted({a for idx in indices for a in idx})
    seconds = sorted({tuple(sorted(idx)) for idx in indices if len(idx) == 2})
    return tuple(firsts), tuple(seconds)


def _layer_activation(net: eqx.nn.MLP, index: int):
    if index == len(net.layers) - 1:
        return net.final_activation
    return jtu.tree_map(lambda a: a[index] if eqx.is_array(a) else a, net.activation)


def _push_mlp(net: eqx.nn.MLP, streams):
    for index, layer in enumerate(net.layers):
        streams = activate(_layer_activation(net, index), dense(layer, streams))
    return linear(lambda a: a[0], streams) if net.out_size == "scalar" else streams


def _structure(out) -> str:
    if not isinstance(out, tuple | list):
        return f"a {type(out).__name__}"
    if len(out) != 3 or not all(isinstance(d, dict) for d in out[1:]):
        return f"a {type(out).__name__} of length {len(out)}"
    return f"keys {sorted(out[1])} and {sorted(out[2])}"


def _checked(u, streams, out):
    """The triple ``u.taylor_streams`` returned, after a trace-time structure check."""
    expected = _structure(streams)
    if _structure(out) != expected:
        raise bad_argument(
            f"{type(u).__name__}.{METHOD}(value, first, second)",
            "to return (value, {i: first-order stream}, {(i, j): second-order "
            f"stream}}) with the {expected} it was given",
            _structure(out),
            "Build it from the blocks in pinnlib.diff.taylor, which keep the keys.",
        )
    return tuple(out)


def _push(u, streams):
    if _has_method(u):
        return _checked(u, streams, getattr(u, METHOD)(*streams))
    if isinstance(u, eqx.nn.MLP) and is_fusable(u):
        return _push_mlp(u, streams)
    if isinstance(u, eqx.nn.Sequential) and is_fusable(u):
        for layer in u.layers:
            streams = _push(layer, streams)
        return streams
    return apply(u, streams)


def fused_partials(u, x, indices: tuple[Index, ...]) -> tuple:
    """Evaluate ``u`` and the partial derivatives ``indices`` (order <= 2) in one pass."""
    firsts, seconds = _stream_plan(indices)
    eye = jnp.eye(x.shape[0], dtype=x.dtype)
    zero = jnp.zeros_like(x)
    value, first, second = _push(
        u, (x, {i: eye[i] for i in firsts}, {ij: zero for ij in seconds})
    )
    out = []
    for idx in indices:
        if len(idx) == 0:
            out.append(value)
        elif len(idx) == 1:
            out.append(first[idx[0]])
        else:
            i, j = sorted(idx)
            out.append(second[(i, j)])
    return tuple(out)
