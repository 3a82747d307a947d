"""pinnlib.losses.robin, neumann and mean_value: exact values, errors."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import pinnlib as pl

R = 1.5


def _circle(n=12, radius=R, seed=0):
    angles = np.random.default_rng(seed).uniform(0, 2 * math.pi, n)
    return jnp.asarray(radius * np.stack([np.cos(angles), np.sin(angles)], 1))


def _outward(x):
    return x / jnp.linalg.norm(x)


def _square(x):
    return jnp.sum(x**2)  # u = |x|^2: du/dn = 2R on |x| = R


# --------------------------------------------------------------------------- robin


def test_robin_on_a_disk_vanishes_for_the_exact_solution():
    points = _circle()
    term = pl.losses.robin(1.0, 1.0, R**2 + 2 * R, normal=_outward)
    assert term.accepts == frozenset()
    misfit = term.misfit(_square, points, None)
    assert misfit.shape == (12,)
    np.testing.assert_allclose(misfit, 0.0, atol=1e-12)
    assert float(term(_square, points, None)) < 1e-24
    # a wrong field: u = |x|^2 + x_0 misses by x_0 + n_0 = x_0 (1 + 1/R)
    wrong = lambda x: _square(x) + x[0]  # noqa: E731
    np.testing.assert_allclose(
        term.misfit(wrong, points, None), points[:, 0] * (1 + 1 / R), rtol=1e-12
    )
    # wrong data: the misfit is exactly the difference
    off = pl.losses.robin(1.0, 1.0, 0.0, normal=_outward)
    assert float(off(_square, points, None)) == pytest.approx((R**2 + 2 * R) ** 2)


def test_robin_with_point_function_coefficients():
    points = _circle(seed=1)
    a = lambda x: 2.0 + x[0]  # noqa: E731
    b = lambda x: 1.0 + x[1] ** 2  # noqa: E731
    g = lambda x: a(x) * R**2 + b(x) * 2 * R  # noqa: E731
    term = pl.losses.robin(a, b, g, normal=_outward)
    np.testing.assert_allclose(term.misfit(_square, points, None), 0.0, atol=1e-12)
    assert float(pl.losses.robin(a, b, 0.0, normal=_outward)(_square, points, None)) > 1


def test_robin_with_a_fixed_normal_and_its_limits():
    u = lambda p: p[0] ** 2 + 3 * p[1]  # noqa: E731  u_x = 2 on x = 1
    points = jnp.asarray([[1.0, 0.2], [1.0, 0.7], [1.0, -0.4]])
    term = pl.losses.robin(
        2.0, 3.0, lambda p: 2 * (1 + 3 * p[1]) + 6, normal=(1.0, 0.0)
    )
    np.testing.assert_allclose(term.misfit(u, points, None), 0.0, atol=1e-13)
    # b = 0 is Dirichlet, a = 0 is Neumann: same misfits as those terms
    for robin, other in (
        (pl.losses.robin(1.0, 0.0, 0.5, normal=(1.0, 0.0)), pl.losses.dirichlet(0.5)),
        (
            pl.losses.robin(0.0, 1.0, 0.5, normal=(1.0, 0.0)),
            pl.losses.neumann(0.5, normal=(1.0, 0.0)),
        ),
    ):
        np.testing.assert_allclose(
            robin.misfit(u, points, None), other.misfit(u, points, None), rtol=1e-13
        )


def test_robin_vector_field_and_jit():
    # u = (|x|^2, x_0): a = 1, b = 1 with g per output (R^2 + 2R, x_0 + n_0)
    field = lambda x: jnp.stack([_square(x), x[0]])  # noqa: E731
    g = lambda x: jnp.stack([R**2 + 2 * R, x[0] + x[0] / R])  # noqa: E731
    term = pl.losses.robin(1.0, 1.0, g, normal=_outward)
    points = _circle(seed=2)
    misfit = jax.jit(lambda p: term.misfit(field, p, None))(points)
    assert misfit.shape == (12, 2)
    np.testing.assert_allclose(misfit, 0.0, atol=1e-12)


def test_neumann_on_a_curved_boundary_and_per_output():
    points = _circle(seed=3)
    scalar = pl.losses.neumann(2 * R, normal=_outward)
    np.testing.assert_allclose(scalar.misfit(_square, points, None), 0.0, atol=1e-12)
    # an outflow on a vector field: du/dn for each output, u = (|x|^2, x_0)
    field = lambda x: jnp.stack([_square(x), x[0]])  # noqa: E731
    flux = lambda x: jnp.stack([2 * R, x[0] / R])  # noqa: E731
    term = pl.losses.neumann(flux, normal=_outward)
    misfit = jax.jit(lambda p: term.misfit(field, p, None))(points)
    assert misfit.shape == (12, 2)
    np.testing.assert_allclose(misfit, 0.0, atol=1e-12)
    zero = pl.losses.neumann(0.0, normal=_outward).misfit(field, points, None)
    np.testing.assert_allclose(zero, jax.vmap(flux)(points), rtol=1e-12)
    with pytest.raises(ValueError, match=r"neumann\(g=\.\.\.\)"):
        pl.losses.neumann(jnp.zeros(3), normal=_outward).misfit(field, points, None)


def test_robin_bad_arguments():
    with pytest.raises(ValueError, match=r"robin\(a=\.\.\.\)"):
        pl.losses.robin("one", 1.0, normal=(1.0, 0.0))
    with pytest.raises(ValueError, match=r"robin\(b=\.\.\.\)"):
        pl.losses.robin(1.0, None, normal=(1.0, 0.0))
    with pytest.raises(ValueError, match=r"robin\(g=\.\.\.\)"):
        pl.losses.robin(1.0, 1.0, "zero", normal=(1.0, 0.0))
    with pytest.raises(ValueError, match=r"robin\(a=\.\.\., b=\.\.\.\).*not both zero"):
        pl.losses.robin(0, 0.0, normal=(1.0, 0.0))
    points = _circle(n=3)
    with pytest.raises(ValueError, match=r"robin\(normal=\.\.\.\).*2 components"):
        pl.losses.robin(1.0, 1.0, normal=(1.0,))(_square, points, None)
    with pytest.raises(ValueError, match=r"robin\(a=\.\.\.\)"):
        pl.losses.robin(lambda x: x, 1.0, normal=_outward)(_square, points, None)
    with pytest.raises(TypeError, match=r"robin\(g=\.\.\.\).*float32"):
        pl.losses.robin(1.0, 1.0, lambda x: jnp.float32(1.0), normal=_outward)(
            _square, points, None
        )
    with pytest.raises(ValueError, match=r"robin: points"):
        pl.losses.robin(1.0, 1.0, normal=_outward)(_square, jnp.zeros(2), None)


# ---------------------------------------------------------------------- mean_value


def test_mean_value_of_a_scalar_field():
    points = jnp.linspace(0.0, 1.0, 11)[:, None]
    u = lambda x: 3 * x[0] + 1  # noqa: E731  mean 2.5 on these points
    term = pl.losses.mean_value(2.5)
    assert term.accepts == frozenset()
    misfit = term.misfit(u, points, None)
    assert misfit.shape == (1,)
    np.testing.assert_allclose(misfit, 0.0, atol=1e-14)
    assert float(pl.losses.mean_value()(u, points, None)) == pytest.approx(6.25)
    # with a traced target under jit
    f = jax.jit(lambda c: pl.losses.mean_value(c)(u, points, None))
    assert float(f(jnp.asarray(2.0))) == pytest.approx(0.25)


def test_mean_value_with_components():
    points = jnp.asarray(np.random.default_rng(3).uniform(-1, 1, (20, 2)))
    field = lambda x: jnp.stack([x[0], x[1] ** 2, x[0] + 4.0])  # noqa: E731
    mean = jnp.mean(jax.vmap(field)(points), axis=0)
    gauge = pl.losses.mean_value(0.0, components=(2,))
    misfit = gauge.misfit(field, points, None)
    assert misfit.shape == (1, 1)
    np.testing.assert_allclose(misfit, [[mean[2]]], rtol=1e-14)
    assert float(gauge(field, points, None)) == pytest.approx(float(mean[2]) ** 2)
    two = pl.losses.mean_value((mean[0], mean[2]), components=(0, 2))
    assert two.misfit(field, points, None).shape == (1, 2)
    np.testing.assert_allclose(two.misfit(field, points, None), 0.0, atol=1e-14)
    everything = pl.losses.mean_value(np.asarray(mean))
    np.testing.assert_allclose(everything.misfit(field, points, None), 0.0, atol=1e-14)
    # in a combined loss, next to a one-point pressure gauge
    loss = pl.losses.combine(
        mean=gauge, point=pl.losses.dirichlet(0.0, components=(2,))
    )
    total, terms = loss(
        field,
        {"mean": points, "point": jnp.asarray([[0.5, 0.0]])},
        loss.init_weights(),
        None,
    )
    assert float(terms["point"]) == pytest.approx(4.5**2)
    assert float(total) == pytest.approx(float(mean[2]) ** 2 + 4.5**2)
    # its value from sums over any split of the points (pl.parallel.data_parallel)
    parts = [two.statistics(field, p, None) for p in (points[:7], points[7:])]
    total_sum, count = jax.tree.map(lambda a, b: a + b, *parts)
    np.testing.assert_allclose(total_sum, jnp.sum(jax.vmap(field)(points), 0)[::2])
    assert float(count) == 20
    shifted = pl.losses.mean_value((0.0, 1.0), components=(0, 2))
    np.testing.assert_allclose(
        shifted.from_statistics((total_sum, count), None),
        shifted(field, points, None),
        rtol=1e-13,
    )


def test_mean_value_bad_arguments():
    with pytest.raises(
        ValueError, match=r"mean_value\(target=\.\.\.\).*point function"
    ):
        pl.losses.mean_value(lambda x: 0.0)
    with pytest.raises(ValueError, match=r"mean_value\(target=\.\.\.\)"):
        pl.losses.mean_value("zero")
    with pytest.raises(ValueError, match=r"mean_value\(target=\.\.\.\).*finite"):
        pl.losses.mean_value(float("nan"))
    with pytest.raises(ValueError, match=r"mean_value\(components=\.\.\.\)"):
        pl.losses.mean_value(components=())
    field = lambda x: jnp.stack([x[0], x[1], 1.0 + x[0]])  # noqa: E731
    points = jnp.zeros((4, 2))
    with pytest.raises(ValueError, match=r"mean_value\(components=\.\.\.\)"):
        pl.losses.mean_value(components=(3,))(field, points, None)
    with pytest.raises(ValueError, match=r"mean_value\(components=\.\.\.\)"):
        pl.losses.mean_value(components=(0,))(lambda x: x[0], points, None)
    with pytest.raises(ValueError, match=r"mean_value\(target=\.\.\.\)"):
        pl.losses.mean_value((0.0, 1.0))(field, points, None)
    with pytest.raises(TypeError, match=r"mean_value\(target=\.\.\.\)"):
        pl.losses.mean_value(jnp.zeros(1, jnp.float32), components=(2,))(
            field, points, None
        )
    with pytest.raises(ValueError, match=r"mean_value: points"):
        pl.losses.mean_value()(field, jnp.zeros((0, 2)), None)


def test_mean_value_jacobian_is_of_the_whole_mean():
    # The per-point Jacobian of Gauss-Newton must not treat the mean as pointwise.
    import equinox as eqx
    from jax.flatten_util import ravel_pytree

    u = pl.nn.mlp(2, width=4, depth=1, out_size=3, key=jax.random.key(0))
    u = jax.tree.map(lambda a: a.astype(jnp.float64) if eqx.is_array(a) else a, u)
    loss = pl.losses.combine(
        bc=pl.losses.dirichlet(0.0, components=(0, 1)),
        gauge=pl.losses.mean_value(0.5, components=(2,)),
    )
    points = jax.random.uniform(jax.random.key(1), (7, 2), jnp.float64)
    batch = {"bc": points[:4], "gauge": points}
    weights = loss.init_weights(jnp.float64)
    r, J = pl.losses.residual_jacobian(loss, u, batch, weights)
    assert r.shape == (4 * 2 + 1,) and J.shape[0] == r.shape[0]
    params, static = eqx.partition(u, eqx.is_inexact_array)
    flat, unravel = ravel_pytree(params)
    whole = jax.jacfwd(
        lambda f: loss.residuals(eqx.combine(unravel(f), static), batch, weights)
    )(flat)
    np.testing.assert_allclose(J, whole, rtol=1e-10, atol=1e-12)
    assert not loss.terms["gauge"].pointwise and loss.terms["bc"].pointwise
