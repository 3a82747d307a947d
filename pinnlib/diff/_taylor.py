"""Fused forward Taylor streams through MLP fields (orders 0, 1 and 2).

For $z = W h + b$ and $a = \\sigma(z)$ the value, first and second derivative
streams propagate as

$$z_i = W h_i,\\quad z_{ij} = W h_{ij},\\quad
a_i = \\sigma'(z) z_i,\\quad a_{ij} = \\sigma''(z) z_i z_j + \\sigma'(z) z_{ij},$$

so the streams share the activation and its derivatives (closed form for tanh and
sin), with one small matmul per stream and layer. Layers that are not ``eqx.nn.Linear``
(input embeddings) are pushed through with nested ``jax.jvp``.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu

Index = tuple[int, ...]


def is_fusable(u) -> bool:
    """Whether ``u`` is an MLP field (optionally behind embeddings) we can fuse."""
    if isinstance(u, eqx.nn.MLP):
        return not getattr(u, "scan", False)
    if isinstance(u, eqx.nn.Sequential) and len(u.layers) > 0:
        *front, last = u.layers
        return is_fusable(last) and not any(isinstance(f, eqx.nn.MLP) for f in front)
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


def _push_mlp(net: eqx.nn.MLP, value, first, second):
    # Each stream is its own array: per point, separate matmuls vectorise better
    # under vmap than one stacked (streams, width) matmul (measured).
    for index, layer in enumerate(net.layers):
        w = layer.weight
        z = w @ value if layer.bias is None else w @ value + layer.bias
        z1 = {i: w @ h for i, h in first.items()}
        z2 = {ij: w @ h for ij, h in second.items()}
        value, s1, s2 = _activation_derivatives(_layer_activation(net, index), z)
        first = {i: s1 * h for i, h in z1.items()}
        second = {(i, j): s2 * z1[i] * z1[j] + s1 * h for (i, j), h in z2.items()}
    if net.out_size == "scalar":
        squeeze = lambda d: {k: v[0] for k, v in d.items()}  # noqa: E731
        return value[0], squeeze(first), squeeze(second)
    return value, first, second


def _push(u, value, first, second):
    layers = u.layers if isinstance(u, eqx.nn.Sequential) else (u,)
    for layer in layers:
        push = _push_mlp if isinstance(layer, eqx.nn.MLP) else _push_generic
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
