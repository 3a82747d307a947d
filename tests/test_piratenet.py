"""PirateNet: the paper's formulas, the linear start, the least-squares init of the
last layer, fused Taylor derivatives, transformations, errors and a short training.

Most networks are built by `eqx.filter_eval_shape` and filled with numpy draws
(non-zero biases and alphas, so no block is the identity and no derivative vanishes
by symmetry); those that check the initialisation itself are built for real.
"""

import functools
import math

import chex
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import burgers_problem, fill_random, random_points

import pinnlib as pl
import pinnlib.nn as nn

F32, F64 = jnp.float32, jnp.float64
RTOL, ATOL = 1e-11, 1e-12  # float64: the same maths in another order
X2 = jnp.array([0.3, -0.45])
INDICES = ((), (0,), (1,), (0, 0), (1, 1), (0, 1), (1, 0))


def pirate(
    seed=0,
    out_size="scalar",
    *,
    in_size=2,
    depth=2,
    factorized=None,
    activation="tanh",
    trainable_frequencies=False,
):
    """A PirateNet (width 5, 3 frequencies) with numpy-drawn parameters."""
    shapes = eqx.filter_eval_shape(
        lambda: nn.PirateNet(
            in_size,
            out_size,
            width=5,
            depth=depth,
            num_features=3,
            factorized=factorized,
            activation=activation,
            trainable_frequencies=trainable_frequencies,
            key=jax.random.key(0),
        )
    )
    return fill_random(shapes, seed)


def _np(a):
    return np.asarray(a, np.float64)


def assert_close(actual, expected, rtol, atol=None):
    """`np.testing.assert_allclose` with `atol = rtol / 10` unless given."""
    atol = rtol / 10 if atol is None else atol
    np.testing.assert_allclose(
        np.asarray(actual), np.asarray(expected), rtol=rtol, atol=atol
    )


def _reference(net, x, sigma):
    """The paper's equations in numpy, from the network's parameters."""

    def dense(layer, h):
        return _np(layer.weight) @ h + _np(layer.bias)

    b = 2 * np.pi * _np(net.embedding.frequencies)  # cos(B x), B = 2 pi B'
    h = np.concatenate([np.cos(b @ x), np.sin(b @ x)])
    u, v = sigma(dense(net.encoder_u, h)), sigma(dense(net.encoder_v, h))
    for (w1, w2, w3), alpha in zip(net.blocks, _np(net.alpha)):
        f = sigma(dense(w1, h))
        z1 = f * u + (1 - f) * v
        g = sigma(dense(w2, z1))
        z2 = g * u + (1 - g) * v
        h = alpha * sigma(dense(w3, z2)) + (1 - alpha) * h
    return dense(net.output, h)


# ------------------------------------------------------------------ the forward pass


@pytest.mark.parametrize(
    "out_size, factorized, activation, sigma",
    [("scalar", None, "tanh", np.tanh), (3, True, "sin", np.sin)],
)
def test_matches_the_paper_equations(out_size, factorized, activation, sigma):
    net = pirate(1, out_size, depth=3, factorized=factorized, activation=activation)
    layer_type = nn.FactorizedLinear if factorized else eqx.nn.Linear
    dense = [net.encoder_u, net.encoder_v, *sum(net.blocks, ()), net.output]
    assert len(dense) == 3 * 3 + 3 and all(type(d) is layer_type for d in dense)
    assert net.alpha.shape == (3,) and np.all(np.abs(_np(net.alpha)) > 0)
    x = np.array([0.4, -0.7])
    expected = _reference(net, x, sigma)
    out = net(jnp.asarray(x))
    assert out.shape == (() if out_size == "scalar" else (3,))
    assert_close(out, expected[0] if out_size == "scalar" else expected, 1e-13)
    # The gates matter: swapping U and V changes the output.
    swapped = eqx.tree_at(
        lambda m: (m.encoder_u, m.encoder_v), net, (net.encoder_v, net.encoder_u)
    )
    assert np.max(np.abs(_np(swapped(jnp.asarray(x)) - out))) > 1e-6


@functools.cache
def real_net(scale=1.0, depth=2):
    """A PirateNet built as users build it (threefry compiles once per shape)."""
    return nn.PirateNet(
        2, width=6, depth=depth, num_features=12, scale=scale, key=jax.random.key(3)
    )


def test_at_initialisation_it_is_a_linear_model_on_the_embedding():
    net = real_net()
    np.testing.assert_array_equal(_np(net.alpha), 0.0)
    points = random_points(0, 7, [-1.0, 0.0], [1.0, 1.0])

    @eqx.filter_jit
    def at_init(net, points):
        phi = jax.vmap(net.embedding)(points)
        linear = jax.vmap(net.output)(phi)[:, 0]
        grad = eqx.filter_grad(lambda m: jnp.sum(jax.vmap(m)(points) ** 2))(net)
        return jax.vmap(net)(points), linear, jax.vmap(net.features)(points), phi, grad

    out, linear, features, phi, grad = at_init(net, points)
    np.testing.assert_array_equal(np.asarray(features), np.asarray(phi))  # exactly
    assert_close(out, linear, 1e-14)
    # Phi(x) = [cos(Bx), sin(Bx)] in the paper's convention, B = 2 pi B'.
    z = _np(points) @ (2 * np.pi * _np(net.embedding.frequencies)).T
    assert_close(phi, np.concatenate([np.cos(z), np.sin(z)], axis=1), 1e-13)
    assert phi.shape == (7, 24) and net.output.weight.shape == (1, 24)
    # Only alpha = 0 switches the blocks off: the loss gradient in alpha is not 0.
    assert np.all(np.abs(_np(grad.alpha)) > 1e-6)


def test_documented_keys_scale_and_sizes():
    net, key = real_net(), jax.random.key(3)
    keys = jax.random.split(key, 3 * 2 + 4)
    # B has N(0, s^2) entries drawn with the first key; s = 1 here, 2.5 below.
    draw = jax.random.normal(keys[0], (12, 2), F64)
    assert_close(2 * np.pi * _np(net.embedding.frequencies), draw, 1e-14)
    wider = real_net(2.5)
    assert_close(2 * np.pi * _np(wider.embedding.frequencies), 2.5 * draw, 1e-14)
    assert not net.embedding.trainable
    assert [layer.weight.shape for layer in net.blocks[0]] == [(6, 24), (6, 6), (24, 6)]
    assert net.encoder_u.weight.shape == (6, 24)
    np.testing.assert_array_equal(_np(net.blocks[1][2].bias), 0.0)
    # Independent keys per layer: no two weight matrices alike.
    weights = [net.encoder_u, net.encoder_v, *sum(net.blocks, ()), net.output]
    assert len({_np(w.weight).tobytes() for w in weights}) == len(weights)
    shapes = eqx.filter_eval_shape(
        lambda: nn.PirateNet(3, width=7, depth=1, key=jax.random.key(0))
    )
    assert shapes.embedding.frequencies.shape == (4, 3)  # ceil(7 / 2) frequencies


@pytest.mark.parametrize("dtype", [F32, F64, None])
@pytest.mark.parametrize("factorized", [None, True])
def test_dtype_preserved(dtype, factorized):
    expected = F64 if dtype is None else dtype

    def build_and_apply():
        net = nn.PirateNet(
            2,
            3,
            width=4,
            depth=2,
            key=jax.random.key(0),
            dtype=dtype,
            factorized=factorized,
        )
        return net, net(jnp.array([0.1, 0.2], expected))

    net, out = eqx.filter_eval_shape(build_and_apply)
    leaves = jax.tree.leaves(net)
    leaves = [leaf for leaf in leaves if isinstance(leaf, jax.ShapeDtypeStruct)]
    assert leaves and all(leaf.dtype == expected for leaf in leaves)
    assert out.shape == (3,) and out.dtype == expected


# -------------------------------------------------------------- least-squares init


def _grid(nx=24, nt=4, dtype=F64):
    x, t = np.meshgrid(np.linspace(-1, 1, nx), np.linspace(0, 1, nt))
    return jnp.asarray(np.stack([x.ravel(), t.ravel()], axis=1), dtype)


@pytest.mark.parametrize("out_size, factorized", [("scalar", None), (2, True)])
def test_least_squares_recovers_a_linear_model_exactly(out_size, factorized):
    # Data that a linear model on the features represents: an overdetermined,
    # well-posed fit (96 points, 7 unknowns per output) recovers it to rounding.
    net = pirate(6, out_size, factorized=factorized)
    points = _grid()
    rng = np.random.default_rng(7)
    m = 1 if out_size == "scalar" else out_size
    weight, bias = rng.normal(size=(m, 6)), rng.normal(size=m)
    phi = _np(jax.vmap(net.features)(points))
    assert np.linalg.cond(np.concatenate([phi, np.ones((96, 1))], axis=1)) < 1e4
    values = jnp.asarray(phi @ weight.T + bias[None])
    values = values[:, 0] if out_size == "scalar" else values
    fitted = nn.least_squares_init(net, points, values)
    assert_close(fitted.output.weight, weight, 1e-10)
    assert_close(fitted.output.bias, bias, 1e-10)
    assert_close(jax.vmap(fitted)(points), values, 1e-11)
    if factorized:  # the scales s are kept, V absorbs the solution
        chex.assert_trees_all_equal(fitted.output.s, net.output.s)
    # Nothing but the output layer changed.
    unchanged = eqx.tree_at(lambda n: n.output, fitted, net.output)
    chex.assert_trees_all_equal(unchanged, net)


def test_least_squares_fits_an_initial_condition():
    # The paper's use: u(x, t) ~ u0(x) over space-time, at initialisation.
    net = real_net()
    points = random_points(20, 200, [-1.0, 0.0], [1.0, 1.0])
    u0 = -jnp.sin(jnp.pi * points[:, 0])

    def misfit(m):
        return jnp.sqrt(jnp.mean((jax.vmap(m)(points) - u0) ** 2))

    def output_gradient(m):  # of the mean squared misfit, in (W_out, b_out)
        def loss(w, b):
            out = eqx.tree_at(lambda o: (o.weight, o.bias), m.output, (w, b))
            return misfit(eqx.tree_at(lambda n: n.output, m, out)) ** 2

        return jax.grad(loss, (0, 1))(m.output.weight, m.output.bias)

    @eqx.filter_jit
    def fits(net):
        fitted = nn.least_squares_init(net, points, u0)
        no_bias = nn.least_squares_init(net, points, u0, fit_bias=False)
        cut = nn.least_squares_init(net, points, u0, rcond=1e-3)
        errors = [misfit(m) for m in (net, fitted, no_bias, cut)]
        weights = [jnp.max(jnp.abs(m.output.weight)) for m in (fitted, cut)]
        return errors, weights, output_gradient(fitted), no_bias.output.bias

    (before, after, without, cut), (big, moderate), grads, bias = fits(net)
    assert before > 0.5 and after < 1e-2 * before, (before, after)
    assert after <= without and float(jnp.max(jnp.abs(bias))) == 0.0
    # Least-squares optimality: the misfit's gradient in the output layer is zero.
    assert max(float(jnp.max(jnp.abs(g))) for g in grads) < 1e-10
    # A cut-off: a slightly worse fit with much smaller weights.
    assert after < cut < 0.1 * before and moderate < 0.1 * big


def test_least_squares_after_training_and_behind_an_embedding():
    # alpha != 0 (numpy-drawn): the features are x^(L+1), not Phi(x). Behind a
    # periodic embedding the fit goes through the Sequential.
    emb = nn.PeriodicEmbedding(2, axes=(0,), periods=(2.0,))
    u = eqx.nn.Sequential([emb, pirate(9, in_size=emb.out_size)])
    points = _grid()
    values = jnp.cos(jnp.pi * points[:, 0]) * (1 + points[:, 1])
    fitted = nn.least_squares_init(u, points, values)
    assert isinstance(fitted, eqx.nn.Sequential) and fitted.layers[0] == emb
    features = jax.vmap(lambda p: u.layers[1].features(emb(p)))(points)
    design = np.concatenate([_np(features), np.ones((points.shape[0], 1))], axis=1)
    coef = np.linalg.lstsq(design, _np(values), rcond=None)[0]
    assert_close(jax.vmap(fitted)(points), design @ coef, 1e-10)


def test_least_squares_keeps_the_model_dtype():
    # A float32 model, float64 data that its features represent: the fit is solved
    # in float32, to float32 accuracy, and the model stays float32.
    net = fill_random(
        eqx.filter_eval_shape(
            lambda: nn.PirateNet(2, width=4, depth=1, key=jax.random.key(0), dtype=F32)
        ),
        10,
    )
    points = _grid(16, 2, F32)
    phi = _np(jax.vmap(net.features)(points))
    target = jnp.asarray(phi @ np.linspace(-1.0, 1.0, 4) + 0.5)
    fitted = nn.least_squares_init(net, points, target)
    arrays = [leaf for leaf in jax.tree.leaves(fitted) if eqx.is_array(leaf)]
    assert all(leaf.dtype == F32 for leaf in arrays)
    assert_close(jax.vmap(fitted)(points), target, 1e-4, 1e-4)


# ------------------------------------------------------- fused Taylor derivatives


@eqx.filter_jit
def _derivatives(u, x):
    """The fused partials (the method is used: `fused=True` raises otherwise), the
    operators of `pinnlib.diff`, and jax's own Jacobian and Hessian, in one
    compilation."""
    ops = {"laplacian": pl.diff.laplacian(u)(x), "gradient": pl.diff.gradient(u)(x)}
    if jnp.ndim(u(x)) == 0:  # pl.diff.hessian is for scalar fields
        ops["hessian"] = pl.diff.hessian(u)(x)
    fused = pl.diff.partials(u, x, *INDICES, fused=True)
    return fused, ops, jax.jacfwd(u)(x), jax.hessian(u)(x)


def _check_derivatives(u, x=X2):
    fused, ops, jac, hess = _derivatives(u, x)
    pick = {0: lambda i: u(x), 1: lambda i: jac[..., i[0]]}
    pick[2] = lambda i: hess[..., i[0], i[1]]
    expected = tuple(pick[len(i)](i) for i in INDICES)
    chex.assert_trees_all_close(fused, expected, rtol=RTOL, atol=ATOL)
    trace = jnp.trace(hess, axis1=-2, axis2=-1)
    chex.assert_trees_all_close(ops["laplacian"], trace, rtol=RTOL, atol=ATOL)
    chex.assert_trees_all_close(ops["gradient"], jac, rtol=RTOL, atol=ATOL)
    if "hessian" in ops:
        chex.assert_trees_all_close(ops["hessian"], hess, rtol=RTOL, atol=ATOL)
    # Genuinely non-trivial derivatives (a zero-vs-zero check proves nothing).
    assert all(float(jnp.max(jnp.abs(d))) > 1e-4 for d in fused)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"out_size": 3, "factorized": True, "activation": "sin"}],
    ids=["scalar-tanh", "vector-factorized-sin"],
)
def test_fused_derivatives_agree_with_jax(kwargs):
    _check_derivatives(pirate(11, **kwargs))


def test_fused_derivatives_behind_a_periodic_embedding():
    # Also: an activation without a closed form (gelu), trainable frequencies.
    emb = nn.PeriodicEmbedding(2, axes=(0,), periods=(2.0,))
    net = pirate(
        12, in_size=emb.out_size, activation="gelu", trainable_frequencies=True
    )
    _check_derivatives(eqx.nn.Sequential([emb, net]))


def test_parameter_gradients_through_fused_derivatives():
    # A PINN loss differentiates fused derivatives in the parameters. With trainable
    # frequencies the gradient equals the nested path's; with fixed ones it is the
    # same except exactly zero for the frequencies (stop_gradient, as in __call__).
    points = random_points(13, 3, [-1.0] * 2, [1.0] * 2)
    trained = pirate(14, depth=1, trainable_frequencies=True)
    fixed = eqx.tree_at(lambda m: m.embedding, trained, pirate(14).embedding)
    assert not fixed.embedding.trainable

    def loss(m, fused):
        d = jax.vmap(lambda x: pl.diff.partials(m, x, (1,), (0, 0), fused=fused))
        return sum(jnp.sum(a**2) for a in d(points))

    grad = eqx.filter_grad(loss)
    grads = eqx.filter_jit(lambda a, b: (grad(a, True), grad(a, False), grad(b, True)))(
        trained, fixed
    )
    fused, nested, frozen = grads
    chex.assert_trees_all_close(fused, nested, rtol=1e-10, atol=1e-12)
    assert float(jnp.max(jnp.abs(fused.embedding.frequencies))) > 1e-6
    np.testing.assert_array_equal(np.asarray(frozen.embedding.frequencies), 0.0)
    rest = lambda g: eqx.tree_at(lambda m: m.embedding, g, None)
    chex.assert_trees_all_close(rest(frozen), rest(fused), rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------- transformations


def test_jit_vmap_and_parameter_gradient():
    model = pirate(15, 2, factorized=True)
    points = random_points(16, 6, [-1.0] * 2, [1.0] * 2)
    values = jax.vmap(model)(points)
    assert values.shape == (6, 2)
    assert_close(jax.jit(jax.vmap(model))(points), values, 1e-14, 1e-15)
    assert_close(values[2], eqx.filter_jit(model)(points[2]), 1e-14, 1e-15)

    def loss(m):
        return jnp.mean(jax.vmap(m)(points) ** 2)

    grads = eqx.filter_jit(eqx.filter_grad(loss))(model)
    params, static = eqx.partition(model, eqx.is_inexact_array)
    rng = np.random.default_rng(17)
    direction = jax.tree.map(lambda p: jnp.asarray(rng.normal(size=p.shape)), params)
    # The frequencies are fixed (their gradient is zero): do not move them.
    direction = eqx.tree_at(
        lambda d: d.embedding.frequencies, direction, jnp.zeros((3, 2))
    )
    assert float(jnp.max(jnp.abs(grads.embedding.frequencies))) == 0.0
    jit_loss, h = eqx.filter_jit(loss), 1e-5

    def shifted(sign):
        moved = jax.tree.map(lambda p, d: p + sign * h * d, params, direction)
        return jit_loss(eqx.combine(moved, static))

    fd = (shifted(1) - shifted(-1)) / (2 * h)
    ad = sum(
        jnp.vdot(g, d)
        for g, d in zip(jax.tree.leaves(grads), jax.tree.leaves(direction))
    )
    assert abs(float(ad)) > 1e-3
    assert_close(ad, fd, 1e-7, 1e-10)


def test_a_few_training_steps_reduce_the_loss():
    # Burgers in float32, the last layer first fitted to the initial condition
    # (with a cut-off, for moderate weights): Adam lowers the loss and moves the
    # alphas off zero.
    _, loss, sampler = burgers_problem(width=4, depth=1, dtype=F32)
    net = jax.tree.map(
        lambda a: a.astype(F32) if eqx.is_array(a) else a, real_net(depth=1)
    )
    points = random_points(20, 200, [-1.0, 0.0], [1.0, 1.0], F32)
    u0 = -jnp.sin(jnp.pi * points[:, 0])
    net = nn.least_squares_init(net, points, u0, rcond=1e-3)
    training = pl.training(loss, optax.adam(1e-2))
    state = training.init(net, key=jax.random.key(19))
    out = eqx.filter_jit(pl.run)(
        training, state, sampler, 40, args={"nu": 0.01 / math.pi}, resample_every=10
    )
    history = np.asarray(out.metrics["loss"])
    assert history.dtype == np.float32 and out.state.model.alpha.dtype == F32
    assert int(out.result) == 0 and np.all(np.isfinite(history))
    assert history[-5:].mean() < 0.3 * history[:5].mean(), history
    assert np.all(np.abs(np.asarray(out.state.model.alpha)) > 0)


# ---------------------------------------------------------------- bad arguments
# pinnlib's own checks raise ValueError naming the argument; for an argument of the
# wrong type the runtime type check under pytest may fire first (a TypeError that
# names it too).


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"depth": 0}, r"PirateNet\(depth=\.\.\.\)"),
        ({"width": 0}, r"PirateNet\(width=\.\.\.\)"),
        ({"num_features": 0}, r"PirateNet\(num_features=\.\.\.\)"),
        ({"scale": -1.0}, r"PirateNet\(scale=\.\.\.\).*positive"),
        ({"scale": float("nan")}, r"PirateNet\(scale=\.\.\.\)"),
        ({"activation": "tanhh"}, r"PirateNet\(activation=\.\.\.\)"),
        ({"factorized": (1.0,)}, r"PirateNet\(factorized=\.\.\.\)"),
        ({"factorized": (1.0, -0.1)}, r"PirateNet\(mean=\.\.\., std=\.\.\.\)"),
        ({"dtype": jnp.int32}, r"PirateNet\(dtype=\.\.\.\)"),
    ],
)
def test_piratenet_bad_arguments(kwargs, pattern):
    call = {"width": 4, "depth": 1, **kwargs}
    with pytest.raises(ValueError, match=pattern):
        nn.PirateNet(2, **call, key=jax.random.key(0))
    with pytest.raises((ValueError, TypeError), match="trainable_frequencies"):
        nn.PirateNet(2, trainable_frequencies="yes", key=jax.random.key(0))


@pytest.mark.parametrize(
    "change, pattern",
    [
        ({"model": "mlp"}, r"least_squares_init\(model=\.\.\.\).*PirateNet"),
        ({"points": jnp.zeros((8, 3))}, r"\(points=\.\.\.\).*input dimension"),
        (
            {"points": jnp.zeros((0, 2)), "values": jnp.zeros(0)},
            r"\(points=\.\.\.\).*at least one",
        ),
        ({"values": jnp.zeros((8, 1))}, r"\(values=\.\.\.\).*shape \(8,\)"),
        ({"values": jnp.zeros((8, 2))}, r"\(values=\.\.\.\).*shape \(8,\)"),
        ({"values": jnp.full(8, jnp.nan)}, r"\(values=\.\.\.\).*finite"),
    ],
)
def test_least_squares_bad_arguments(change, pattern):
    call = {"model": pirate(), "points": jnp.zeros((8, 2)), "values": jnp.zeros(8)}
    call.update(change)
    if isinstance(call["model"], str):
        call["model"] = eqx.filter_eval_shape(lambda: nn.mlp(2, key=jax.random.key(0)))
    with pytest.raises(ValueError, match=pattern):
        nn.least_squares_init(**call)


def test_least_squares_wrongly_typed_arguments():
    model, points, values = pirate(), jnp.zeros((8, 2)), jnp.zeros(8)
    with pytest.raises((ValueError, TypeError), match="points"):
        nn.least_squares_init(model, jnp.zeros(8), values)
    with pytest.raises((ValueError, TypeError), match="fit_bias"):
        nn.least_squares_init(model, points, values, fit_bias=1)
