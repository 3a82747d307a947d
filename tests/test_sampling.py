"""Sampling strategies: densities, statistics, fixed-size buffers, the compiled loop."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import pinnlib as pl

LINE = pl.domains.Interval(0.0, 1.0)


def identity_residual(u):
    """A 'PDE' whose residual is the field itself: r(x) = u(x)."""
    return lambda x: u(x)


def ramp(x):
    return x[0]


def _context(model, key, points, step=1):
    return pl.sampling.SamplingContext(
        None, model, None, key, jnp.asarray(step, jnp.int32), points
    )


def _ks_statistic(samples, cdf):
    x = np.sort(np.asarray(samples))
    n = x.size
    f = cdf(x)
    return max(np.max(np.arange(1, n + 1) / n - f), np.max(f - np.arange(n) / n))


def test_residual_density_hand_computed():
    r = jnp.array([0.0, 1.0, 3.0])
    np.testing.assert_allclose(
        pl.sampling.residual_density(r, 1.0, 0.0), [0.0, 0.25, 0.75], rtol=1e-6
    )
    # k=1, c=1: mean |r| = 4/3, so |r|/mean + 1 = [1, 1.75, 3.25], total 6.
    np.testing.assert_allclose(
        pl.sampling.residual_density(r, 1.0, 1.0),
        np.array([1.0, 1.75, 3.25]) / 6,
        rtol=1e-6,
    )
    # k=2, c=0: r^2 / sum r^2 = [0, 1, 9] / 10.
    np.testing.assert_allclose(
        pl.sampling.residual_density(r, 2.0, 0.0), [0.0, 0.1, 0.9], rtol=1e-6
    )
    zeros = pl.sampling.residual_density(jnp.zeros(4), 1.0, 0.0)
    np.testing.assert_allclose(zeros, np.full(4, 0.25))


def test_choose_draws_distinct_indices_in_proportion():
    p = jnp.array([0.1, 0.0, 0.2, 0.3, 0.4])
    keys = jax.random.split(jax.random.key(0), 20_000)
    first = jax.vmap(lambda k: pl.sampling.choose(k, p, 1)[0])(keys)
    freq = np.bincount(np.asarray(first), minlength=5) / first.size
    # Binomial standard error <= sqrt(0.25 / 20000) = 0.0035; allow 4 sigma.
    np.testing.assert_allclose(freq, p, atol=0.014)
    three = jax.vmap(lambda k: pl.sampling.choose(k, p, 3))(keys[:200])
    assert all(len(set(row)) == 3 and 1 not in row for row in np.asarray(three))


def test_rad_samples_follow_the_target_density():
    # r(x) = x on [0, 1], k = 2, c = 0.5: p(x) = (x^2 / E[x^2] + c) / (1 + c)
    # = (3x^2 + 0.5) / 1.5, whose CDF is (x^3 + 0.5 x) / 1.5.
    pool = pl.domains.sampler(LINE, pde=("interior", 200_000))
    strategy = pl.sampling.rad(
        pool, num_points=2000, pde=identity_residual, k=2.0, c=0.5
    )
    points, state = strategy.init(jax.random.key(0))
    new, _ = jax.jit(
        lambda s, p: strategy.update(s, _context(ramp, jax.random.key(1), p))
    )(state, points)
    x = np.asarray(new["pde"][:, 0])
    assert new["pde"].shape == (2000, 1) and len(np.unique(x)) == 2000
    target = lambda v: (v**3 + 0.5 * v) / 1.5  # noqa: E731
    # Kolmogorov–Smirnov at the 0.1% level: D < 1.95 / sqrt(n) = 0.0436.
    assert _ks_statistic(x, target) < 1.95 / np.sqrt(2000)
    # The test has power: the uniform initial points fail it.
    assert _ks_statistic(np.asarray(points["pde"][:, 0]), target) > 1.95 / np.sqrt(2000)


def test_rar_d_keeps_the_initial_points_and_fills_its_ring_in_order():
    pool = pl.domains.sampler(LINE, pde=("interior", 5000))
    strategy = pl.sampling.rar_d(
        pool, num_points=100, num_added=30, num_initial=40, pde=identity_residual
    )
    points, cursor = strategy.init(jax.random.key(0))
    update = jax.jit(
        lambda s, p, k: strategy.update(s, _context(ramp, jax.random.key(k), p))
    )
    start = np.asarray(points["pde"])
    history = [start]
    for k in range(3):  # ring of 60 rows, 30 per update: wraps on the third
        points, cursor = update(cursor, points, k)
        history.append(np.asarray(points["pde"]))
        assert points["pde"].shape == (100, 1)
    np.testing.assert_array_equal(history[-1][:40], start[:40])
    changed = [np.flatnonzero((b != a)[:, 0]) for a, b in zip(history, history[1:])]
    np.testing.assert_array_equal(changed[0], np.arange(40, 70))
    np.testing.assert_array_equal(changed[1], np.arange(70, 100))
    np.testing.assert_array_equal(changed[2], np.arange(40, 70))
    assert int(cursor) == 30
    # k = 2, c = 0: added points have density 3x^2, mean 3/4 (uniform: 1/2).
    assert np.mean(history[-1][40:]) > 0.68


def test_time_marching_windows_grow():
    assert float(pl.sampling.window_end(0, num_windows=4, steps_per_window=10)) == 0.25
    assert float(pl.sampling.window_end(25, num_windows=4, steps_per_window=10)) == 0.75
    assert float(pl.sampling.window_end(99, num_windows=4, steps_per_window=10)) == 1.0
    domain = pl.domains.SpaceTime(pl.domains.Interval(-1.0, 1.0), 0.0, 2.0)
    draw = pl.domains.sampler(domain, pde=("interior", 4000))
    strategy = pl.sampling.time_marching(
        draw, num_windows=4, steps_per_window=10, t_range=(0.0, 2.0)
    )
    points, _ = strategy.init(jax.random.key(0))
    t0 = np.asarray(points["pde"][:, 1])
    assert t0.min() >= 0.0 and 0.49 < t0.max() <= 0.5
    later, _ = strategy.update(None, _context(ramp, jax.random.key(1), points, step=25))
    t2 = np.asarray(later["pde"][:, 1])
    assert 1.49 < t2.max() <= 1.5 and abs(t2.mean() - 0.75) < 0.03
    x = np.asarray(later["pde"][:, 0])
    assert x.min() >= -1.0 and x.max() <= 1.0  # space is untouched


def _line_problem(strategy_kind="rad"):
    """u' = f on [0, 1] with u(0) = 0: a residual term owned by a strategy."""
    u = pl.nn.mlp(1, width=8, depth=2, key=jax.random.key(0))

    def ode(u):
        return lambda x: jax.jvp(u, (x,), (jnp.ones_like(x),))[1] - jnp.cos(3 * x[0])

    loss = pl.losses.combine(pde=pl.losses.residual(ode), bc=pl.losses.dirichlet(0.0))
    pool = pl.domains.sampler(LINE, pde=("interior", 400))
    if strategy_kind == "rad":
        strategy = pl.sampling.rad(pool, num_points=50)
    else:
        strategy = pl.sampling.rar_d(pool, num_points=50, num_added=10)
    bc = {"bc": jnp.zeros((1, 1))}
    return u, loss, strategy, bc


def test_resampling_in_the_loop_without_recompiling():
    u, loss, strategy, bc = _line_problem("rad")
    adam = optax.adam(1e-2)
    state = pl.init_state(u, adam, loss, key=jax.random.key(1), sampling=strategy)
    step = pl.make_step(loss, adam, sampling=strategy, sample_every=4)
    counted = eqx.debug.assert_max_traces(step, max_traces=2)
    seen = []

    def record(model_state):
        seen.append(np.asarray(model_state.points["pde"]))

    record(state)
    for _ in range(5):  # chunks of 3 steps: updates at 4, 8, 12 fall mid-chunk
        state = pl.fit(counted, state, bc, 3, chunk_size=3, progress=False).state
        record(state)
    # Points change only in chunks holding a multiple of 4 (steps 3-5, 6-8, 12-14).
    changed = [not np.array_equal(a, b) for a, b in zip(seen, seen[1:])]
    assert changed == [False, True, True, False, True]
    assert int(state.step) == 15


def test_rar_d_run_resumes_bit_for_bit(tmp_path):
    u, loss, strategy, bc = _line_problem("rar_d")
    adam = optax.adam(1e-2)
    state = pl.init_state(u, adam, loss, key=jax.random.key(2), sampling=strategy)
    step = pl.make_step(loss, adam, sampling=strategy, sample_every=2)
    straight = pl.fit(step, state, bc, 12, chunk_size=4, progress=False)
    half = pl.fit(step, state, bc, 6, chunk_size=4, progress=False)
    path = pl.checkpoint.save(tmp_path, half.state, history=half.history)
    restored = pl.checkpoint.load(path, state)
    resumed = pl.fit(
        step,
        restored.state,
        bc,
        6,
        chunk_size=4,
        progress=False,
        history=restored.history,
    )
    a, b = (eqx.filter(s.state, eqx.is_inexact_array) for s in (straight, resumed))
    jax.tree.map(np.testing.assert_array_equal, a, b)
    assert int(resumed.state.sampling_state) == int(straight.state.sampling_state) == 0
    np.testing.assert_array_equal(straight.history["loss"], resumed.history["loss"])


def test_causal_annealing_and_rad_compose():
    # Allen–Cahn with the causal residual, gradient-norm annealing of ic vs pde, and
    # RAD owning the residual points: no special case anywhere in the step.
    domain = pl.domains.SpaceTime(pl.domains.Interval(-1.0, 1.0), 0.0, 1.0)
    u = eqx.nn.Sequential(
        [
            pl.nn.PeriodicEmbedding(2, axes=(0,), periods=(2.0,)),
            pl.nn.ModifiedMLP(3, width=8, depth=2, key=jax.random.key(0)),
        ]
    )
    loss = pl.losses.combine(
        pde=pl.losses.causal_residual(pl.pdes.allen_cahn, num_chunks=4),
        ic=pl.losses.initial(lambda p: p[0] ** 2 * jnp.cos(jnp.pi * p[0])),
    )
    pool = pl.domains.sampler(domain, pde=("interior", 256))
    sampling = pl.sampling.rad(pool, num_points=64, pde=pl.pdes.allen_cahn)
    weighting = pl.weighting.gradient_norm_annealing()
    ic = pl.domains.sampler(domain, ic=("initial", 32))
    adam = optax.adam(1e-3)
    state = pl.init_state(
        u, adam, loss, key=jax.random.key(3), weighting=weighting, sampling=sampling
    )
    step = pl.make_step(
        loss,
        adam,
        weighting=weighting,
        update_every=5,
        sampling=sampling,
        sample_every=5,
    )
    counted = eqx.debug.assert_max_traces(step, max_traces=2)
    first = pl.fit(
        counted,
        state,
        ic,
        20,
        args={"causal_tolerance": 1.0},
        resample_every=1,
        chunk_size=10,
        progress=False,
    )
    result = pl.fit(
        counted,
        first.state,
        ic,
        20,
        args={"causal_tolerance": 10.0},
        resample_every=1,
        chunk_size=10,
        progress=False,
        history=first.history,
    )
    h = result.history
    assert np.all(np.isfinite(h["loss"]))
    assert len(np.unique(h["weight:ic"])) > 3  # the weights moved
    assert not np.array_equal(result.state.points["pde"], state.points["pde"])
    assert h["loss"][-5:].mean() < h["loss"][:5].mean()


def test_bad_arguments():
    pool = pl.domains.sampler(LINE, pde=("interior", 100))
    with pytest.raises(ValueError, match=r"rad\(num_points=\.\.\.\)"):
        pl.sampling.rad(pool, num_points=101)
    with pytest.raises(ValueError, match=r"rad\(k=\.\.\.\)"):
        pl.sampling.rad(pool, num_points=10, k=-1.0)
    with pytest.raises(ValueError, match=r"rad\(candidates=\.\.\.\)"):
        pl.sampling.rad(pool, num_points=10, term="bc")
    with pytest.raises(ValueError, match=r"rar_d\(num_added=\.\.\.\)"):
        pl.sampling.rar_d(pool, num_points=20, num_added=11)
    with pytest.raises(ValueError, match=r"rar_d\(num_initial=\.\.\.\)"):
        pl.sampling.rar_d(pool, num_points=20, num_added=1, num_initial=20)
    with pytest.raises(ValueError, match=r"time_marching\(t_range=\.\.\.\)"):
        pl.sampling.time_marching(
            pool, num_windows=2, steps_per_window=1, t_range=(1.0, 0.0)
        )
    u, loss, strategy, bc = _line_problem("rad")
    adam = optax.adam(1e-2)
    with pytest.raises(ValueError, match=r"make_step\(reuse_value=True\)"):
        pl.make_step(loss, adam, sampling=strategy, reuse_value=True)
    plain = pl.init_state(u, adam, loss, key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"init_state\(sampling=\.\.\.\)"):
        pl.init_state(
            u,
            adam,
            pl.losses.combine(bc=pl.losses.dirichlet(0.0)),
            key=jax.random.key(0),
            sampling=strategy,
        )
    step = pl.make_step(loss, adam, sampling=strategy)
    with pytest.raises(ValueError, match=r"init_state\(\.\.\., sampling=strategy\)"):
        step(plain, bc)
    # A causal term keeps no per-point misfit: RAD then needs the PDE.
    causal = pl.losses.combine(pde=pl.losses.causal_residual(pl.pdes.allen_cahn))
    domain = pl.domains.SpaceTime(pl.domains.Interval(-1.0, 1.0), 0.0, 1.0)
    rad = pl.sampling.rad(
        pl.domains.sampler(domain, pde=("interior", 20)), num_points=10
    )
    net = pl.nn.mlp(2, width=4, depth=1, key=jax.random.key(0))
    state = pl.init_state(net, adam, causal, key=jax.random.key(0), sampling=rad)
    with pytest.raises(ValueError, match=r"rad\(pde=\.\.\.\)"):
        pl.make_step(causal, adam, sampling=rad, sample_every=1)(
            eqx.tree_at(lambda s: s.step, state, jnp.asarray(1, jnp.int32)), {}
        )


def test_combine_gives_each_strategy_its_own_points_key_and_state():
    domain = pl.domains.SpaceTime(pl.domains.Interval(-1.0, 1.0), 0.0, 1.0)
    pool = pl.domains.sampler(domain, pde=("interior", 500))
    rar = pl.sampling.rar_d(
        pool, num_points=40, num_added=8, pde=lambda u: lambda x: u(x)
    )
    ic_draw = pl.domains.sampler(domain, ic=("initial", 16))
    marching = pl.sampling.time_marching(
        ic_draw, num_windows=1, steps_per_window=1, term="ic"
    )
    both = pl.sampling.combine(rar, marching)
    points, states = both.init(jax.random.key(0))
    assert set(points) == {"pde", "ic"} and states[0] == 0 and states[1] is None
    model = lambda x: x[0] ** 2  # noqa: E731
    new, states = both.update(states, _context(model, jax.random.key(1), points))
    assert int(states[0]) == 8  # the RAR-D ring moved by one update
    assert not np.array_equal(new["ic"], points["ic"])
    np.testing.assert_array_equal(new["ic"][:, 1], 0.0)  # still initial points
    np.testing.assert_array_equal(new["pde"][:20], points["pde"][:20])
    with pytest.raises(ValueError, match=r"sampling.combine"):
        pl.sampling.combine(rar, rar)


def test_switch_optimizer_converts_the_strategy_points():
    u, loss, strategy, bc = _line_problem("rad")
    state = pl.init_state(
        u, optax.adam(1e-2), loss, key=jax.random.key(0), sampling=strategy
    )
    assert state.points["pde"].dtype == jnp.float64  # x64 is on in the tests
    as32 = pl.switch_optimizer(state, optax.adam(1e-2), dtype=jnp.float32)
    assert as32.points["pde"].dtype == jnp.float32
    np.testing.assert_allclose(as32.points["pde"], state.points["pde"], rtol=1e-7)
    step = pl.make_step(loss, optax.adam(1e-2), sampling=strategy, sample_every=1)
    bc32 = {"bc": bc["bc"].astype(jnp.float32)}
    result = pl.fit(step, as32, bc32, 3, progress=False)  # refreshes at steps 1, 2
    assert result.state.points["pde"].dtype == jnp.float32
