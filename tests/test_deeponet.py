"""DeepONet (pinnlib.nn.DeepONet) and the antiderivative data (pinnlib.data)."""

import importlib.util
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import pinnlib as pl
from pinnlib.data._antiderivative import (
    _amplitudes,
    grf_coefficients,
    grf_integrals,
    grf_values,
)

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks"


def _benchmark():
    path = BENCHMARK / "deeponet_antiderivative.py"
    spec = importlib.util.spec_from_file_location("deeponet_antiderivative", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _net(key, out_size="scalar", dtype=jnp.float64, **kw):
    sizes = dict(latent=8, width=16, depth=2) | kw
    return pl.nn.DeepONet(10, 2, out_size, key=key, dtype=dtype, **sizes)


@pytest.mark.parametrize("out_size", ["scalar", 3])
def test_shapes_and_batching_agree_with_points(getkey, out_size):
    net = _net(getkey(), out_size)
    u = jax.random.normal(getkey(), (10,))
    y = jax.random.uniform(getkey(), (4, 5, 2))
    tail = () if out_size == "scalar" else (3,)
    one = net(u, y[0, 0])
    assert one.shape == tail
    rows = net(u, y[0])
    assert rows.shape == (5,) + tail
    grid = net(u, y)
    assert grid.shape == (4, 5) + tail
    pointwise = jax.vmap(jax.vmap(lambda p: net(u, p)))(y)
    np.testing.assert_allclose(grid, pointwise, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rows, grid[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(one, grid[0, 0], rtol=1e-12, atol=1e-12)


def test_formula_branch_times_trunk(getkey):
    net = _net(getkey(), 2)
    net = eqx.tree_at(lambda n: n.bias, net, jnp.array([0.3, -0.1]))
    u, y = jax.random.normal(getkey(), (10,)), jnp.array([0.2, 0.7])
    b = net.branch(u).reshape(2, 8)
    t = jnp.tanh(net.trunk(y)).reshape(2, 8)
    np.testing.assert_allclose(net(u, y), jnp.sum(b * t, axis=1) + net.bias, 1e-12)


def test_vmap_over_functions_and_jit(getkey):
    net = _net(getkey())
    us = jax.random.normal(getkey(), (6, 10))
    ys = jax.random.uniform(getkey(), (6, 7, 2))
    batched = jax.vmap(net)(us, ys)
    assert batched.shape == (6, 7)
    one_by_one = jnp.stack([net(u, y) for u, y in zip(us, ys)])
    np.testing.assert_allclose(batched, one_by_one, rtol=1e-12)
    np.testing.assert_allclose(eqx.filter_jit(net)(us[0], ys[0]), batched[0], 1e-12)


@pytest.mark.parametrize("out_size", ["scalar", 2])
def test_aligned_equals_vmap_over_functions(getkey, out_size):
    net = _net(getkey(), out_size)
    us = jax.random.normal(getkey(), (6, 10))
    y = jax.random.uniform(getkey(), (3, 4, 2))
    tail = () if out_size == "scalar" else (2,)
    aligned = net.aligned(us, y)
    assert aligned.shape == (6, 3, 4) + tail
    np.testing.assert_allclose(aligned, jax.vmap(net, (0, None))(us, y), rtol=1e-12)
    assert net.aligned(us, y[0, 0]).shape == (6,) + tail
    # a field with n outputs: its derivative is every function's derivative
    slope = pl.diff.partial(lambda p: net.aligned(us, p), 1)(y[0, 0])
    each = jax.vmap(lambda u: pl.diff.partial(lambda p: net(u, p), 1)(y[0, 0]))(us)
    np.testing.assert_allclose(slope, each, rtol=1e-12)


def test_gradient_through_trunk_matches_finite_differences(getkey):
    net = _net(getkey())
    u = jax.random.normal(getkey(), (10,))
    field = lambda y: net(u, y)  # noqa: E731
    y = jnp.array([0.3, 0.6])
    grad = pl.diff.gradient(field)(y)
    h = 1e-6
    fd = jnp.stack(
        [(field(y + h * e) - field(y - h * e)) / (2 * h) for e in jnp.eye(2)]
    )
    np.testing.assert_allclose(grad, fd, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(grad, jax.grad(field)(y), rtol=1e-12)
    # and for parameters: the gradient of a loss is finite and nonzero
    g = eqx.filter_grad(lambda n: jnp.sum(n(u, y[None]) ** 2))(net)
    leaves = jax.tree.leaves(eqx.filter(g, eqx.is_array))
    assert all(np.isfinite(x).all() for x in leaves)


def test_float32_parameters_and_outputs(getkey):
    net = _net(getkey(), dtype=jnp.float32)
    u = jnp.ones(10, jnp.float32)
    assert net(u, jnp.zeros((3, 2), jnp.float32)).dtype == jnp.float32


def test_grf_covariance_is_the_rbf_kernel():
    # Exact covariance of the series, sum_j c_j^2 cos(w_j r), against the kernel.
    for length in (0.1, 0.2, 0.5):
        omega, c = _amplitudes(length, jnp.float64)
        r = jnp.linspace(0.0, 1.0, 201)
        cov = jnp.cos(r[:, None] * omega[None, :]) @ c**2
        kernel = jnp.exp(-(r**2) / (2 * length**2))
        np.testing.assert_allclose(cov, kernel, rtol=0, atol=1e-14)


def test_grf_sample_covariance(getkey):
    (u, _), _ = pl.data.antiderivative_pairs(getkey(), 20_000, sensors=6)
    x = jnp.linspace(0.0, 1.0, 6)
    kernel = jnp.exp(-((x[:, None] - x[None, :]) ** 2) / (2 * 0.2**2))
    np.testing.assert_allclose(u.T @ u / u.shape[0], kernel, atol=0.05)
    np.testing.assert_allclose(jnp.mean(u, axis=0), 0.0, atol=0.05)


def _simpson(values, h):
    """Composite Simpson cumulative integral at the even grid nodes."""
    pairs = values[..., 0:-2:2] + 4 * values[..., 1:-1:2] + values[..., 2::2]
    zero = jnp.zeros(values.shape[:-1] + (1,), values.dtype)
    return jnp.concatenate([zero, jnp.cumsum(pairs, axis=-1) * h / 3], axis=-1)


def test_antiderivatives_are_exact(getkey):
    key = getkey()
    (u, y), s = pl.data.antiderivative_pairs(key, 8, sensors=50, queries=21)
    assert u.shape == (8, 50) and y.shape == (8, 21, 1) and s.shape == (8, 21)
    np.testing.assert_allclose(s[:, 0], 0.0, atol=0)
    # The same functions on a fine grid, integrated by Simpson's rule (O(h^4)).
    coefficients = grf_coefficients(key, 8, 0.2, jnp.float64)
    fine = jnp.linspace(0.0, 1.0, 20 * 200 + 1)
    integral = _simpson(grf_values(coefficients, fine, 0.2), fine[1])[:, ::100]
    np.testing.assert_allclose(s, integral, rtol=0, atol=1e-11)
    np.testing.assert_allclose(
        u, grf_values(coefficients, jnp.linspace(0.0, 1.0, 50), 0.2), rtol=1e-14
    )
    # The derivative of the closed form is the field (forward mode, pointwise).
    ds = jax.vmap(jax.grad(lambda x: grf_integrals(coefficients, x[None], 0.2)[0, 0]))
    np.testing.assert_allclose(
        ds(fine[::97]), grf_values(coefficients, fine[::97], 0.2)[0], atol=1e-12
    )


def test_antiderivative_pairs_float32_accuracy(getkey):
    key = getkey()
    (u, _), s = pl.data.antiderivative_pairs(key, 50, dtype=jnp.float32)
    assert u.dtype == s.dtype == jnp.float32
    # The same (float32) draws, evaluated in float64.
    coefficients = jax.tree.map(
        lambda c: c.astype(jnp.float64), grf_coefficients(key, 50, 0.2, jnp.float32)
    )
    x = jnp.linspace(0.0, 1.0, 100)
    np.testing.assert_allclose(s, grf_integrals(coefficients, x, 0.2), atol=2e-6)
    np.testing.assert_allclose(u, grf_values(coefficients, x, 0.2), atol=1e-5)


def test_antiderivative_pairs_queries_and_jit(getkey):
    key = getkey()
    points = jnp.array([0.0, 0.25, 1.0])
    (_, y), s = pl.data.antiderivative_pairs(key, 3, queries=points)
    np.testing.assert_allclose(y[1, :, 0], points)
    (_, y2), s2 = pl.data.antiderivative_pairs(key, 3, queries=points[:, None])
    np.testing.assert_allclose(s, s2)
    # Default queries: the sensors; jittable with static sizes.
    draw = jax.jit(lambda k: pl.data.antiderivative_pairs(k, 4, sensors=11))
    (u, y3), s3 = draw(key)
    np.testing.assert_allclose(y3[0, :, 0], jnp.linspace(0.0, 1.0, 11), atol=1e-15)
    (u_eager, _), s_eager = pl.data.antiderivative_pairs(key, 4, sensors=11)
    np.testing.assert_allclose(u, u_eager, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(s3, s_eager, rtol=1e-12, atol=1e-14)


class _Exact(eqx.Module):
    """The exact antiderivative operator on the functions of `coefficients`."""

    coefficients: tuple

    def aligned(self, us, y):
        values = grf_integrals(self.coefficients, y.reshape(-1), 0.2)
        return values.reshape(us.shape[:1] + y.shape[:-1])


def test_loss_terms_vanish_for_the_exact_operator(getkey):
    bench = _benchmark()
    key = getkey()
    (u, y), s = pl.data.antiderivative_pairs(key, 5)
    exact = _Exact(grf_coefficients(key, 5, 0.2, jnp.float64))
    args = {"queries": y[0]}
    misfit = bench.residual_misfit(exact, ((u,), u), args)
    assert misfit.shape == (5 * 100,)
    np.testing.assert_allclose(misfit, 0.0, atol=1e-12)
    np.testing.assert_allclose(
        bench.initial_misfit(exact, ((u,), u), args), 0.0, atol=0
    )
    np.testing.assert_allclose(
        bench.data_misfit(exact, ((u,), s), args), 0.0, atol=1e-15
    )
    wrong = _Exact(jax.tree.map(lambda c: 1.1 * c, exact.coefficients))
    assert float(jnp.mean(bench.residual_misfit(wrong, ((u,), u), args) ** 2)) > 1e-3


def test_aligned_terms_agree_with_per_sample_evaluation(getkey):
    bench = _benchmark()
    (u, y), s = pl.data.antiderivative_pairs(getkey(), 6, sensors=10, queries=7)
    net = pl.nn.DeepONet(10, latent=8, width=16, depth=2, key=getkey())
    args = {"queries": y[0]}
    np.testing.assert_allclose(
        bench.data_misfit(net, ((u,), s), args),
        pl.losses.data().misfit(net, ((u, y), s), None),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        bench.relative_l2(net, ((u,), s), args),
        pl.losses.relative_l2()(net, ((u, y), s), None),
        rtol=1e-12,
    )
    slope = jax.vmap(jax.vmap(jax.grad(lambda v, p: net(v, p), argnums=1), (None, 0)))
    v = jax.random.normal(getkey(), (6, 7))
    np.testing.assert_allclose(
        bench.residual_misfit(net, ((u,), v), args),
        (slope(u, y)[..., 0] - v).reshape(-1),
        rtol=1e-10,
        atol=1e-12,
    )


def test_physics_loss_trains_a_deeponet_in_the_runner(getkey):
    bench = _benchmark()
    (u, y), _ = pl.data.antiderivative_pairs(getkey(), 20, sensors=10)
    net = pl.nn.DeepONet(10, latent=8, width=16, depth=2, key=getkey())
    training = pl.training(bench.physics_loss(), optax.adam(1e-3))
    state = training.init(net, key=getkey())
    batches = pl.data.minibatches({"pde": ((u,), u), "ic": ((u,), u)}, 10)
    result = pl.fit(
        training,
        state,
        batches,
        20,
        args={"queries": y[0]},
        resample_every=1,
        progress=False,
    )
    losses = np.asarray(result.history["loss"])
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_sensors": 0}, r"num_sensors=\.\.\."),
        ({"coord_size": -1}, r"coord_size=\.\.\."),
        ({"out_size": 0}, r"out_size=\.\.\."),
        ({"latent": 0}, r"latent=\.\.\."),
        ({"width": (10, 20, 30)}, r"width=\.\.\."),
        ({"depth": 0}, r"depth=\.\.\."),
        ({"activation": "nope"}, r"activation=\.\.\."),
        ({"dtype": jnp.int32}, r"dtype=\.\.\."),
    ],
)
def test_bad_construction(kwargs, match):
    args = {"num_sensors": 10, "key": jax.random.key(0)} | kwargs
    with pytest.raises(ValueError, match=match):
        pl.nn.DeepONet(**args)


def test_bad_call(getkey):
    net = _net(getkey())
    u, y = jnp.zeros(10), jnp.zeros((3, 2))
    # (under pytest, jaxtyping may reject a shape first, naming the parameter)
    with pytest.raises((ValueError, TypeError), match=r"u=\.\.\.|parameter 'u'"):
        net(jnp.zeros((2, 10)), y)
    with pytest.raises(ValueError, match=r"y=\.\.\."):
        net(u, jnp.zeros((3, 3)))
    with pytest.raises((ValueError, TypeError), match=r"y=\.\.\.|parameter 'y'"):
        net(u, jnp.zeros(()))
    with pytest.raises((ValueError, TypeError), match=r"us=\.\.\.|parameter 'us'"):
        net.aligned(u, y)
    with pytest.raises(ValueError, match=r"y=\.\.\."):
        net.aligned(jnp.zeros((4, 10)), jnp.zeros((3, 1)))
    with pytest.raises(ValueError, match=r"aligned\(us=\.\.\.\).*at least one"):
        net.aligned(jnp.zeros((0, 10)), y)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num": 0}, r"num=\.\.\."),
        ({"sensors": 1}, r"sensors=\.\.\."),
        ({"length_scale": 0.0}, r"length_scale=\.\.\."),
        ({"length_scale": float("nan")}, r"length_scale=\.\.\."),
        ({"queries": jnp.zeros((3, 2))}, r"queries=\.\.\."),
        ({"queries": 0}, r"queries=\.\.\."),
        ({"dtype": jnp.int32}, r"dtype=\.\.\."),
    ],
)
def test_bad_antiderivative_arguments(kwargs, match):
    args = {"key": jax.random.key(0), "num": 4} | kwargs
    with pytest.raises(ValueError, match=match):
        pl.data.antiderivative_pairs(**args)
