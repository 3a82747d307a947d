import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import assert_close, central_diff, fill_random, random_points

import pinnlib.diff as diff
import pinnlib.nn as nn

# Network creation compiles jax.random kernels per layer shape, so most tests take
# the structure from eqx.filter_eval_shape and fill it with numpy draws (non-zero
# biases, so no derivative vanishes by symmetry); in_size 2, width 4.


def _random(build, seed):
    return fill_random(eqx.filter_eval_shape(build), seed)


def modified(
    seed=0, out_size="scalar", depth=2, factorized=None, activation="tanh", in_size=2
):
    return _random(
        lambda: nn.ModifiedMLP(
            in_size,
            out_size,
            width=4,
            depth=depth,
            activation=activation,
            factorized=factorized,
            key=jax.random.key(0),
        ),
        seed,
    )


def factorized(seed=0, out_size="scalar", depth=2, in_size=2):
    return _random(
        lambda: nn.factorized_mlp(
            in_size, out_size, width=4, depth=depth, key=jax.random.key(0)
        ),
        seed,
    )


def _np(a):
    return np.asarray(a, np.float64)


# -------------------------------------------------------------------- ModifiedMLP


def test_modified_mlp_matches_formula_depth_2():
    net = modified(seed=1)
    x = np.array([0.4, -0.7])
    lin = [net.encoder_u, net.encoder_v, *net.layers, net.output]
    (wu, bu), (wv, bv), (w1, b1), (w2, b2), (wo, bo) = [
        (_np(layer.weight), _np(layer.bias)) for layer in lin
    ]
    u = np.tanh(wu @ x + bu)
    v = np.tanh(wv @ x + bv)
    h1 = np.tanh(w1 @ x + b1)
    z1 = np.tanh(w2 @ h1 + b2)
    h2 = (1 - z1) * u + z1 * v
    expected = (wo @ h2 + bo)[0]
    out = net(jnp.asarray(x))
    assert out.shape == ()
    assert_close(out, expected, rtol=1e-13, atol=1e-14)
    # The gate matters: swapping the encoders changes the output.
    swapped = eqx.tree_at(
        lambda m: (m.encoder_u, m.encoder_v), net, (net.encoder_v, net.encoder_u)
    )
    assert abs(float(swapped(jnp.asarray(x)) - out)) > 1e-6


@pytest.mark.parametrize("fact", [None, True])
def test_modified_mlp_matches_formula_vector_depth_3(fact):
    net = modified(seed=2, out_size=3, depth=3, factorized=fact, activation="sin")
    assert len(net.layers) == 3
    cls = nn.FactorizedLinear if fact else eqx.nn.Linear
    all_layers = [net.encoder_u, net.encoder_v, *net.layers, net.output]
    assert all(type(layer) is cls for layer in all_layers)

    def dense(layer, h):
        return _np(layer.weight) @ h + _np(layer.bias)

    x = np.array([-0.2, 0.9])
    u, v = np.sin(dense(net.encoder_u, x)), np.sin(dense(net.encoder_v, x))
    h = np.sin(dense(net.layers[0], x))
    for layer in net.layers[1:]:
        z = np.sin(dense(layer, h))
        h = (1 - z) * u + z * v
    out = net(jnp.asarray(x))
    assert out.shape == (3,)
    assert_close(out, dense(net.output, h), rtol=1e-13, atol=1e-14)


def test_modified_mlp_shapes_and_key_determinism():
    key = jax.random.key(3)
    a = nn.ModifiedMLP(2, width=4, depth=2, key=key)
    b = nn.ModifiedMLP(2, width=4, depth=2, key=key)
    c = nn.ModifiedMLP(2, width=4, depth=2, key=jax.random.key(4))
    leaves_a, leaves_b = jax.tree.leaves(a), jax.tree.leaves(b)
    assert all(np.array_equal(p, q) for p, q in zip(leaves_a, leaves_b))
    assert not np.allclose(a.encoder_u.weight, c.encoder_u.weight)
    # Independent keys per layer: the two encoders differ.
    assert not np.allclose(a.encoder_u.weight, a.encoder_v.weight)
    assert a.layers[0].weight.shape == (4, 2) and a.layers[1].weight.shape == (4, 4)
    np.testing.assert_array_equal(np.asarray(a.layers[1].bias), 0.0)
    points = random_points(0, 5, [-1.0] * 2, [1.0] * 2)
    assert jax.vmap(a)(points).shape == (5,)
    vec = modified(out_size=3)
    assert jax.vmap(vec)(points).shape == (5, 3)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64, None])
@pytest.mark.parametrize("kind", ["modified", "modified-factorized", "factorized"])
def test_dtype_preserved(dtype, kind):
    # dtypes are decided at trace time: abstract evaluation checks them exactly.
    expected = jnp.float64 if dtype is None else dtype
    builders = {
        "modified": lambda: nn.ModifiedMLP(
            2, 3, width=4, depth=2, key=jax.random.key(0), dtype=dtype
        ),
        "modified-factorized": lambda: nn.ModifiedMLP(
            2, 3, width=4, depth=2, key=jax.random.key(0), dtype=dtype, factorized=True
        ),
        "factorized": lambda: nn.factorized_mlp(
            2, 3, width=4, depth=2, key=jax.random.key(0), dtype=dtype
        ),
    }

    def build_and_apply():
        net = builders[kind]()
        return net, net(jnp.array([0.1, 0.2], expected))

    net, out = eqx.filter_eval_shape(build_and_apply)
    leaves = [
        leaf for leaf in jax.tree.leaves(net) if isinstance(leaf, jax.ShapeDtypeStruct)
    ]
    assert leaves and all(leaf.dtype == expected for leaf in leaves)
    assert out.shape == (3,) and out.dtype == expected


# ---------------------------------------------------------------- FactorizedLinear


def test_factorized_linear_init_is_glorot_with_documented_keys():
    key = jax.random.key(5)
    layer = nn.FactorizedLinear(3, 6, key=key, mean=0.7, std=0.2)
    w_key, s_key = jax.random.split(key)
    glorot = math.sqrt(2.0 / 9) * jax.random.normal(w_key, (6, 3), jnp.float64)
    s = 0.7 + 0.2 * jax.random.normal(s_key, (6,), jnp.float64)
    assert_close(layer.s, s, rtol=0, atol=0)
    assert_close(layer.weight, glorot, rtol=1e-15, atol=0)
    assert_close(jnp.exp(layer.s)[:, None] * layer.v, glorot, rtol=1e-15, atol=0)
    np.testing.assert_array_equal(np.asarray(layer.bias), 0.0)
    assert (layer.in_size, layer.out_size) == (3, 6)
    # The forward pass is exactly the effective weight applied, plus the bias.
    layer = eqx.tree_at(lambda m: m.bias, layer, jnp.linspace(-0.5, 0.5, 6))
    x = jnp.array([0.3, -1.2, 0.8])
    np.testing.assert_array_equal(
        np.asarray(layer(x)), np.asarray(layer.weight @ x + layer.bias)
    )


def test_factorized_linear_statistics():
    # 40 -> 4000: 160k weights (std relative error ~0.2%, allow 2%); 4000 scales s
    # (std relative error ~1.1%, allow 6%; mean error 0.1/sqrt(4000) = 0.0016).
    layer = nn.FactorizedLinear(40, 4000, key=jax.random.key(6))
    s, w = np.asarray(layer.s), np.asarray(layer.weight)
    assert abs(s.mean() - 1.0) < 0.01 and abs(s.std() / 0.1 - 1) < 0.06
    expected = math.sqrt(2.0 / 4040)
    assert abs(w.std() / expected - 1) < 0.02
    assert abs(w.mean()) < 5 * expected / math.sqrt(w.size)
    # V is the Glorot weight scaled down by e^s, about e^-1.
    assert abs(np.asarray(layer.v).std() / (expected * math.exp(-1.0)) - 1) < 0.03


def test_factorized_mlp_structure_and_forward():
    key = jax.random.key(7)
    net = nn.factorized_mlp(2, 3, width=4, depth=2, key=key, mean=0.5, std=0.0)
    assert isinstance(net, nn.FactorizedMLP)
    assert [layer.v.shape for layer in net.layers] == [(4, 2), (4, 4), (3, 4)]
    for layer in net.layers:
        np.testing.assert_array_equal(np.asarray(layer.s), 0.5)  # std 0: s = mean
    # One key per layer, split as documented by FactorizedLinear.
    first = nn.FactorizedLinear(
        2, 4, key=jax.random.split(key, 3)[0], mean=0.5, std=0.0
    )
    assert_close(net.layers[0].v, first.v, rtol=0, atol=0)
    net = factorized(seed=8, out_size=3)
    x = np.array([0.25, -0.5])
    h = x
    for layer in net.layers[:-1]:
        h = np.tanh(_np(layer.weight) @ h + _np(layer.bias))
    last = net.layers[-1]
    expected = _np(last.weight) @ h + _np(last.bias)
    assert_close(net(jnp.asarray(x)), expected, rtol=1e-13, atol=1e-14)
    assert factorized(seed=8)(jnp.asarray(x)).shape == ()


# ------------------------------------------------- transformations and pinnlib.diff

MODELS = {
    "modified": lambda: modified(seed=9),
    "modified-factorized-vector": lambda: modified(
        seed=10, out_size=3, factorized=True
    ),
    "factorized": lambda: factorized(seed=11),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_jit_vmap_and_parameter_gradient(name):
    model = MODELS[name]()
    points = random_points(12, 6, [-1.0] * 2, [1.0] * 2)
    values = jax.vmap(model)(points)
    assert_close(jax.jit(jax.vmap(model))(points), values, rtol=1e-14, atol=1e-15)
    assert_close(values[2], model(points[2]), rtol=1e-14, atol=1e-15)

    def loss(m):
        return jnp.mean(jax.vmap(m)(points) ** 2)

    jit_loss = eqx.filter_jit(loss)
    grads = eqx.filter_jit(eqx.filter_grad(loss))(model)
    params, static = eqx.partition(model, eqx.is_inexact_array)
    assert jax.tree.structure(grads) == jax.tree.structure(params)
    # Directional derivative along a random parameter direction vs central difference.
    rng = np.random.default_rng(13)
    direction = jax.tree.map(lambda p: jnp.asarray(rng.normal(size=p.shape)), params)
    h = 1e-5

    def shifted(sign):
        moved = jax.tree.map(lambda p, d: p + sign * h * d, params, direction)
        return jit_loss(eqx.combine(moved, static))

    fd = (shifted(1) - shifted(-1)) / (2 * h)
    ad = sum(
        jnp.vdot(g, d)
        for g, d in zip(jax.tree.leaves(grads), jax.tree.leaves(direction))
    )
    assert abs(float(ad)) > 1e-3
    assert_close(ad, fd, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_diff_operators_agree_with_jax_hessian(name):
    model = MODELS[name]()
    x = jnp.array([0.3, -0.45])

    @jax.jit  # one compilation instead of many eager dispatches
    def derivatives(x):
        partials = diff.partials(model, x, (), (0,), (1,), (0, 1))
        return (
            diff.laplacian(model)(x),
            partials,
            jax.hessian(model)(x),
            jax.jacfwd(model)(x),
        )

    lap, (value, u_x, u_y, u_xy), hess, jac = derivatives(x)  # hess: (*m, 2, 2)
    assert_close(lap, jnp.trace(hess, axis1=-2, axis2=-1), rtol=1e-12, atol=1e-13)
    assert_close(value, model(x), rtol=1e-14, atol=1e-15)
    assert_close(u_x, jac[..., 0], rtol=1e-12, atol=1e-13)
    assert_close(u_y, jac[..., 1], rtol=1e-12, atol=1e-13)
    assert_close(u_xy, hess[..., 0, 1], rtol=1e-12, atol=1e-13)
    # And against finite differences (error ~ h^2 + eps / h^2 ~ 1e-8).
    fd_lap = central_diff(model, x, 0, 0, h=1e-4) + central_diff(model, x, 1, 1, h=1e-4)
    assert_close(lap, fd_lap, rtol=1e-5, atol=1e-6)
    assert float(jnp.max(jnp.abs(lap))) > 1e-4  # not trivially zero


def test_modified_mlp_behind_periodic_embedding():
    emb = nn.PeriodicEmbedding(2, axes=(0,), periods=(2.0,))
    u = eqx.nn.Sequential([emb, modified(seed=14, in_size=emb.out_size)])
    points = random_points(15, 4, [-1.0] * 2, [1.0] * 2)
    values = jax.vmap(u)(points)
    assert_close(jax.vmap(u)(points.at[:, 0].add(2.0)), values, rtol=0, atol=1e-12)
    moved = jax.vmap(u)(points.at[:, 1].add(0.5))
    assert np.max(np.abs(np.asarray(moved - values))) > 1e-4

    @jax.jit
    def both(x):
        return diff.laplacian(u)(x), jnp.trace(jax.hessian(u)(x))

    lap, expected = both(points[0])
    assert_close(lap, expected, rtol=1e-12, atol=1e-13)


def test_factorized_mlp_behind_fourier_features():
    ff = nn.FourierFeatures(2, 3, key=jax.random.key(16))
    u = eqx.nn.Sequential([ff, factorized(seed=17, in_size=ff.out_size)])

    @jax.jit
    def both(x):
        return diff.laplacian(u)(x), jnp.trace(jax.hessian(u)(x))

    lap, expected = both(jnp.array([0.1, 0.7]))
    assert_close(lap, expected, rtol=1e-12, atol=1e-13)
    assert abs(float(lap)) > 1e-4


# -------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"depth": 1}, r"ModifiedMLP\(depth=\.\.\.\)"),
        ({"width": 0}, r"ModifiedMLP\(width=\.\.\.\)"),
        ({"activation": "tanhh"}, r"ModifiedMLP\(activation=\.\.\.\)"),
        ({"factorized": (1.0,)}, r"ModifiedMLP\(factorized=\.\.\.\)"),
        ({"factorized": (1.0, -0.1)}, r"ModifiedMLP\(mean=\.\.\., std=\.\.\.\)"),
        ({"dtype": jnp.int32}, r"ModifiedMLP\(dtype=\.\.\.\)"),
    ],
)
def test_modified_mlp_bad_arguments(kwargs, pattern):
    call = {"width": 4, "depth": 2, **kwargs}
    with pytest.raises(ValueError, match=pattern):
        nn.ModifiedMLP(2, **call, key=jax.random.key(0))


@pytest.mark.parametrize(
    "build, pattern",
    [
        (
            lambda k: nn.FactorizedLinear(2, 3, key=k, std=-1.0),
            r"FactorizedLinear\(mean=\.\.\., std=\.\.\.\)",
        ),
        (
            lambda k: nn.FactorizedLinear(2, 3, key=k, mean=float("nan")),
            r"FactorizedLinear\(mean=\.\.\., std=\.\.\.\)",
        ),
        (
            lambda k: nn.FactorizedLinear(0, 3, key=k),
            r"FactorizedLinear\(in_size=\.\.\.\)",
        ),
        (
            lambda k: nn.factorized_mlp(2, width=4, depth=0, key=k),
            r"factorized_mlp\(depth=\.\.\.\)",
        ),
        (
            lambda k: nn.factorized_mlp(2, width=4, activation="nope", key=k),
            r"factorized_mlp\(activation=\.\.\.\)",
        ),
    ],
)
def test_factorized_bad_arguments(build, pattern):
    with pytest.raises(ValueError, match=pattern):
        build(jax.random.key(0))
