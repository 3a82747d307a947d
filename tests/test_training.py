"""The training definition, the transformable runner and fit over batched states."""

import time

import chex
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import burgers_problem

import pinnlib as pl

NU = 0.01 / np.pi
F32, F64 = jnp.float32, jnp.float64


def _counting(strategy, calls):
    """`strategy` whose update records (nu, step) on the host each time it runs."""

    def update(state, context):
        record = lambda nu, step: calls.append((float(nu), int(step)))  # noqa: E731
        jax.debug.callback(record, context.args["nu"], context.step)
        return strategy.update(state, context)

    return pl.weighting.WeightingStrategy(strategy.init, update)


def _members(training, seeds, dtype=F32):
    def init(seed):
        key = jax.random.key(seed)
        u = pl.nn.mlp(2, width=8, depth=2, key=key, dtype=dtype)
        return training.init(u, key=key)

    return [init(s) for s in seeds]


def _stack(states):
    return jax.tree.map(
        lambda *xs: jnp.stack(xs) if eqx.is_array(xs[0]) else xs[0], *states
    )


def _params(state):
    return eqx.filter(state.model, eqx.is_inexact_array)


def test_vmapped_runs_update_strategies_on_schedule_and_stop_alone():
    # float64, so that "identical to the unbatched run" can be checked tightly (in
    # float32 a batched matmul may sum in another order).
    _, loss, sampler = burgers_problem(width=8, depth=2, dtype=F64)
    calls = []
    strategy = _counting(pl.weighting.gradient_norm_annealing(), calls)
    training = pl.training(loss, optax.adam(1e-2), weighting=strategy, update_every=100)
    states = _members(training, range(4), F64)
    nus = jnp.asarray([NU, NU, jnp.nan, NU], F64)  # member 2 gets a NaN coefficient
    run = eqx.filter_jit(
        eqx.filter_vmap(
            lambda s, nu: pl.run(
                training, s, sampler, 300, args={"nu": nu}, resample_every=50
            )
        )
    )
    out = run(_stack(states), nus)
    codes = [pl.RESULTS(int(c)) for c in out.result]
    assert codes == [pl.RESULTS.successful] * 2 + [
        pl.RESULTS.nonfinite_loss,
        pl.RESULTS.successful,
    ]
    np.testing.assert_array_equal(out.failed_step, [-1, -1, 0, -1])
    np.testing.assert_array_equal(out.state.step, [300, 300, 0, 300])
    # The batched update ran 3 times in 300 steps (at steps 0, 100, 200), as without
    # vmap: 12 member updates, not 1200. The stopped member took part only in the
    # first for real; later it computes alongside (SIMD) at step -1, discarded.
    assert len(calls) == 3 * 4
    finite = sorted(step for nu, step in calls if np.isfinite(nu))
    assert finite == [0, 0, 0, 100, 100, 100, 200, 200, 200]
    assert [step for nu, step in calls if np.isnan(nu)] == [0, -1, -1]
    # The failed member keeps its initial state; its metrics are NaN after step 0.
    chex.assert_trees_all_equal(
        jax.tree.map(lambda x: x[2], _params(out.state)), _params(states[2])
    )
    assert np.all(np.isnan(out.metrics["loss"][2]))
    # The others equal their unbatched runs.
    calls.clear()
    for i in (0, 1, 3):
        alone = eqx.filter_jit(pl.run)(
            training, states[i], sampler, 300, args={"nu": NU}, resample_every=50
        )
        assert int(alone.result) == 0
        chex.assert_trees_all_close(
            jax.tree.map(lambda x: x[i], _params(out.state)),
            _params(alone.state),
            rtol=1e-10,
            atol=1e-12,
        )
    assert sorted(step for _, step in calls) == [0, 0, 0, 100, 100, 100, 200, 200, 200]


@pytest.mark.xla_defaults
def test_run_equals_fit_and_compiles_once():
    _, loss, sampler = burgers_problem(width=8, depth=2, dtype=F32)
    training = pl.training(loss, optax.adam(1e-2))
    (state,) = _members(training, [0])
    run = eqx.filter_jit(chex.assert_max_traces(pl.run, n=1))
    first = run(training, state, sampler, 40, args={"nu": NU}, resample_every=10)
    again = run(training, first.state, sampler, 40, args={"nu": NU}, resample_every=10)
    result = pl.fit(
        training,
        state,
        sampler,
        80,
        args={"nu": NU},
        resample_every=10,
        chunk_size=40,
        progress=False,
    )
    chex.assert_trees_all_equal(_params(result.state), _params(again.state))
    np.testing.assert_array_equal(
        result.history["loss"],
        np.concatenate([first.metrics["loss"], again.metrics["loss"]]),
    )


def test_run_traces_python_numbers_in_args():
    _, loss, sampler = burgers_problem(width=4, depth=1, dtype=F32)
    training = pl.training(loss, optax.adam(1e-2))
    (state,) = _members(training, [0])
    traces = []

    def step(state, batch, args):
        traces.append(args["nu"])
        return training.step(state, batch, args)

    pl.run(step, state, sampler, 3, args={"nu": 0.01})
    traced = len(traces)
    out = pl.run(step, state, sampler, 3, args={"nu": 0.02})  # no new compilation
    assert len(traces) == traced and int(out.result) == 0


def test_sweeps_over_coefficients_and_learning_rates_match_single_runs():
    _, loss, sampler = burgers_problem(width=8, depth=2, dtype=F32)
    adam = optax.inject_hyperparams(optax.adam)(learning_rate=1e-2)
    training = pl.training(loss, adam)
    (state,) = _members(training, [0])
    rates = jnp.asarray([1e-3, 1e-2, 3e-2], F32)
    nus = jnp.asarray([0.01, 0.05, 0.1], F32)

    def member(lr, nu):
        s = eqx.tree_at(lambda s: s.opt_state.hyperparams["learning_rate"], state, lr)
        return pl.run(training, s, sampler, 30, args={"nu": nu})

    swept = eqx.filter_jit(eqx.filter_vmap(member))(rates, nus)
    np.testing.assert_allclose(swept.metrics["lr"][:, -1], rates)
    for i in range(3):
        alone = eqx.filter_jit(member)(rates[i], nus[i])
        chex.assert_trees_all_close(
            jax.tree.map(lambda x: x[i], _params(swept.state)),
            _params(alone.state),
            rtol=1e-5,
            atol=1e-6,
        )


def test_fit_drives_a_batched_state():
    _, loss, sampler = burgers_problem(width=8, depth=2, dtype=F32)
    training = pl.training(loss, optax.adam(1e-2))
    states = _members(training, range(3))
    records = []
    result = pl.fit(
        training,
        _stack(states),
        sampler,
        25,
        args={"nu": NU},
        chunk_size=10,
        progress=pl.Progress(bar=False, log=records.append),
    )
    assert result.result == (pl.RESULTS.successful,) * 3
    assert result.failed_step == (None,) * 3
    assert result.history["loss"].shape == (25, 3)
    np.testing.assert_array_equal(result.history["step"], np.arange(25))
    assert len(records[-1]["loss"]) == 3
    alone = pl.fit(
        training, states[1], sampler, 25, args={"nu": NU}, chunk_size=10, progress=False
    )
    np.testing.assert_allclose(
        result.history["loss"][:, 1], alone.history["loss"], rtol=1e-5
    )
    with pytest.raises(ValueError, match=r"fit\(validation=...\).*batched"):
        pl.fit(
            training,
            _stack(states),
            sampler,
            5,
            validation=pl.Validation(lambda s: 0.0),
        )


def test_fit_reports_nonfinite_members_and_keeps_the_others():
    _, loss, sampler = burgers_problem(width=8, depth=2, dtype=F32)
    training = pl.training(loss, optax.adam(1e-2))
    states = _members(training, range(2))
    bad = eqx.tree_at(lambda s: s.weights["bc"], states[1], jnp.asarray(jnp.nan, F32))
    batch = _stack([states[0], bad])
    with pytest.raises(pl.NonFiniteError, match=r"1 of 2 members.*member 1"):
        pl.fit(training, batch, sampler, 8, args={"nu": NU}, progress=False)
    result = pl.fit(
        training, batch, sampler, 8, args={"nu": NU}, progress=False, throw=False
    )
    assert result.result == (pl.RESULTS.successful, pl.RESULTS.nonfinite_loss)
    assert result.failed_step == (None, 0)
    np.testing.assert_array_equal(result.state.step, [8, 0])
    assert np.all(np.isfinite(result.history["loss"][:, 0]))
    assert np.all(np.isnan(result.history["loss"][:, 1]))


def test_training_checks_the_state_it_is_given():
    _, loss, sampler = burgers_problem(width=8, depth=2, dtype=F32)
    adam = pl.training(loss, optax.adam(1e-3))
    lbfgs = pl.training(loss, optax.lbfgs())
    (state,) = _members(adam, [0])
    batch = sampler(jax.random.key(0))
    with pytest.raises(TypeError, match=r"ScaleByAdamState.*ScaleByLBFGSState"):
        lbfgs.step(state, batch, {"nu": NU})
    moved = lbfgs.switch(state)
    assert int(moved.step) == 0
    _, metrics = lbfgs.step(moved, batch, {"nu": NU})
    assert np.isfinite(metrics["loss"])
    annealing = pl.training(
        loss, optax.adam(1e-3), weighting=pl.weighting.gradient_norm_annealing()
    )
    with pytest.raises(TypeError, match=r"weighting state"):
        annealing.step(state, batch, {"nu": NU})
    assert annealing.switch(state).weighting_state is not None
    with pytest.raises(TypeError, match=r"pl.training\(\.\.\.\) value or a step"):
        pl.run("adam", state, batch, 3)


def test_gauss_newton_inside_a_chain():
    _, loss, sampler = burgers_problem(width=6, depth=1, dtype=jnp.float64)
    chained = optax.chain(optax.clip_by_global_norm(1.0), pl.optim.gauss_newton())
    training = pl.training(loss, chained)
    (state,) = _members(training, [0], dtype=jnp.float64)
    out = pl.run(training, state, sampler(jax.random.key(0)), 5, args={"nu": 0.1})
    assert int(out.result) == 0
    assert out.metrics["loss"][-1] < 0.5 * out.metrics["loss"][0]


def test_time_limit_and_progress_every_few_seconds():
    _, loss, sampler = burgers_problem(width=4, depth=1, dtype=F32)
    inner = pl.training(loss, optax.adam(1e-2))

    def slow_step(state, batch, args):
        jax.debug.callback(lambda: time.sleep(0.01))
        return inner.step(state, batch, args)

    (state,) = _members(inner, [0])
    records = []
    result = pl.fit(
        slow_step,
        state,
        sampler,
        60,
        args={"nu": NU},
        chunk_size=1000,
        progress=pl.Progress(bar=False, log=records.append, seconds=0.1),
    )
    # One chunk of 1000 steps would report once; slow steps report every ~0.1 s.
    assert len(records) >= 4 and records[-1]["step"] == 60
    assert result.result == pl.RESULTS.successful
    limited = pl.fit(
        slow_step,
        state,
        sampler,
        10_000,
        args={"nu": NU},
        chunk_size=1000,
        progress=False,
        time_limit=0.3,
    )
    assert limited.result == pl.RESULTS.time_limit
    assert 0 < int(limited.state.step) < 10_000
    assert len(limited.history["step"]) == int(limited.state.step)


def test_a_resumed_fit_gets_back_its_best_state(tmp_path):
    _, loss, sampler = burgers_problem(width=6, depth=1, dtype=F64)
    training = pl.training(loss, optax.adam(3e-2))
    (state,) = _members(training, [0], F64)
    fixed = sampler(jax.random.key(5))
    value = eqx.filter_jit(lambda m: loss(m, fixed, state.weights, {"nu": NU})[0])
    # The negative loss: its best (lowest) is at the first validation, so the best
    # state of the resumed run lies in the first half and must come from disk.
    kw = dict(
        args={"nu": NU},
        chunk_size=4,
        validation=pl.Validation(lambda s: -float(value(s.model))),
        progress=False,
    )
    ckpts_a, ckpts_b = pl.Checkpoints(tmp_path / "a"), pl.Checkpoints(tmp_path / "b")
    straight = pl.fit(training, state, sampler, 16, checkpoints=ckpts_a, **kw)
    pl.fit(training, state, sampler, 8, checkpoints=ckpts_b, **kw)
    ckpt = pl.checkpoint.load(tmp_path / "b", state)
    resumed = pl.fit(
        training, ckpt.state, sampler, 8, checkpoints=ckpts_b, resume=ckpt, **kw
    )
    assert straight.best_state is not None and resumed.best_state is not None
    assert int(straight.best_state.step) == int(resumed.best_state.step) == 4
    chex.assert_trees_all_equal(
        _params(resumed.best_state), _params(straight.best_state)
    )
    np.testing.assert_array_equal(
        resumed.validation["value"], straight.validation["value"]
    )


def test_trainable_coefficients_take_the_models_dtype():
    loss = pl.losses.combine(
        pde=pl.losses.residual(pl.pdes.burgers), data=pl.losses.data()
    )
    training = pl.training(loss, optax.adam(1e-3))
    u = pl.nn.mlp(2, width=4, depth=1, key=jax.random.key(0), dtype=F32)
    nu = pl.trainable(0.1, positive=True, dtype=F64)  # x64 is on in the tests
    state = training.init(u, key=jax.random.key(1), coefficients={"nu": nu})
    assert state.coefficients["nu"].raw.dtype == F32
    x, y = jnp.ones((5, 2), F32), jnp.ones((5,), F32)
    _, metrics = training.step(state, {"pde": x, "data": (x, y)})
    assert metrics["loss"].dtype == F32 and metrics["coef:nu"].dtype == F32
    np.testing.assert_allclose(metrics["coef:nu"], 0.1, rtol=1e-6)


def test_strategies_take_functions_in_args():
    loss = pl.losses.combine(
        pde=pl.losses.residual(pl.pdes.poisson), bc=pl.losses.dirichlet(0.0)
    )
    training = pl.training(
        loss, optax.adam(1e-3), weighting=pl.weighting.gradient_norm_annealing()
    )
    u = pl.nn.mlp(1, width=4, depth=1, key=jax.random.key(0), dtype=F32)
    state = training.init(u, key=jax.random.key(1))
    batch = {
        "pde": jnp.linspace(0.1, 0.9, 8, dtype=F32)[:, None],
        "bc": jnp.asarray([[0.0], [1.0]], F32),
    }
    source = lambda x: jnp.sin(jnp.pi * x[0])  # noqa: E731
    out = pl.run(training, state, batch, 3, args={"source": source})
    assert int(out.result) == 0 and np.all(np.isfinite(out.metrics["loss"]))
