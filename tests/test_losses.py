import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import random_points

import pinnlib as pl


def _pts(*rows):
    return jnp.asarray(rows, jnp.float64)


def test_mean_squared_scalar_and_vector():
    assert pl.losses.mean_squared(jnp.array([1.0, 3.0])) == 5.0
    # vector values: squared norms 1+4 and 9+16, mean 15
    assert pl.losses.mean_squared(jnp.array([[1.0, 2.0], [3.0, 4.0]])) == 15.0


def test_residual_of_exact_solution_is_zero_and_uses_args():
    # u = x / (1 + t) solves viscous Burgers for any nu (u_xx = 0).
    u = lambda p: p[0] / (1 + p[1])
    term = pl.losses.residual(pl.pdes.burgers)
    pts = jax.random.uniform(jax.random.key(0), (50, 2), jnp.float64)
    assert term(u, pts, {"nu": 0.1}) < 1e-28
    # A field that is not a solution: u = x gives residual u*u_x = x.
    value = term(lambda p: p[0], pts, {"nu": 0.1})
    np.testing.assert_allclose(value, jnp.mean(pts[:, 0] ** 2), rtol=1e-12)


def test_dirichlet_known_values():
    u = lambda p: p[0] + 2 * p[1]
    pts = _pts([1.0, 0.0], [0.0, 1.0])
    assert pl.losses.dirichlet(0.0)(u, pts, None) == pytest.approx((1 + 4) / 2)
    assert pl.losses.dirichlet(lambda p: p[0] + 2 * p[1])(u, pts, None) == 0.0


def test_initial_with_velocity():
    u = lambda p: jnp.sin(p[0]) + 3 * p[1]  # u_t = 3
    pts = _pts([0.3, 0.0], [0.7, 0.0])
    exact = pl.losses.initial(lambda p: jnp.sin(p[0]), velocity=3.0)
    assert exact(u, pts, None) < 1e-30
    wrong = pl.losses.initial(lambda p: jnp.sin(p[0]), velocity=1.0)
    assert wrong(u, pts, None) == pytest.approx(4.0)


def test_neumann_fixed_and_callable_normal():
    u = lambda p: p[0] ** 2 + p[1]  # grad = (2x, 1)
    pts = _pts([1.0, 0.2], [1.0, 0.8])
    assert pl.losses.neumann(2.0, normal=(1.0, 0.0))(u, pts, None) < 1e-30
    assert pl.losses.neumann(0.0, normal=(1.0, 0.0))(u, pts, None) == pytest.approx(4.0)
    upward = pl.losses.neumann(1.0, normal=lambda p: jnp.array([0.0, 1.0]))
    assert upward(u, pts, None) < 1e-30


def test_periodic_values_and_derivatives():
    pts = _pts([-1.0, 0.1], [-1.0, 0.5])
    periodic = pl.losses.periodic(axis=0, period=2.0)
    assert periodic(lambda p: jnp.sin(jnp.pi * p[0]) * p[1], pts, None) < 1e-28
    # u = x: values differ by 2 and derivatives agree -> mean of 4.
    assert periodic(lambda p: p[0], pts, None) == pytest.approx(4.0)
    # u = x^2 on [-1, 1]: values agree (1 = 1) but u_x = -2 vs 2.
    assert (
        pl.losses.periodic(axis=0, period=2.0, derivatives=0)(
            lambda p: p[0] ** 2, pts, None
        )
        < 1e-30
    )
    assert periodic(lambda p: p[0] ** 2, pts, None) == pytest.approx(16.0)


def test_data_term_and_shape_error():
    u = lambda p: 2 * p[0]
    pts = _pts([1.0], [2.0])
    assert pl.losses.data()(u, (pts, jnp.array([2.0, 5.0])), None) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="values"):
        pl.losses.data()(u, (pts, jnp.zeros(3)), None)
    with pytest.raises(ValueError, match=r"\(points, values\)"):
        pl.losses.data()(u, pts, None)


def test_combine_weights_terms_and_stops_weight_gradients():
    loss = pl.losses.combine(a=pl.losses.dirichlet(0.0), b=pl.losses.dirichlet(1.0))
    u = lambda p: p[0]
    batch = {"a": _pts([2.0]), "b": _pts([3.0])}
    weights = {"a": jnp.asarray(0.5), "b": jnp.asarray(2.0)}
    total, terms = loss(u, batch, weights, None)
    assert terms == {"a": 4.0, "b": 4.0}
    assert total == pytest.approx(0.5 * 4 + 2 * 4)
    grads = jax.grad(lambda w: loss(u, batch, w, None)[0])(weights)
    assert grads == {"a": 0.0, "b": 0.0}
    assert loss.names == ("a", "b")
    assert set(loss.init_weights()) == {"a", "b"}


def test_weighted_sum():
    assert pl.losses.weighted_sum({"a": 1.0, "b": 2.0}, {"a": 0.5, "b": 1.0}) == 2.5


def test_combine_errors():
    with pytest.raises(ValueError, match="at least one"):
        pl.losses.combine()
    with pytest.raises(ValueError, match=r"combine\(loss=...\)"):
        pl.losses.combine(loss=pl.losses.dirichlet())
    with pytest.raises(ValueError, match=r"combine\(pde=...\)"):
        pl.losses.combine(pde=3.0)
    loss = pl.losses.combine(pde=pl.losses.dirichlet())
    u = pl.nn.mlp(2, width=4, depth=1, key=jax.random.key(0), dtype=jnp.float32)
    weights = loss.init_weights(jnp.float32)
    with pytest.raises(ValueError, match=r"batch=.*\['pde'\]"):
        loss(u, {"bc": jnp.zeros((3, 2), jnp.float32)}, weights, None)
    with pytest.raises(
        TypeError, match="float64 but the model's parameters are float32"
    ):
        loss(u, {"pde": jnp.zeros((3, 2), jnp.float64)}, weights, None)
    points = {"pde": jnp.zeros((3, 2), jnp.float32)}
    with pytest.raises(TypeError, match=r"weights=.*float64 array.*float32"):
        loss(u, points, loss.init_weights(jnp.float64), None)
    with pytest.raises(TypeError, match=r"args=.*float64 array.*float32"):
        loss(u, points, weights, {"nu": jnp.asarray(0.1, jnp.float64)})
    # Python numbers (weakly typed) are fine and keep the model's dtype.
    burgers = pl.losses.combine(pde=pl.losses.residual(pl.pdes.burgers))
    total, _ = burgers(u, points, {"pde": 2.0}, {"nu": 0.1})
    assert total.dtype == jnp.float32


def test_residuals_are_the_least_squares_form(getkey):
    nu = 0.05
    loss = pl.losses.combine(
        pde=pl.losses.residual(pl.pdes.burgers),
        ic=pl.losses.initial(lambda p: -jnp.sin(jnp.pi * p[0]), velocity=0.5),
        obs=pl.losses.data(),
        custom=pl.losses.least_squares(
            lambda model, points, args: jax.vmap(model)(points) - points[:, 0]
        ),
    )
    u = pl.nn.mlp(2, width=8, depth=2, key=getkey())
    x = random_points(0, 7, [-1, 0], [1, 1])
    batch = {"pde": x, "ic": x[:5], "obs": (x[:4], x[:4, 0]), "custom": x[:3]}
    weights = {"pde": 2.0, "ic": 0.5, "obs": 3.0, "custom": 1.0}
    total, terms = loss(u, batch, weights, {"nu": nu})
    r = loss.residuals(u, batch, weights, {"nu": nu})
    assert r.shape == (7 + 5 * 2 + 4 + 3,)
    np.testing.assert_allclose(jnp.sum(r**2), total, rtol=1e-12)
    misfit = loss.terms["custom"].misfit(u, x[:3], None)
    np.testing.assert_allclose(jnp.mean(misfit**2), terms["custom"], rtol=1e-12)


def test_residuals_need_least_squares_terms():
    loss = pl.losses.combine(pde=lambda model, points, args: jnp.sum(points))
    with pytest.raises(ValueError, match=r"combine\(pde=...\).*least_squares"):
        loss.residuals(lambda p: p[0], {"pde": jnp.zeros((2, 1))}, {"pde": 1.0})
    with pytest.raises(ValueError, match=r"least_squares\(misfit=...\)"):
        pl.losses.least_squares(3.0)
    with pytest.raises(ValueError, match=r"misfit_jacobian\(term=...\)"):
        pl.losses.misfit_jacobian(loss.terms["pde"], lambda p: p[0], jnp.zeros((2, 1)))


def test_point_errors():
    term = pl.losses.dirichlet(0.0)
    u = lambda p: p[0]
    with pytest.raises(ValueError, match=r"at least one point"):
        term(u, jnp.zeros((0, 2)), None)
    with pytest.raises(ValueError, match=r"\(n, d\)"):
        term(u, jnp.zeros(3), None)
    with pytest.raises(ValueError, match=r"g=..."):
        pl.losses.dirichlet("zero")


def test_model_and_points_of_different_dimension_is_a_clear_error():
    loss = pl.losses.combine(pde=pl.losses.dirichlet())
    u = pl.nn.mlp(3, width=4, depth=1, key=jax.random.key(0))
    batch = {"pde": jnp.zeros((5, 2))}
    with pytest.raises(ValueError, match=r"batch=\{'pde': ...\}.*dimension 2"):
        loss(u, batch, loss.init_weights(), None)


def test_periodic_and_neumann_check_their_geometry():
    pts = _pts([-1.0, 0.1])
    with pytest.raises(ValueError, match=r"periodic\(axis=...\)"):
        pl.losses.periodic(axis=5, period=2.0, derivatives=0)(lambda p: p[0], pts, None)
    with pytest.raises(ValueError, match=r"neumann\(normal=...\)"):
        pl.losses.neumann(0.0, normal=(1.0,))(lambda p: p[0], pts, None)


def test_residual_passes_each_pde_only_its_own_coefficients():
    # A system: two residuals share one args dict with different coefficients.
    loss = pl.losses.combine(
        burgers=pl.losses.residual(pl.pdes.burgers),
        heat=pl.losses.residual(pl.pdes.heat),
    )
    u = lambda p: p[0] / (1 + p[1])  # solves Burgers for any nu, not the heat eq.
    pts = jax.random.uniform(jax.random.key(0), (20, 2), jnp.float64)
    _, terms = loss(
        u,
        {"burgers": pts, "heat": pts},
        loss.init_weights(),
        {"nu": 0.1, "diffusivity": 0.5},
    )
    assert terms["burgers"] < 1e-28
    assert terms["heat"] > 1e-3


def test_data_values_of_another_dtype_are_an_error():
    loss = pl.losses.combine(obs=pl.losses.data())
    u = pl.nn.mlp(1, width=4, depth=1, key=jax.random.key(0), dtype=jnp.float32)
    batch = {"obs": (jnp.zeros((3, 1), jnp.float32), jnp.zeros(3, jnp.float64))}
    with pytest.raises(TypeError, match="obs"):
        loss(u, batch, loss.init_weights(jnp.float32), None)
