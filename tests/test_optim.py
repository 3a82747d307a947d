"""Gauss–Newton / natural gradient, the residual Jacobian, schedules and dtypes."""

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

NU = 0.05


def _burgers_loss():
    return pl.losses.combine(
        pde=pl.losses.residual(pl.pdes.burgers),
        ic=pl.losses.initial(lambda p: -jnp.sin(jnp.pi * p[0]), velocity=0.3),
        obs=pl.losses.data(),
    )


def test_residual_jacobian_matches_jacfwd(getkey):
    loss = _burgers_loss()
    u = pl.nn.mlp(2, width=6, depth=2, key=getkey())
    x = random_points(1, 9, [-1, 0], [1, 1])
    batch = {"pde": x, "ic": x[:4], "obs": (x[:3], x[:3, 1])}
    weights = {"pde": 2.0, "ic": 0.5, "obs": 3.0}
    r, J = pl.losses.residual_jacobian(loss, u, batch, weights, {"nu": NU})
    params, static = eqx.partition(u, eqx.is_inexact_array)
    flat, unravel = ravel_pytree(params)

    def residuals(f):
        return loss.residuals(
            eqx.combine(unravel(f), static), batch, weights, {"nu": NU}
        )

    assert J.shape == (9 + 4 * 2 + 3, flat.shape[0])
    np.testing.assert_allclose(r, residuals(flat), rtol=1e-13)
    np.testing.assert_allclose(J, jax.jacfwd(residuals)(flat), rtol=1e-10, atol=1e-12)


class _Features(eqx.Module):
    """u(x) = c . phi(x) + b: linear in its parameters, so Gauss–Newton is exact."""

    c: jax.Array
    b: jax.Array
    omega: tuple = eqx.field(static=True)

    def __call__(self, x):
        return jnp.dot(self.c, jnp.sin(jnp.asarray(self.omega, x.dtype) @ x)) + self.b


def _linear_problem(n_interior, n_features):
    rng = np.random.default_rng(0)
    omega = tuple(map(tuple, (rng.normal(size=(n_features, 2)) * 3.0).tolist()))
    u = _Features(jnp.asarray(rng.normal(size=n_features)), jnp.asarray(0.3), omega)
    source = lambda x: jnp.sin(3 * x[0]) * x[1]  # noqa: E731
    loss = pl.losses.combine(
        pde=pl.losses.residual(lambda u: pl.pdes.poisson(u, source=source)),
        bc=pl.losses.dirichlet(lambda x: x[0] ** 2),
    )
    batch = {
        "pde": random_points(2, n_interior, [0, 0], [1, 1]),
        "bc": random_points(3, 6, [0, 0], [1, 1]),
    }
    return u, loss, batch


@pytest.mark.parametrize("n_interior,n_features", [(40, 8), (5, 24)])
@pytest.mark.parametrize(
    "solver,jacobian",
    [
        (lx.Cholesky(), "per_point"),
        (lx.Cholesky(), "forward"),
        (lx.LU(), "reverse"),
        (lx.QR(), "per_point"),
        (lx.CG(rtol=1e-13, atol=1e-13, max_steps=400), "per_point"),
    ],
)
def test_gauss_newton_reaches_the_least_squares_minimum_of_a_linear_model(
    n_interior, n_features, solver, jacobian
):
    # Residuals linear in the parameters: one undamped Gauss–Newton step with step
    # length 1 lands on the least-squares solution (the minimum-norm step when the
    # system is underdetermined, n_interior + 6 < n_features + 1).
    u, loss, batch = _linear_problem(n_interior, n_features)
    opt = pl.optim.gauss_newton(damping=1e-12, solver=solver, jacobian=jacobian)
    state = pl.init_state(u, opt, loss, key=jax.random.key(0))
    new, metrics = eqx.filter_jit(pl.make_step(loss, opt))(state, batch)
    r, J = pl.losses.residual_jacobian(loss, u, batch, state.weights)
    theta, _ = ravel_pytree(eqx.filter(u, eqx.is_inexact_array))
    expected = theta - np.linalg.lstsq(np.asarray(J), np.asarray(r), rcond=None)[0]
    got, _ = ravel_pytree(eqx.filter(new.model, eqx.is_inexact_array))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    assert metrics["lr"] == 1.0
    after, _ = loss(new.model, batch, state.weights)
    overdetermined = n_interior + 6 > n_features + 1
    assert after < 1e-3 * metrics["loss"] if overdetermined else after < 1e-14


def test_gauss_newton_line_search_never_increases_the_loss(getkey):
    loss = pl.losses.combine(
        pde=pl.losses.residual(pl.pdes.burgers), bc=pl.losses.dirichlet(0.0)
    )
    u = pl.nn.mlp(2, width=8, depth=2, key=getkey())
    batch = {
        "pde": random_points(4, 60, [-1, 0], [1, 1]),
        "bc": random_points(5, 10, [-1, 0], [-1, 1]),
    }
    sizes = (1.0, 0.25, 0.0625)
    opt = pl.optim.gauss_newton(damping=1e-6, step_sizes=sizes)
    state = pl.init_state(u, opt, loss, key=getkey())
    state, metrics = pl.run_steps(
        pl.make_step(loss, opt), state, batch, 8, args={"nu": NU}
    )
    losses = np.asarray(metrics["loss"])
    assert np.all(np.diff(losses) <= 0) and losses[-1] < 0.5 * losses[0]
    assert set(np.asarray(metrics["lr"]).tolist()) <= {0.0, *sizes}


def test_gauss_newton_bad_arguments():
    with pytest.raises(ValueError, match=r"gauss_newton\(damping=...\)"):
        pl.optim.gauss_newton(damping=-1.0)
    with pytest.raises(ValueError, match=r"gauss_newton\(step_sizes=...\)"):
        pl.optim.gauss_newton(step_sizes=[])
    with pytest.raises(ValueError, match=r"gauss_newton\(jacobian=...\)"):
        pl.optim.gauss_newton(jacobian="sideways")
    with pytest.raises(ValueError, match=r"gauss_newton\(solver=...\)"):
        pl.optim.gauss_newton(solver="cholesky")
    # A loss term without a least-squares form cannot be used.
    loss = pl.losses.combine(pde=lambda model, points, args: jnp.mean(points))
    opt = pl.optim.gauss_newton()
    state = pl.init_state(
        pl.nn.mlp(1, width=2, depth=1, key=jax.random.key(0)),
        opt,
        loss,
        key=jax.random.key(1),
    )
    with pytest.raises(ValueError, match=r"least_squares"):
        pl.make_step(loss, opt)(state, {"pde": jnp.zeros((3, 1))})
    # Called by hand without the residuals: a clear error, not a crash.
    chained = optax.chain(optax.clip_by_global_norm(1.0), opt)
    params = eqx.filter(state.model, eqx.is_inexact_array)
    with pytest.raises(TypeError, match=r"residual_fn.*pl.training"):
        chained.update(params, chained.init(params), params)


def _adam_problem(optimizer, dtype=jnp.float64):
    loss = pl.losses.combine(
        pde=pl.losses.residual(pl.pdes.burgers), bc=pl.losses.dirichlet(0.0)
    )
    u = pl.nn.mlp(2, width=8, depth=2, key=jax.random.key(0), dtype=dtype)
    batch = {
        "pde": random_points(6, 32, [-1, 0], [1, 1], dtype),
        "bc": random_points(7, 8, [-1, 0], [-1, 1], dtype),
    }
    state = pl.init_state(u, optimizer, loss, key=jax.random.key(1))
    return loss, batch, state


def _update_norms(optimizer, steps):
    loss, batch, state = _adam_problem(optimizer)
    step = eqx.filter_jit(pl.make_step(loss, optimizer))
    norms, lrs = [], []
    for _ in range(steps):
        new, metrics = step(state, batch, {"nu": NU})
        before, after = (
            eqx.filter(s.model, eqx.is_inexact_array) for s in (state, new)
        )
        norms.append(float(optax.tree.norm(jax.tree.map(jnp.subtract, after, before))))
        lrs.append(float(metrics.get("lr", np.nan)))
        state = new
    return np.asarray(norms), np.asarray(lrs)


def test_schedule_changes_the_update_size_and_is_recorded():
    schedule = optax.exponential_decay(1e-2, transition_steps=1, decay_rate=0.5)
    constant, _ = _update_norms(optax.adam(1e-2), 4)
    decayed, lrs = _update_norms(
        optax.inject_hyperparams(optax.adam)(learning_rate=schedule), 4
    )
    # Same gradients at step 0; afterwards the trajectories differ, but Adam's
    # normalised step is O(lr), so the schedule must shrink the update about 2x a step.
    np.testing.assert_allclose(decayed[0], constant[0], rtol=1e-6)
    assert np.all(decayed[1:] / decayed[:-1] < 0.75)
    np.testing.assert_allclose(lrs, [schedule(k) for k in range(4)], rtol=1e-6)


def test_grad_norm_is_the_global_gradient_norm():
    loss, batch, state = _adam_problem(optax.adam(1e-3))
    _, metrics = pl.make_step(loss, optax.adam(1e-3))(state, batch, {"nu": NU})
    grads = eqx.filter_grad(lambda m: loss(m, batch, state.weights, {"nu": NU})[0])(
        state.model
    )
    np.testing.assert_allclose(metrics["grad_norm"], optax.tree.norm(grads), rtol=1e-12)
    assert "lr" not in metrics  # plain optax.adam(1e-3) records no rate


def test_gradient_clipping_bounds_the_update():
    clipped = optax.chain(optax.clip_by_global_norm(1e-3), optax.sgd(1.0))
    norms, _ = _update_norms(clipped, 2)
    np.testing.assert_allclose(norms, 1e-3, rtol=1e-9)


def test_switch_optimizer_to_float64_and_dtype_mismatch_errors():
    loss, batch, state = _adam_problem(optax.adam(1e-3), jnp.float32)
    lbfgs = optax.lbfgs()
    state = pl.switch_optimizer(state, lbfgs, dtype=jnp.float64)
    for leaf in jax.tree.leaves(
        eqx.filter((state.model, state.weights), eqx.is_inexact_array)
    ):
        assert leaf.dtype == jnp.float64
    batch64 = jax.tree.map(lambda a: a.astype(jnp.float64), batch)
    new, _ = pl.make_step(loss, lbfgs)(state, batch64, {"nu": NU})
    assert new.model.layers[0].weight.dtype == jnp.float64
    with pytest.raises(TypeError, match=r"points of term 'pde' are float32"):
        pl.make_step(loss, lbfgs)(state, batch, {"nu": NU})
    # Casting the model by hand but keeping a float32 Adam state is caught.
    _, _, state32 = _adam_problem(optax.adam(1e-3), jnp.float32)
    cast = lambda x: x.astype(jnp.float64) if eqx.is_inexact_array(x) else x  # noqa: E731
    state = eqx.tree_at(
        lambda s: (s.model, s.weights),
        state32,
        (jax.tree.map(cast, state32.model), jax.tree.map(cast, state32.weights)),
    )
    with pytest.raises(
        TypeError, match=r"optimizer state holds float32.*switch_optimizer"
    ):
        pl.make_step(loss, optax.adam(1e-3))(state, batch64, {"nu": NU})
    with pytest.raises(ValueError, match=r"switch_optimizer\(dtype=...\)"):
        pl.switch_optimizer(state32, lbfgs, dtype=jnp.int32)


def _phase_problem():
    domain = pl.domains.SpaceTime(pl.domains.Interval(-1.0, 1.0), 0.0, 1.0)
    loss = pl.losses.combine(
        pde=pl.losses.residual(pl.pdes.burgers),
        bc=pl.losses.dirichlet(0.0),
        ic=pl.losses.initial(lambda p: -jnp.sin(jnp.pi * p[0])),
    )

    def sampler(dtype):
        return pl.domains.sampler(
            domain,
            dtype=dtype,
            pde=("interior", 48),
            bc=("boundary", 8),
            ic=("initial", 8),
        )

    return loss, sampler


def test_phases_compile_once_each_and_continue_the_history():
    # Adam (float32, resampling) -> L-BFGS (float64) -> Gauss-Newton (float64): each
    # phase runs three chunks, the last one partial, from one compilation (the step
    # is traced twice per compilation of a chunk).
    loss, sampler = _phase_problem()
    u = pl.nn.mlp(2, width=6, depth=2, key=jax.random.key(0), dtype=jnp.float32)
    args = {"nu": NU}
    adam = optax.adam(1e-2)
    state = pl.init_state(u, adam, loss, key=jax.random.key(1))
    step = eqx.debug.assert_max_traces(pl.make_step(loss, adam), max_traces=2)
    kw = dict(args=args, chunk_size=4, progress=False)
    first = pl.fit(step, state, sampler(jnp.float32), 10, resample_every=3, **kw)
    points = pl.draw_batch(sampler(jnp.float64), first.state, None)
    history, state = first.history, first.state
    for opt in (optax.lbfgs(), pl.optim.gauss_newton(damping=1e-8)):
        state = pl.switch_optimizer(state, opt, dtype=jnp.float64)
        step = eqx.debug.assert_max_traces(pl.make_step(loss, opt), max_traces=2)
        result = pl.fit(step, state, points, 10, history=history, **kw)
        history, state = result.history, result.state
    np.testing.assert_array_equal(history["step"], np.arange(30))
    assert int(state.step) == 30
    assert np.all(np.isnan(history["lr"][:10])) and np.all(history["lr"][10:] >= 0)
    assert history["loss"][-1] < history["loss"][10]


def test_float64_end_to_end():
    loss, sampler = _phase_problem()
    draw = sampler(None)  # JAX's default float: float64 under x64
    u = pl.nn.mlp(2, width=6, depth=2, key=jax.random.key(0))
    schedule = optax.warmup_cosine_decay_schedule(0.0, 1e-2, 3, 20)
    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(schedule))
    state = pl.init_state(u, opt, loss, key=jax.random.key(1))
    result = pl.fit(
        pl.make_step(loss, opt), state, draw, 6, args={"nu": NU}, progress=False
    )
    batch = pl.draw_batch(draw, result.state, None)
    for opt in (optax.lbfgs(), pl.optim.gauss_newton()):
        state = pl.switch_optimizer(result.state, opt)
        result = pl.fit(
            pl.make_step(loss, opt),
            state,
            batch,
            3,
            args={"nu": NU},
            history=result.history,
            progress=False,
        )
        floats = [
            leaf
            for leaf in jax.tree.leaves((result.state, batch))
            if eqx.is_inexact_array(leaf)
        ]
        assert floats and all(leaf.dtype == jnp.float64 for leaf in floats)
    assert all(v.dtype == np.float64 for k, v in result.history.items() if k != "step")
    grid, reference = pl.reference.burgers_grid(nu=NU, nx=8, nt=4)
    assert grid.dtype == reference.dtype == jnp.float64
    assert pl.metrics.evaluate(result.state.model, grid).dtype == jnp.float64
