"""Levenberg–Marquardt: the damping rule, exactness, its variants, and training."""

from typing import cast

import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np
import optax
import pytest
from helpers import random_points
from jax.flatten_util import ravel_pytree

import pinnlib as pl
from pinnlib.optim._levenberg_marquardt import (
    LevenbergMarquardtState,
    levenberg_marquardt,
)

CG = lx.CG(rtol=1e-13, atol=1e-13, max_steps=400)


def _rosenbrock(p):
    """Rosenbrock as residuals: loss = 100 (y - x^2)^2 + (1 - x)^2, minimum at (1, 1)."""
    return jnp.stack([10 * (p[1] - p[0] ** 2), 1 - p[0]])


def _init(opt, params) -> LevenbergMarquardtState:
    return cast(LevenbergMarquardtState, opt.init(params))


def _update(opt, state, params, residual) -> tuple[jax.Array, LevenbergMarquardtState]:
    """One update of `opt` on `||residual||^2`, called as the training step calls it."""
    loss = lambda p: jnp.sum(residual(p) ** 2)
    update, state = opt.update(
        None,
        state,
        params,
        value=loss(params),
        value_fn=loss,
        residual_fn=residual,
        jacobian_fn=lambda p: (residual(p), jax.jacfwd(residual)(p)),
    )
    return cast(jax.Array, update), cast(LevenbergMarquardtState, state)


def test_damping_grows_after_rejections_and_shrinks_after_a_good_step():
    # Almost undamped, the Gauss-Newton step from (-1.2, 1) overshoots (the loss goes
    # from 24.2 to about 2343): rejected, lambda *= nu = 2, then 4; parameters stay.
    opt = levenberg_marquardt(damping=1e-8)
    theta = jnp.asarray([-1.2, 1.0])
    state = _init(opt, theta)
    lambdas = [float(state.damping)]
    for _ in range(2):
        update, state = _update(opt, state, theta, _rosenbrock)
        np.testing.assert_array_equal(update, 0.0)
        assert float(state.learning_rate) == 0.0 and float(state.ratio) < 0
        lambdas.append(float(state.damping))
    np.testing.assert_allclose(lambdas, [1e-8, 2e-8, 8e-8], rtol=1e-12)
    assert float(state.growth) == 8.0
    # Residuals linear in the parameters: the model is exact, rho = 1, the step is
    # taken and lambda falls by Nielsen's factor max(1/3, 1 - (2 rho - 1)^3) = 1/3.
    A = jnp.asarray([[1.0, 2.0], [0.5, -1.0], [3.0, 0.2]])
    linear = lambda p: A @ p - jnp.asarray([1.0, 2.0, -0.5])
    update, state = _update(opt, state, theta, linear)
    np.testing.assert_allclose(float(state.ratio), 1.0, rtol=1e-8)
    assert float(state.learning_rate) == 1.0 and float(state.growth) == 2.0
    np.testing.assert_allclose(float(state.damping), 8e-8 / 3, rtol=1e-8)
    expected = np.linalg.lstsq(np.asarray(A), [1.0, 2.0, -0.5], rcond=None)[0]
    np.testing.assert_allclose(theta + update, expected, rtol=1e-6)


def test_damping_stays_within_its_bounds():
    opt = levenberg_marquardt(damping=1e-3, min_damping=1e-4, max_damping=2e-3)
    theta = jnp.asarray([-1.2, 1.0])
    state = _init(opt, theta)
    for residual, bound in ((_rosenbrock, 2e-3), (lambda p: p - 1.0, 1e-4)):
        for _ in range(3):
            _, state = _update(opt, state, theta, residual)
        # Rosenbrock's step from (-1.2, 1) is rejected, the exact linear model's
        # accepted every time: lambda hits the top bound, then the bottom one.
        np.testing.assert_allclose(float(state.damping), bound, rtol=1e-12)


VARIANTS = {
    "cholesky": dict(),
    "qr": dict(solver=lx.QR()),
    "cg": dict(solver=CG),
    "marquardt": dict(scaling="marquardt"),
    "sketch": dict(residual_sketch=2, parameter_sketch=2, key=jax.random.key(3)),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_rosenbrock_converges_inside_scan(variant):
    opt = levenberg_marquardt(damping=1e-3, **VARIANTS[variant])
    theta = jnp.asarray([-1.2, 1.0])

    def body(carry, _):
        theta, state = carry
        update, state = _update(opt, state, theta, _rosenbrock)
        return (theta + update, state), state.learning_rate

    (theta, state), accepted = jax.jit(
        lambda c: jax.lax.scan(body, c, None, length=60)
    )((theta, _init(opt, theta)))
    np.testing.assert_allclose(theta, [1.0, 1.0], atol=1e-10)
    assert jnp.sum(_rosenbrock(theta) ** 2) < 1e-20
    assert 0 < int(accepted.sum()) < 60  # some steps rejected on the way


class _Features(eqx.Module):
    """u(x) = c . sin(omega x) + b: linear in its parameters."""

    c: jax.Array
    b: jax.Array
    omega: tuple = eqx.field(static=True)

    def __call__(self, x):
        return jnp.dot(self.c, jnp.sin(jnp.asarray(self.omega, x.dtype) @ x)) + self.b


def _linear_problem(n_interior, n_features):
    rng = np.random.default_rng(0)
    omega = tuple(map(tuple, (rng.normal(size=(n_features, 2)) * 3.0).tolist()))
    u = _Features(jnp.asarray(rng.normal(size=n_features)), jnp.asarray(0.3), omega)
    source = lambda x: jnp.sin(3 * x[0]) * x[1]
    loss = pl.losses.combine(
        pde=pl.losses.residual(lambda u: pl.pdes.poisson(u, source=source)),
        bc=pl.losses.dirichlet(0.5),
    )
    batch = {
        "pde": random_points(2, n_interior, [0, 0], [1, 1]),
        "bc": random_points(3, 6, [0, 0], [1, 1]),
    }
    return u, loss, batch


@pytest.mark.parametrize("n_interior,n_features", [(40, 8), (5, 24)])
@pytest.mark.parametrize("variant", ["cholesky", "qr", "cg", "full sketch"])
def test_one_step_reaches_the_least_squares_minimum_of_a_linear_model(
    n_interior, n_features, variant
):
    # With lambda = 1e-12 one step lands on the least-squares solution (the
    # minimum-norm one when underdetermined); sketches of full size change nothing.
    u, loss, batch = _linear_problem(n_interior, n_features)
    big = dict(residual_sketch=10**6, parameter_sketch=10**6, key=jax.random.key(0))
    kwargs = {**VARIANTS, "full sketch": big}[variant]
    opt = levenberg_marquardt(damping=1e-12, min_damping=1e-14, **kwargs)
    training = pl.training(loss, opt)
    state = training.init(u, key=jax.random.key(0))
    new, metrics = jax.jit(training.step)(state, batch)
    r, J = pl.losses.residual_jacobian(loss, u, batch, state.weights)
    theta, _ = ravel_pytree(eqx.filter(u, eqx.is_inexact_array))
    expected = theta - np.linalg.lstsq(np.asarray(J), np.asarray(r), rcond=None)[0]
    got, _ = ravel_pytree(eqx.filter(new.model, eqx.is_inexact_array))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    assert metrics["lr"] == 1.0


def _burgers():
    loss = pl.losses.combine(
        pde=pl.losses.residual(pl.pdes.burgers), bc=pl.losses.dirichlet(0.0)
    )
    u = pl.nn.mlp(2, width=8, depth=2, key=jax.random.key(0))
    batch = {
        "pde": random_points(4, 50, [-1, 0], [1, 1]),
        "bc": random_points(5, 10, [-1, 0], [-1, 1]),
    }
    return u, loss, batch


@pytest.mark.parametrize("n,p", [(30, 12), (12, 30)])
def test_dense_matrix_free_and_full_sketches_take_the_same_step(n, p):
    # A nonlinear least-squares problem, over- and underdetermined: the step of every
    # variant is the same vector; a smaller sketch gives another one.
    rng = np.random.default_rng(1)
    A, b = jnp.asarray(rng.normal(size=(n, p))), jnp.asarray(rng.normal(size=n))
    residual = lambda theta: jnp.tanh(A @ theta) - b
    theta = jnp.asarray(rng.normal(size=p) / np.sqrt(p))
    key = jax.random.key(2)
    variants = {
        "cholesky": {},
        "qr": {"solver": lx.QR()},
        "cg": {"solver": CG},
        "rows": {"residual_sketch": n, "key": key},
        "both": {"residual_sketch": n + 5, "parameter_sketch": p, "key": key},
        "small": {"residual_sketch": n // 2, "parameter_sketch": p // 2, "key": key},
    }
    steps = {}
    for name, kwargs in variants.items():
        opt = levenberg_marquardt(damping=1e-2, accept_ratio=0.0, **kwargs)
        step = jax.jit(lambda s, t: _update(opt, s, t, residual))
        steps[name], state = step(_init(opt, theta), theta)
        assert float(state.learning_rate) == 1.0
    assert np.linalg.norm(steps["cholesky"]) > 1e-2
    for name in ("qr", "cg", "rows", "both"):
        np.testing.assert_allclose(
            steps[name], steps["cholesky"], rtol=1e-8, atol=1e-10
        )
    assert not np.allclose(steps["small"], steps["cholesky"], rtol=1e-2)


@pytest.mark.parametrize(
    "wrap", [lambda opt: opt, lambda opt: optax.chain(optax.identity(), opt)]
)
def test_training_run_reduces_the_loss(wrap):
    u, loss, batch = _burgers()
    training = pl.training(loss, wrap(levenberg_marquardt(damping=1e-3)))
    state = training.init(u, key=jax.random.key(0))
    out = pl.run(training, state, batch, 40, args={"nu": 0.05})
    assert pl.RESULTS(int(out.result)) == pl.RESULTS.successful
    losses = np.asarray(out.metrics["loss"])
    lrs = np.asarray(out.metrics["lr"])
    assert set(lrs.tolist()) <= {0.0, 1.0} and lrs.sum() > 20
    # Never up: a rejected step leaves the parameters (and the loss) unchanged.
    assert np.all(np.diff(losses) <= 1e-15) and losses[-1] < 1e-3 * losses[0]
    found = [
        s
        for s in jax.tree.leaves(
            out.state.opt_state,
            is_leaf=lambda x: isinstance(x, LevenbergMarquardtState),
        )
        if isinstance(s, LevenbergMarquardtState)
    ]
    assert len(found) == 1 and found[0].damping.dtype == jnp.float64


def test_sketched_training_draws_a_fresh_sketch_every_step():
    u, loss, batch = _burgers()
    opt = levenberg_marquardt(
        damping=1e-3, residual_sketch=40, parameter_sketch=60, key=jax.random.key(7)
    )
    training = pl.training(loss, opt)
    state = training.init(u, key=jax.random.key(0))
    out = pl.run(training, state, batch, 40, args={"nu": 0.05})
    losses = np.asarray(out.metrics["loss"])
    assert np.all(np.diff(losses) <= 1e-15) and losses[-1] < 0.1 * losses[0]
    before, after = (jax.random.key_data(s.opt_state.key) for s in (state, out.state))
    assert not np.array_equal(np.asarray(before), np.asarray(after))


def test_bad_arguments_raise():
    bad = [
        (dict(damping=0.0), r"levenberg_marquardt\(damping=...\)"),
        (dict(damping=float("nan")), r"\(damping=...\)"),
        (dict(damping=1e-20), r"\(damping=...\).*min_damping"),
        (dict(max_damping=-1.0), r"\(max_damping=...\)"),
        (dict(accept_ratio=1.0), r"\(accept_ratio=...\)"),
        (dict(solver="cholesky"), r"\(solver=...\)"),
        (dict(jacobian="sideways"), r"\(jacobian=...\)"),
        (dict(scaling="diag"), r"\(scaling=...\)"),
        (dict(parameter_sketch=0, key=jax.random.key(0)), r"\(parameter_sketch=...\)"),
        (dict(residual_sketch=2.5, key=jax.random.key(0)), r"\(residual_sketch=...\)"),
        (dict(residual_sketch=8), r"\(key=...\)"),
        (dict(parameter_sketch=8, key=0), r"\(key=...\)"),
        (dict(solver=CG, residual_sketch=8, key=jax.random.key(0)), r"solver=lx.CG"),
        (dict(solver=CG, scaling="marquardt"), r"solver=lx.CG"),
    ]
    for kwargs, message in bad:
        with pytest.raises(ValueError, match=message):
            levenberg_marquardt(**kwargs)
    opt = optax.chain(optax.identity(), levenberg_marquardt())
    theta = jnp.zeros(2)
    with pytest.raises(TypeError, match=r"residual_fn.*pl.training"):
        opt.update(theta, opt.init(theta), theta)
