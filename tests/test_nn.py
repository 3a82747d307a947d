import math
import os
import subprocess
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_close, random_mlp, random_points

import pinnlib.nn as nn

# ---------------------------------------------------------------------------- mlp


# Network creation compiles jax.random kernels per layer shape, so the tests reuse a
# few configurations: in_size 2, width 8, depth 2, out_size "scalar" or 3.


@pytest.mark.parametrize("out_size, shape", [("scalar", ()), (3, (3,))])
def test_mlp_shapes(getkey, out_size, shape):
    net = nn.mlp(2, out_size, width=8, depth=2, key=getkey())
    assert isinstance(net, eqx.nn.MLP)
    assert len(net.layers) == 3  # depth hidden layers + output layer
    assert net.layers[0].weight.shape == (8, 2)
    assert net(jnp.array([0.3, -0.1])).shape == shape
    points = jnp.linspace(-1.0, 1.0, 10).reshape(5, 2)
    assert jax.vmap(net)(points).shape == (5, *shape)


def test_mlp_glorot_statistics(getkey):
    # Hidden layer 400 -> 300 has 120k weights: the sample std has relative standard
    # error about 1/sqrt(2 n) = 0.2%, so 2% is a > 9-sigma tolerance.
    net = nn.mlp(400, 100, width=300, depth=1, key=getkey())
    for layer in net.layers:
        fan_out, fan_in = layer.weight.shape
        expected = math.sqrt(2.0 / (fan_in + fan_out))
        w = np.asarray(layer.weight)
        assert abs(w.std() / expected - 1) < 0.02, (w.shape, w.std(), expected)
        assert abs(w.mean()) < 5 * expected / math.sqrt(w.size)
        np.testing.assert_array_equal(np.asarray(layer.bias), 0.0)
    # Layers and keys draw independent weights.
    other = nn.mlp(400, 100, width=300, depth=1, key=getkey())
    assert not np.allclose(net.layers[0].weight, other.layers[0].weight)


def _manual_mlp(net, sigma, x):
    h = x
    for layer in net.layers[:-1]:
        h = sigma(layer.weight @ h + layer.bias)
    last = net.layers[-1]
    return (last.weight @ h + last.bias)[0]


@pytest.mark.parametrize("name", sorted(nn.ACTIVATIONS))
def test_mlp_activation_by_name(getkey, name):
    net = nn.mlp(2, width=8, depth=2, activation=name, key=getkey())
    x = jnp.array([0.4, -0.7])
    # Biases start at zero; give them values so that e.g. relu is not symmetric.
    net = eqx.tree_at(lambda m: m.layers[0].bias, net, jnp.linspace(-0.5, 0.5, 8))
    expected = _manual_mlp(net, nn.ACTIVATIONS[name], x)
    assert_close(net(x), expected, rtol=1e-13, atol=1e-14)


def test_mlp_activation_callable(getkey):
    def cube(z):
        return z**3

    net = nn.mlp(2, width=8, depth=2, activation=cube, key=getkey())
    x = jnp.array([0.4, -0.7])
    assert_close(net(x), _manual_mlp(net, cube, x), rtol=1e-13, atol=1e-14)
    # and it differs from the default tanh network with the same key
    tanh_net = nn.mlp(2, width=8, depth=2, key=jax.random.key(7))
    cube_net = nn.mlp(2, width=8, depth=2, activation=cube, key=jax.random.key(7))
    assert abs(float(tanh_net(x) - cube_net(x))) > 1e-6


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"activation": "tanhh"}, "activation"),
        ({"width": 0}, "width"),
        ({"width": -4}, "width"),
        ({"depth": 0}, "depth"),
        ({"in_size": 0}, "in_size"),
        ({"out_size": 0}, "out_size"),
    ],
)
def test_mlp_bad_arguments(getkey, kwargs, argument):
    call = {"in_size": 2, "out_size": "scalar", "width": 8, "depth": 2, **kwargs}
    with pytest.raises(ValueError, match=rf"pinnlib\.nn\.mlp\({argument}=\.\.\.\)"):
        nn.mlp(call.pop("in_size"), call.pop("out_size"), **call, key=getkey())


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64, None])
def test_mlp_dtype(dtype):
    # dtypes are decided at trace time, so abstract evaluation checks them exactly
    # (and compiles nothing). None means the default float dtype: float64 under x64.
    expected = jnp.float64 if dtype is None else dtype

    def build_and_apply():
        net = nn.mlp(2, 3, width=8, depth=2, key=jax.random.key(0), dtype=dtype)
        return net, net(jnp.array([0.1, 0.2], expected))

    net, out = eqx.filter_eval_shape(build_and_apply)
    leaves = [
        leaf for leaf in jax.tree.leaves(net) if isinstance(leaf, jax.ShapeDtypeStruct)
    ]
    assert len(leaves) == 6 and all(leaf.dtype == expected for leaf in leaves)
    assert out.shape == (3,) and out.dtype == expected


# ---------------------------------------------------------------------- Normalize


def test_normalize_maps_corners_and_centre():
    norm = nn.Normalize((0.0, -1.0, 2.0), (2.0, 3.0, 2.5))
    assert norm.out_size == 3
    lower, upper = jnp.array([0.0, -1.0, 2.0]), jnp.array([2.0, 3.0, 2.5])
    assert_close(norm(lower), -jnp.ones(3), rtol=0, atol=1e-15)
    assert_close(norm(upper), jnp.ones(3), rtol=0, atol=1e-15)
    assert_close(norm((lower + upper) / 2), jnp.zeros(3), rtol=0, atol=1e-15)
    mixed = jnp.array([0.0, 3.0, 2.0])
    assert_close(norm(mixed), jnp.array([-1.0, 1.0, -1.0]), rtol=0, atol=1e-15)


def test_normalize_keeps_float32():
    norm = nn.Normalize((0.0,), (3.0,))
    out = norm(jnp.array([1.5], jnp.float32))
    assert out.dtype == jnp.float32
    assert_close(out, [0.0], rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "lower, upper, pattern",
    [
        ((0.0, 1.0), (1.0, 1.0), r"Normalize\(lower=\.\.\., upper=\.\.\.\)"),
        ((0.0,), (1.0, 2.0), r"Normalize\(lower=\.\.\., upper=\.\.\.\)"),
        ((float("nan"),), (1.0,), r"Normalize\(lower=\.\.\.\)"),
        ((0.0,), (float("inf"),), r"Normalize\(upper=\.\.\.\)"),
    ],
)
def test_normalize_bad_bounds(lower, upper, pattern):
    with pytest.raises(ValueError, match=pattern):
        nn.Normalize(lower, upper)


# -------------------------------------------------------------- PeriodicEmbedding


def test_periodic_embedding_makes_field_periodic(getkey):
    emb = nn.PeriodicEmbedding(3, axes=(0, -2), periods=(2.0, 0.5))
    assert emb.axes == (0, 1)
    assert emb.out_size == 5
    u = eqx.nn.Sequential([emb, random_mlp(0, emb.out_size, width=8)])
    x = random_points(1, 4, [-1.0] * 3, [1.0] * 3)
    ux = jax.vmap(u)(x)
    # Up to rounding of the angle 2 pi x / P (values O(1), float64).
    for axis, period in ((0, 2.0), (1, 0.5)):
        for shift in (period, -3 * period):
            shifted = x.at[:, axis].add(shift)
            assert_close(jax.vmap(u)(shifted), ux, rtol=0, atol=1e-12)
    # The non-periodic coordinate really matters (the test could fail).
    moved = jax.vmap(u)(x.at[:, 2].add(2.0))
    assert np.max(np.abs(np.asarray(moved - ux))) > 1e-4


def test_periodic_embedding_layout():
    emb = nn.PeriodicEmbedding(2, axes=(0,), periods=(4.0,))
    x = jnp.array([1.0, 0.3])  # angle 2 pi / 4 = pi / 2
    assert_close(emb(x), jnp.array([0.3, 0.0, 1.0]), rtol=0, atol=1e-15)


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"axes": (2,), "periods": (1.0,)}, "axes"),
        ({"axes": (), "periods": ()}, "axes"),
        ({"axes": (0,), "periods": (0.0,)}, "periods"),
        ({"axes": (0,), "periods": (1.0, 2.0)}, "periods"),
        ({"axes": (0,), "periods": (float("inf"),)}, "periods"),
    ],
)
def test_periodic_embedding_bad_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=rf"PeriodicEmbedding\({argument}=\.\.\.\)"):
        nn.PeriodicEmbedding(2, **kwargs)
    with pytest.raises(ValueError, match=r"PeriodicEmbedding\(in_size=\.\.\.\)"):
        nn.PeriodicEmbedding(0, axes=(0,), periods=(1.0,))


# ---------------------------------------------------------------- FourierFeatures


def test_fourier_features_values_and_out_size(getkey):
    ff = nn.FourierFeatures(2, 5, scale=3.0, key=getkey())
    assert ff.out_size == 10
    assert ff.frequencies.shape == (5, 2)
    x = jnp.array([0.2, -0.4])
    z = 2 * jnp.pi * ff.frequencies @ x
    assert_close(ff(x), jnp.concatenate([jnp.cos(z), jnp.sin(z)]), rtol=0, atol=1e-13)


def test_fourier_features_scale_and_dtype(getkey):
    key = getkey()
    # 4000 N(0, sigma^2) samples: sample std within ~1.1% (1 sigma); allow 6%.
    ff = nn.FourierFeatures(2, 2000, scale=3.0, key=key)
    assert abs(float(jnp.std(ff.frequencies)) / 3.0 - 1) < 0.06
    for dtype, expected in ((jnp.float32, jnp.float32), (None, jnp.float64)):

        def build_and_apply(dtype=dtype, expected=expected):
            ff = nn.FourierFeatures(2, 4, key=key, dtype=dtype)
            return ff.frequencies, ff(jnp.zeros(2, expected))

        freqs, out = eqx.filter_eval_shape(build_and_apply)  # dtypes: trace time
        assert freqs.dtype == expected and out.dtype == expected and out.shape == (8,)


def test_fourier_features_frequencies_get_zero_gradient(getkey):
    ff = nn.FourierFeatures(2, 4, key=getkey())
    u = eqx.nn.Sequential([ff, random_mlp(2, ff.out_size, width=8)])
    x = random_points(3, 6, [0.0] * 2, [1.0] * 2)

    @eqx.filter_grad
    def grads(model):
        return jnp.mean(jax.vmap(model)(x) ** 2)

    g = grads(u)
    np.testing.assert_array_equal(np.asarray(g.layers[0].frequencies), 0.0)
    # ... while the network's own parameters do get a gradient.
    assert float(jnp.max(jnp.abs(g.layers[1].layers[0].weight))) > 0


def test_trainable_fourier_features_gradient_matches_finite_differences(getkey):
    ff = nn.FourierFeatures(2, 3, scale=0.5, key=getkey(), trainable=True)
    x = jnp.array([0.3, -0.7])

    def value(b):
        return jnp.sum(eqx.tree_at(lambda f: f.frequencies, ff, b)(x) ** 3)

    b = ff.frequencies
    g = jax.grad(value)(b)
    h = 1e-3
    for i, j in [(0, 0), (1, 1), (2, 0)]:
        e = jnp.zeros_like(b).at[i, j].set(h)
        fd = (value(b + e) - value(b - e)) / (2 * h)
        np.testing.assert_allclose(g[i, j], fd, rtol=2e-2, atol=1e-4)
    assert float(jnp.max(jnp.abs(g))) > 0


def test_fourier_features_trainable_must_be_bool(getkey):
    # Under pytest's runtime type checks the annotation may fire first.
    with pytest.raises((ValueError, TypeError), match="trainable"):
        nn.FourierFeatures(2, 4, key=getkey(), trainable="yes")


@pytest.mark.parametrize(
    "args, argument", [((0, 4), "in_size"), ((2, 0), "num_features")]
)
def test_fourier_features_bad_arguments(getkey, args, argument):
    with pytest.raises(ValueError, match=rf"FourierFeatures\({argument}=\.\.\.\)"):
        nn.FourierFeatures(*args, key=getkey())


def test_normalize_keeps_bounds_exact_without_x64():
    # Without x64, a jnp round trip would store 0.1 as 0.10000000149011612.
    code = "import pinnlib.nn as nn; n = nn.Normalize((0.1,), (0.3,)); print(n.lower, n.upper)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "JAX_ENABLE_X64": "0"},
    ).stdout.split()
    assert out == ["(0.1,)", "(0.3,)"]
