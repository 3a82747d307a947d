"""Fused forward Taylor streams through MLP-type fields (orders 0, 1 and 2).

For $z = W h + b$ and $a = \\sigma(z)$ the value, first and second derivative
streams propagate as

$$z_i = W h_i,\\quad z_{ij} = W h_{ij},\\quad
a_i = \\sigma'(z) z_i,\\quad a_{ij} = \\sigma''(z) z_i z_j + \\sigma'(z) z_{ij},$$

so the streams share the activation and its derivatives (closed form for tanh and
sin), with one small matmul per stream and layer. The gates of the modified MLP,
$h = u + z (v - u)$, follow the Leibniz rule. Layers of other kinds (input
embeddings) are pushed through with nested ``jax.jvp``.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu

from ..nn._factorized import FactorizedMLP
from ..nn._modified_mlp import ModifiedMLP

Index = tuple[int, ...]
_NETS = (eqx.nn.MLP, ModifiedMLP, FactorizedMLP)


def is_fusable(u) -> bool:
    """Whether ``u`` is a network we can fuse (optionally behind embeddings).

    The networks are ``eqx.nn.MLP``, ``pinnlib.nn.ModifiedMLP`` and
    ``pinnlib.nn.FactorizedMLP``.
    """
    if isinstance(u, eqx.nn.MLP):
        return not getattr(u, "scan", False)
    if type(u) in _NETS:
        return True
    if isinstance(u, eqx.nn.Sequential) and len(u.layers) > 0:
        *front, last = u.layers
        return is_fusable(last) and not any(isinstance(f, _NETS) for f in front)
    return False


def _stream_plan(
    indices: tuple[Index, ...],
) -> tuple[tuple[int, ...], tuple[Index, ...]]:
    firsts = sorted({a for idx in indices for a in idx})
    seconds = sorted({tuple(sorted(idx)) for idx in indices if len(idx) == 2})
    return tuple(firsts), tuple(seconds)


def _push_generic(f, value, first, second):
    """Push (value, {i: h_i}, {(i, j): h_ij}) through an arbitrary layer ``f``."""
    out, tangents = f(value), {}
    for i, h_i in first.items():
        out, tangents[i] = jax.jvp(f, (value,), (h_i,))
    seconds = {}
    for (i, j), h_ij in second.items():
        d_i = lambda y, h=first[i]: jax.jvp(f, (y,), (h,))[1]  # noqa: E731
        curvature = jax.jvp(d_i, (value,), (first[j],))[1]
        seconds[(i, j)] = curvature + jax.jvp(f, (value,), (h_ij,))[1]
    return out, tangents, seconds


def _tanh_derivatives(z):
    a = jnp.tanh(z)
    s1 = 1 - a * a
    return a, s1, -2 * a * s1


def _sin_derivatives(z):
    a = jnp.sin(z)
    return a, jnp.cos(z), -a


def _activation_derivatives(sigma, z):
    """$\\sigma(z), \\sigma'(z), \\sigma''(z)$, closed form for tanh and sin."""
    if sigma is jnp.tanh or sigma is jax.nn.tanh:
        return _tanh_derivatives(z)
    if sigma is jnp.sin:
        return _sin_derivatives(z)
    ones = jnp.ones_like(z)
    d1 = lambda y: jax.jvp(sigma, (y,), (jnp.ones_like(y),))[1]  # noqa: E731
    value, s1 = jax.jvp(sigma, (z,), (ones,))
    return value, s1, jax.jvp(d1, (z,), (ones,))[1]


def _layer_activation(net: eqx.nn.MLP, index: int):
    if index == len(net.layers) - 1:
        return net.final_activation
    return jtu.tree_map(lambda a: a[index] if eqx.is_array(a) else a, net.activation)


def _dense(layer, value, first, second):
    """Streams through an affine layer ``W h + b`` (``eqx.nn.Linear`` or factorized)."""
    # Each stream is its own array: per point, separate matmuls vectorise better
    # under vmap than one stacked (streams, width) matmul (measured).
    w = layer.weight
    z = w @ value if layer.bias is None else w @ value + layer.bias
    return (
        z,
        {i: w @ h for i, h in first.items()},
        {ij: w @ h for ij, h in second.items()},
    )


def _activate(sigma, z, z1, z2):
    """Streams through an elementwise activation (chain rule to second order)."""
    value, s1, s2 = _activation_derivatives(sigma, z)
    first = {i: s1 * h for i, h in z1.items()}
    second = {(i, j): s2 * z1[i] * z1[j] + s1 * h for (i, j), h in z2.items()}
    return value, first, second


def _product(a, b):
    """Streams of an elementwise product ``a * b`` (Leibniz rule to second order)."""
    (va, fa, sa), (vb, fb, sb) = a, b
    first = {i: fa[i] * vb + va * fb[i] for i in fa}
    second = {
        (i, j): sa[(i, j)] * vb + fa[i] * fb[j] + fa[j] * fb[i] + va * sb[(i, j)]
        for (i, j) in sa
    }
    return va * vb, first, second


def _combine(a, b, scale_b=1.0):
    """Streams of ``a + scale_b * b``."""
    (va, fa, sa), (vb, fb, sb) = a, b
    return (
        va + scale_b * vb,
        {i: fa[i] + scale_b * fb[i] for i in fa},
        {ij: sa[ij] + scale_b * sb[ij] for ij in sa},
    )


def _squeeze(streams):
    value, first, second = streams
    pick = lambda d: {k: v[0] for k, v in d.items()}  # noqa: E731
    return value[0], pick(first), pick(second)


def _push_mlp(net: eqx.nn.MLP, value, first, second):
    streams = (value, first, second)
    for index, layer in enumerate(net.layers):
        streams = _activate(_layer_activation(net, index), *_dense(layer, *streams))
    return _squeeze(streams) if net.out_size == "scalar" else streams


def _push_factorized(net, value, first, second):
    streams = (value, first, second)
    for layer in net.layers[:-1]:
        streams = _activate(net.activation, *_dense(layer, *streams))
    streams = _dense(net.layers[-1], *streams)
    return _squeeze(streams) if net.out_size == "scalar" else streams


def _push_modified(net, value, first, second):
    """H <- U + Z (V - U) for each gated layer, every stream by the Leibniz rule."""
    x = (value, first, second)
    u = _activate(net.activation, *_dense(net.encoder_u, *x))
    v = _activate(net.activation, *_dense(net.encoder_v, *x))
    gap = _combine(v, u, -1.0)
    h = _activate(net.activation, *_dense(net.layers[0], *x))
    for layer in net.layers[1:]:
        z = _activate(net.activation, *_dense(layer, *h))
        h = _combine(u, _product(z, gap))
    streams = _dense(net.output, *h)
    return _squeeze(streams) if net.out_size == "scalar" else streams


_PUSH = {
    eqx.nn.MLP: _push_mlp,
    ModifiedMLP: _push_modified,
    FactorizedMLP: _push_factorized,
}


def _push(u, value, first, second):
    layers = u.layers if isinstance(u, eqx.nn.Sequential) else (u,)
    for layer in layers:
        push = _PUSH.get(type(layer), _push_generic)
        value, first, second = push(layer, value, first, second)
    return value, first, second


def fused_partials(u, x, indices: tuple[Index, ...]) -> tuple:
    """Evaluate ``u`` and the partial derivatives ``indices`` (order <= 2) in one pass."""
    firsts, seconds = _stream_plan(indices)
    eye = jnp.eye(x.shape[0], dtype=x.dtype)
    zero = jnp.zeros_like(x)
    value, first, second = _push(
        u, x, {i: eye[i] for i in firsts}, {ij: zero for ij in seconds}
    )
    out = []
    for idx in indices:
        if len(idx) == 0:
            out.append(value)
        elif len(idx) == 1:
            out.append(first[idx[0]])
        else:
            out.append(second[tuple(sorted(idx))])
    return tuple(out)
