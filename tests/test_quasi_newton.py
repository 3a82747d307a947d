"""Dense self-scaled quasi-Newton methods: formulas, convergence, cost, restart."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import burgers_problem

import pinnlib as pl
from pinnlib.optim._quasi_newton import (
    QuasiNewtonState,
    quasi_newton,
    restart,
    scale_by_quasi_newton,
)
from pinnlib.optim._quasi_newton_updates import inverse_update

METHODS = ("ssbroyden", "ssbfgs", "bfgs")
NU = 0.01 / np.pi


def rosenbrock(x):
    return jnp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def quadratic(n, cond, seed=0):
    """f(x) = x.A x / 2 - c.x with eigenvalues of A spread over [1, cond]."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    A = q @ np.diag(np.geomspace(1.0, cond, n)) @ q.T
    c = rng.normal(size=n)
    return jnp.asarray(A), jnp.asarray(c)


def run_optax(opt, f, x0, num_steps):
    """`num_steps` compiled steps, the value and gradient reused from the state."""
    value_and_grad = optax.value_and_grad_from_state(f)

    def step(carry, _):
        x, state = carry
        value, grad = value_and_grad(x, state=state)
        updates, state = opt.update(grad, state, x, value=value, grad=grad, value_fn=f)
        return (optax.apply_updates(x, updates), state), (value, state)

    run = jax.jit(lambda x: jax.lax.scan(step, (x, opt.init(x)), length=num_steps))
    return run(x0)


# --------------------------------------------------------------------------- formulas


def reference_update(method, H, s, y, g_old, alpha, first):
    """The papers' update written out in numpy: explicit v, tau and phi."""
    n = s.size
    ys, Hy = y @ s, H @ y
    yHy = y @ Hy
    h, b = yHy / ys, -alpha * (s @ g_old) / ys
    a = b * h - 1
    if method == "ssbroyden":
        c = np.sqrt(a / (1 + a))
        rho_minus = min(1.0, h * (1 - c))
        theta = max((rho_minus - 1) / a, min(1 / rho_minus, (1 - b) / b))
    else:
        theta = 0.0
    sigma = 1 + a * theta
    phi = (1 - theta) / sigma
    if first:
        tau = h / sigma
    elif method == "bfgs":
        tau = 1.0
    elif method == "ssbfgs":
        tau = min(1.0, -ys / (alpha * (s @ g_old)))  # Al-Baali, as in the papers
    else:
        rho_plus, root = min(1.0, 1 / b), sigma ** (1 / (1 - n))
        tau = (
            min(rho_plus * root, sigma)
            if theta <= 0
            else rho_plus * min(root, 1 / theta)
        )
    v = np.sqrt(yHy) * (s / ys - Hy / yHy)
    H_new = (H - np.outer(Hy, Hy) / yHy + phi * np.outer(v, v)) / tau
    return H_new + np.outer(s, s) / ys, tau, phi


def test_bfgs_update_is_the_textbook_product_form():
    rng = np.random.default_rng(1)
    m = rng.normal(size=(5, 5))
    H, s = m @ m.T + np.eye(5), rng.normal(size=5)
    y = s + 0.3 * rng.normal(size=5)
    ys, u = y @ s, H @ y
    rho = 1 / ys
    left = np.eye(5) - rho * np.outer(s, y)
    textbook = left @ H @ left.T + rho * np.outer(s, s)
    one = jnp.ones(())
    args = (jnp.asarray(H), jnp.asarray(s), jnp.asarray(u), ys, y @ u, one, one)
    ours = np.asarray(inverse_update(*map(jnp.asarray, args)))
    np.testing.assert_allclose(ours, textbook, rtol=1e-12, atol=1e-12)


def check_updates(method, states, num_updates):
    """Each of the first updates in `states` (stacked by scan) against the numpy one."""
    for k in range(1, num_updates + 1):  # the update of step k: states k-1 and k
        before = jax.tree.map(lambda t, k=k: np.asarray(t[k - 1]), states)
        after = jax.tree.map(lambda t, k=k: np.asarray(t[k]), states)
        qn0, qn1 = before[0], after[0]
        s, y = qn1.prev_params - qn0.prev_params, qn1.prev_grad - qn0.prev_grad
        alpha = before[1].learning_rate  # the step length that made s
        np.testing.assert_allclose(s, alpha * qn0.direction, rtol=1e-12, atol=1e-15)
        assert qn1.num_updates == k, "every pair passes the curvature test here"
        expected, tau, phi = reference_update(
            method, qn0.inv_hessian, s, y, qn0.prev_grad, alpha, first=k == 1
        )
        H = qn1.inv_hessian
        np.testing.assert_allclose(H, expected, rtol=1e-9, atol=1e-12 * np.abs(H).max())
        np.testing.assert_allclose([qn1.tau, qn1.phi], [tau, phi], rtol=1e-10)
        np.testing.assert_allclose(H, H.T, rtol=1e-13, atol=1e-16)
        np.testing.assert_allclose(H @ y, s, rtol=1e-8, atol=1e-12 * np.abs(s).max())
        assert np.linalg.eigvalsh(H).min() > 0
        if method == "bfgs" and k > 1:
            assert tau == 1.0 and phi == 1.0
        if method == "ssbfgs":
            assert phi == 1.0


@pytest.mark.parametrize("method", METHODS)
def test_each_update_on_a_quadratic_matches_the_formula_by_hand(method):
    A, c = quadratic(4, 30.0)
    f, x0 = (lambda x: 0.5 * x @ A @ x - c @ x), jnp.zeros(4).at[0].set(2.0)
    _, (_, states) = run_optax(quasi_newton(method), f, x0, 5)
    check_updates(method, states, 4)


def exact_line_search(A):
    """The exact step on f(x) = x.A x / 2 - c.x along the given direction."""

    def update(d, state, params=None, *, grad, **extra):
        eta = -(grad @ d) / (d @ A @ d)
        return eta * d, state

    return optax.GradientTransformationExtraArgs(lambda p: optax.EmptyState(), update)


@pytest.mark.parametrize("method", METHODS)
def test_exact_line_search_on_a_quadratic_terminates_in_n_steps(method):
    n = 8
    A, c = quadratic(n, 100.0, seed=2)
    opt = optax.chain(scale_by_quasi_newton(method), exact_line_search(A))
    x, state, update = jnp.ones(n), opt.init(jnp.ones(n)), jax.jit(opt.update)
    g0 = np.linalg.norm(A @ x - c)
    for _ in range(n + 1):
        g = A @ x - c
        updates, state = update(g, state, x, grad=g)
        x = x + updates
    assert np.linalg.norm(A @ x - c) <= 1e-9 * g0
    np.testing.assert_allclose(x, np.linalg.solve(A, c), rtol=1e-8)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("n,steps", [(2, 60), (10, 150)])
def test_zoom_line_search_minimises_rosenbrock_in_scan_with_the_formulas_by_hand(
    method, n, steps
):
    x0 = jnp.where(jnp.arange(n) % 2 == 0, -1.2, 1.0)
    (x, state), (values, states) = run_optax(
        quasi_newton(method), rosenbrock, x0, steps
    )
    check_updates(method, states, 5)  # the formulas, by hand, on the first steps
    assert float(jnp.min(values)) < 1e-10
    np.testing.assert_allclose(x, np.ones(n), atol=1e-5)
    assert state[0].inv_hessian.shape == (n, n)


def _backtracking(f, x, d, g):
    """An Armijo step length along d, halving from 1."""
    alpha, fx = 1.0, f(x)
    while f(x + alpha * d) > fx + 1e-4 * alpha * (g @ d) and alpha > 1e-8:
        alpha /= 2
    return alpha


@pytest.mark.parametrize("method", METHODS)
def test_direction_from_the_rank_two_structure_is_minus_h_times_g(method):
    # The step forms H_{k+1} g_{k+1} from u = H_k g_{k+1} and the stored direction,
    # without a product with the updated H: it must be -H_{k+1} g_{k+1}, through
    # updates, a skipped update, resets and the points changing.
    n = 6
    f, grad = jax.jit(rosenbrock), jax.jit(jax.grad(rosenbrock))
    opt = scale_by_quasi_newton(method)
    update = jax.jit(opt.update)
    x = jnp.where(jnp.arange(n) % 2 == 0, -1.2, 1.0)
    state, events = opt.init(x), []
    for k in range(24):
        if k == 8:  # the line search made no progress: s = y = 0, no update
            x = state.prev_params
        if k == 12:  # back to gamma I, the stored direction now stale
            state = restart(state)
        if k == 16:  # H kept, the pair dropped (as for new points)
            state = restart(state, keep_inverse_hessian=True)
        if k == 20:  # H indefinite (its direction negated with it): a reset
            state = state._replace(
                inv_hessian=-state.inv_hessian, direction=-state.direction
            )
        g = grad(x)
        d, new = update(g, state, x)
        H, Hg = np.asarray(new.inv_hessian), np.asarray(new.inv_hessian @ g)
        np.testing.assert_allclose(d, -Hg, rtol=1e-10, atol=1e-13 * np.abs(Hg).max())
        np.testing.assert_array_equal(new.direction, d)
        assert float(g @ d) < 0
        if int(new.num_updates) == 0:
            events.append("reset")
            np.testing.assert_array_equal(H, H[0, 0] * np.eye(n))
        elif int(new.num_updates) == int(state.num_updates):
            events.append("skip")
            np.testing.assert_array_equal(H, state.inv_hessian)
        else:  # the secant equation: H_k y from the stored direction was right
            events.append("update")
            s, y = x - state.prev_params, g - state.prev_grad
            np.testing.assert_allclose(
                H @ y, s, rtol=1e-8, atol=1e-12 * np.abs(s).max()
            )
        state = new
        x = x + _backtracking(f, x, d, g) * d
    assert events[0] == "reset" and events[1] == "update"
    assert events[8] == "skip" and events[12] == "reset" and events[16] == "skip"
    assert events[20] == "reset"
    assert events.count("update") >= 16


def test_float32_parameters_keep_float32_state_and_converge():
    x0 = jnp.asarray([-1.2, 1.0], jnp.float32)
    (x, state), (values, _) = run_optax(quasi_newton("ssbroyden"), rosenbrock, x0, 60)
    assert state[0].inv_hessian.dtype == jnp.float32 and x.dtype == jnp.float32
    assert float(jnp.min(values)) < 1e-6
    assert bool(jnp.all(jnp.isfinite(state[0].inv_hessian)))


# ------------------------------------------------------------ through the train step

COUNT = {"gradients": 0}


def _tick():
    COUNT["gradients"] += 1


@jax.custom_vjp
def _counted(w):
    return w


def _counted_fwd(w):
    return w, None


def _counted_bwd(_, cotangent):
    jax.debug.callback(_tick)  # once per backward pass: one gradient evaluation
    return (cotangent,)


_counted.defvjp(_counted_fwd, _counted_bwd)


class _Linear(eqx.Module):
    """u(x) = w.x + b: a data misfit that is quadratic in (w, b)."""

    w: jax.Array
    b: jax.Array

    def __call__(self, x):
        return _counted(self.w) @ x + self.b


def _gradients_per_step(reuse_value, num_steps=8):
    """Gradient evaluations of each step on a least-squares fit (a quadratic)."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (40, 3))
    Y = X @ np.array([1.0, -2.0, 0.5]) + 0.3 + 0.1 * np.sin(5 * X[:, 0])
    batch = {"obs": (jnp.asarray(X), jnp.asarray(Y))}
    loss = pl.losses.combine(obs=pl.losses.data())
    training = pl.training(loss, quasi_newton("ssbroyden"), reuse_value=reuse_value)
    state = training.init(_Linear(jnp.zeros(3), jnp.zeros(())), key=jax.random.key(0))
    step, counts, states = jax.jit(training.step), [], [state]
    for _ in range(num_steps):
        COUNT["gradients"] = 0
        state, _ = step(state, batch)
        jax.effects_barrier()
        counts.append(COUNT["gradients"])
        states.append(state)
    return counts, states, step, batch


@pytest.fixture(scope="module")
def counted_run():
    return _gradients_per_step(reuse_value=True)


def test_one_value_and_gradient_evaluation_per_accepted_step(counted_run):
    counts, states, _, _ = counted_run
    for state in states[1:]:  # the line search accepts the unit step at once
        assert float(state.opt_state[1].learning_rate) == 1.0
        assert int(state.opt_state[1].info.num_linesearch_steps) == 1
    # The first step evaluates at the start (nothing stored yet), then the unit
    # step of the line search; every later step only the line search's trial.
    assert counts == [2] + [1] * 7
    assert _gradients_per_step(reuse_value=False, num_steps=3)[0] == [2] * 3


def test_restart_resets_the_inverse_hessian_and_the_stored_value(counted_run):
    _, states, step, batch = counted_run
    state = states[4]
    qn = state.opt_state[0]
    assert int(qn.count) == 4 and int(qn.num_updates) == 3
    fresh = restart(state.opt_state)
    assert jax.tree.structure(fresh) == jax.tree.structure(state.opt_state)
    for a, b in zip(jax.tree.leaves(fresh), jax.tree.leaves(state.opt_state)):
        assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(fresh[0].inv_hessian, np.eye(4))
    assert int(fresh[0].count) == 0 and int(fresh[0].num_updates) == 0
    assert float(fresh[1].value) == np.inf
    # On a whole training state, and inside a wrapper around the chain.
    assert float(restart(state).opt_state[1].value) == np.inf
    wrapped = optax.apply_if_finite(quasi_newton(), 3)
    inner = restart(wrapped.init(eqx.filter(state.model, eqx.is_inexact_array)))
    assert float(inner.inner_state[1].value) == np.inf
    # Keeping H drops only the stale pair and value.
    kept = restart(state.opt_state, keep_inverse_hessian=True)
    np.testing.assert_array_equal(kept[0].inv_hessian, qn.inv_hessian)
    assert int(kept[0].count) == 0 and int(kept[0].num_updates) == 3
    # The next step evaluates the loss again (two gradients) and starts from gamma I.
    COUNT["gradients"] = 0
    new, metrics = step(eqx.tree_at(lambda s: s.opt_state, state, fresh), batch)
    jax.effects_barrier()
    assert COUNT["gradients"] == 2
    # (Same points here, so the recomputed loss is the value the restart dropped.)
    np.testing.assert_allclose(metrics["loss"], state.opt_state[1].value, rtol=1e-12)
    H, g = (
        np.asarray(new.opt_state[0].inv_hessian),
        np.asarray(new.opt_state[0].prev_grad),
    )
    np.testing.assert_allclose(
        H, min(1.0, 1 / np.linalg.norm(g)) * np.eye(4), rtol=1e-14
    )
    with pytest.raises(ValueError, match=r"restart\(state=...\).*quasi_newton"):
        restart(optax.adam(1e-3).init(jnp.zeros(3)))


def _burgers(optimizer, reuse_value):
    u, loss, sampler = burgers_problem(
        width=6, depth=2, counts=(32, 8, 8), dtype=jnp.float64, seed=3
    )
    training = pl.training(loss, optimizer, reuse_value=reuse_value)
    state = training.init(u, key=jax.random.key(4))
    return training, state, pl.draw_batch(sampler, state, None)


def test_trains_a_pinn_in_float64_and_reuse_value_changes_nothing():
    runs = []
    for reuse in (True, False):
        training, state, batch = _burgers(quasi_newton("ssbroyden"), reuse)
        runs.append(pl.run(training, state, batch, 40, args={"nu": NU}))
    loss = np.asarray(runs[0].metrics["loss"])
    assert int(runs[0].result) == 0 and np.all(np.isfinite(loss))
    assert loss[-1] < 0.5 * loss[0]
    assert np.all(np.diff(loss) <= 1e-12 * loss[:-1])  # the line search only descends
    assert np.all(np.asarray(runs[0].metrics["lr"]) > 0)
    # The reused value and gradient are the recomputed ones: the same steps.
    np.testing.assert_allclose(loss[:8], runs[1].metrics["loss"][:8], rtol=1e-12)
    np.testing.assert_allclose(loss, runs[1].metrics["loss"], rtol=1e-8)


@pytest.mark.parametrize("name", ["ssbroyden", "lbfgs"])
def test_redrawn_points_invalidate_the_stored_value_and_the_curvature_pair(name):
    # With resampling every 5 steps, a step that reuses the stored loss must not
    # reuse the old points' value: the runner invalidates it at each redraw, so the
    # reused and recomputed runs take the same steps.
    u, loss, sampler = burgers_problem(
        width=6, depth=2, counts=(32, 8, 8), dtype=jnp.float64, seed=3
    )
    runs = []
    for reuse in (True, False):
        opt = quasi_newton(name) if name != "lbfgs" else optax.lbfgs()
        training = pl.training(loss, opt, reuse_value=reuse)
        state = training.init(u, key=jax.random.key(4))
        run = pl.run(training, state, sampler, 15, args={"nu": NU}, resample_every=5)
        runs.append(np.asarray(run.metrics["loss"]))
        if name == "ssbroyden":
            # count restarts at each redraw: 15 steps, redraws at 0, 5 and 10.
            assert int(run.state.opt_state[0].count) == 5
    np.testing.assert_allclose(runs[0], runs[1], rtol=1e-8)
    # The loss jumps where the points change: the runs did see new points.
    assert not np.allclose(runs[0][5], runs[0][4], rtol=1e-3)


# -------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"method": "SSBroyden"}, r"quasi_newton\(method=...\).*'ssbroyden'"),
        ({"method": "lbfgs"}, r"quasi_newton\(method=...\)"),
        ({"curvature_eps": -1.0}, r"curvature_eps=...\).*got -1.0"),
        ({"curvature_eps": float("nan")}, r"curvature_eps=...\)"),
        ({"curvature_eps": 1.0}, r"curvature_eps=...\).*\[0, 1\)"),
        ({"max_params": 0}, r"max_params=...\).*positive"),
        ({"max_params": -5}, r"max_params=...\)"),
    ],
)
def test_bad_options_raise_naming_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        quasi_newton(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [{"curvature_eps": True}, {"max_params": 1.5e4}, {"linesearch": object()}],
)
def test_options_of_the_wrong_type_raise_naming_the_argument(kwargs):
    # A TypeError from the jaxtyping checker under pytest, our ValueError without it.
    with pytest.raises((TypeError, ValueError), match=next(iter(kwargs))):
        quasi_newton(**kwargs)


def test_bad_parameters_raise_at_init():
    with pytest.raises(
        ValueError, match=r"init\(params=...\).*max_params=10.*optax.lbfgs"
    ):
        quasi_newton(max_params=10).init({"w": jnp.zeros((4, 3))})
    with pytest.raises(ValueError, match=r"floating-point"):
        quasi_newton().init(jnp.zeros(3, jnp.int32))
    opt = scale_by_quasi_newton()
    with pytest.raises(TypeError, match=r"needs `params`"):
        opt.update(jnp.ones(3), opt.init(jnp.zeros(3)))
    assert isinstance(opt.init(jnp.zeros(3)), QuasiNewtonState)
