import importlib
import inspect
import pkgutil

import chex
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import burgers_problem

import pinnlib as pl
from pinnlib.train import _options

NU = 0.01 / np.pi


def _problem(dtype=jnp.float64, optimizer=None, seed=0):
    u, loss, sampler = burgers_problem(
        width=8, depth=2, counts=(64, 16, 16), dtype=dtype, seed=seed
    )
    optimizer = optimizer or optax.adam(1e-2)
    state = pl.init_state(u, optimizer, loss, key=jax.random.key(seed + 1))
    return loss, sampler, pl.make_step(loss, optimizer), state


def _params(state):
    return eqx.filter(state.model, eqx.is_inexact_array)


def test_fit_reduces_loss_and_records_every_term():
    _, sampler, step, state = _problem()
    result = pl.fit(
        step, state, sampler, 300, args={"nu": NU}, chunk_size=100, progress=False
    )
    history = result.history
    weights = {"weight:pde", "weight:bc", "weight:ic"}
    assert set(history) == {"step", "loss", "grad_norm", "pde", "bc", "ic"} | weights
    assert all(v.shape == (300,) for v in history.values())
    np.testing.assert_array_equal(history["step"], np.arange(300))
    assert history["loss"][-1] < 0.3 * history["loss"][0]
    np.testing.assert_allclose(
        history["loss"], history["pde"] + history["bc"] + history["ic"], rtol=1e-12
    )
    assert int(result.state.step) == 300


def test_fit_compiles_once_across_chunks_and_calls():
    _, sampler, step, state = _problem()
    # The step is traced twice per compilation of the chunk (the step itself and
    # the output structure for the skipped-step branch); any recompilation for a
    # later chunk, the shorter last chunk or a second fit call would exceed this.
    counted = eqx.debug.assert_max_traces(step, max_traces=2)
    kwargs = dict(args={"nu": NU}, chunk_size=40, resample_every=25, progress=False)
    first = pl.fit(counted, state, sampler, 40, **kwargs)
    pl.fit(counted, first.state, sampler, 130, **kwargs)  # 4 chunks, the last partial


def test_step_jit_and_eager_agree():
    _, sampler, step, state = _problem()
    batch = pl.draw_batch(sampler, state, None)
    eager_state, eager_metrics = step(state, batch, {"nu": NU})
    jit_state, jit_metrics = eqx.filter_jit(step)(state, batch, {"nu": NU})
    chex.assert_trees_all_close(eager_metrics, jit_metrics, rtol=1e-12)
    chex.assert_trees_all_close(_params(eager_state), _params(jit_state), rtol=1e-12)


def test_run_steps_matches_fit_on_fixed_points():
    _, sampler, step, state = _problem()
    batch = pl.draw_batch(sampler, state, None)
    run_state, metrics = eqx.filter_jit(pl.run_steps)(
        step, state, batch, 30, args={"nu": NU}
    )
    result = pl.fit(step, state, batch, 30, args={"nu": NU}, progress=False)
    chex.assert_trees_all_close(_params(run_state), _params(result.state), rtol=1e-10)
    np.testing.assert_allclose(metrics["loss"], result.history["loss"], rtol=1e-10)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_resume_equals_uninterrupted(dtype, optimizer):
    opt = optax.adam(1e-2) if optimizer == "adam" else optax.lbfgs()
    _, sampler, step, state = _problem(dtype, opt)
    kwargs = dict(args={"nu": NU}, chunk_size=10, resample_every=7, progress=False)
    straight = pl.fit(step, state, sampler, 40, **kwargs)
    half = pl.fit(step, state, sampler, 20, **kwargs)
    resumed = pl.fit(step, half.state, sampler, 20, **kwargs)
    chex.assert_trees_all_equal(_params(straight.state), _params(resumed.state))
    chex.assert_trees_all_equal(
        jax.tree.leaves(straight.state.opt_state),
        jax.tree.leaves(resumed.state.opt_state),
    )
    np.testing.assert_array_equal(
        straight.history["loss"],
        np.concatenate([half.history["loss"], resumed.history["loss"]]),
    )


def test_resampling_draws_new_points_on_schedule():
    _, sampler, _, state = _problem()
    at = lambda s: eqx.tree_at(lambda st: st.step, state, jnp.asarray(s, jnp.int32))
    b0, b4, b5 = (pl.draw_batch(sampler, at(s), 5) for s in (0, 4, 5))
    chex.assert_trees_all_equal(b0, b4)
    assert not np.allclose(b0["pde"], b5["pde"])
    fixed = pl.draw_batch(sampler, at(123), None)
    chex.assert_trees_all_equal(fixed, b0)


def test_validation_and_early_stopping():
    _, sampler, step, state = _problem()
    calls = []

    def validate(state):  # gets worse after the first chunk
        calls.append(int(state.step))
        return jnp.asarray(float(len(calls)))

    result = pl.fit(
        step,
        state,
        sampler,
        100,
        args={"nu": NU},
        chunk_size=10,
        validation=pl.Validation(validate, patience=2),
        progress=False,
    )
    assert result.result == pl.RESULTS.stopped_early
    assert calls == [10, 20, 30]  # the state after each chunk
    np.testing.assert_array_equal(result.validation["step"], [10, 20, 30])
    assert int(result.best_state.step) == 10
    assert int(result.state.step) == 30
    assert result.history["loss"].shape == (30,)


def test_lbfgs_step_reduces_loss():
    lbfgs = optax.lbfgs()
    _, sampler, _, state = _problem(optimizer=optax.adam(1e-2))
    loss = pl.losses.combine(
        pde=pl.losses.residual(pl.pdes.burgers),
        bc=pl.losses.dirichlet(0.0),
        ic=pl.losses.initial(lambda p: -jnp.sin(jnp.pi * p[0])),
    )
    state = pl.switch_optimizer(state, lbfgs)
    batch = pl.draw_batch(sampler, state, None)
    result = pl.fit(
        pl.make_step(loss, lbfgs), state, batch, 50, args={"nu": NU}, progress=False
    )
    assert result.history["loss"][-1] < 0.2 * result.history["loss"][0]


def test_switch_optimizer_keeps_step_model_and_key():
    _, sampler, step, state = _problem()
    trained = pl.fit(step, state, sampler, 5, args={"nu": NU}, progress=False).state
    switched = pl.switch_optimizer(trained, optax.sgd(1e-3))
    assert int(switched.step) == 5
    chex.assert_trees_all_equal(_params(switched), _params(trained))
    assert switched.opt_state != trained.opt_state


def test_fit_bad_input_errors():
    _, sampler, step, state = _problem()
    batch = pl.draw_batch(sampler, state, None)
    with pytest.raises(ValueError, match=r"fit\(num_steps=...\)"):
        pl.fit(step, state, sampler, 0, progress=False)
    with pytest.raises(ValueError, match=r"fit\(resample_every=...\).*sampler"):
        pl.fit(step, state, batch, 10, resample_every=5, progress=False)
    with pytest.raises(ValueError, match=r"Validation\(patience=...\)"):
        pl.Validation(lambda s: 0.0, patience=0)
    with pytest.raises(ValueError, match=r"Checkpoints\(every=...\)"):
        pl.Checkpoints("runs/x", every=0)
    with pytest.raises(ValueError, match=r"Progress\(seconds=...\)"):
        pl.Progress(seconds=0.0)
    # Wrong types (which the annotations reject in this test suite) get messages too.
    with pytest.raises(ValueError, match=r"fit\(validation=...\).*resume="):
        _options.check_option("validation", {"step": []}, pl.Validation)
    with pytest.raises(ValueError, match=r"fit\(checkpoints=...\)"):
        _options.check_option("checkpoints", "runs/x", pl.Checkpoints)
    with pytest.raises(ValueError, match=r"fit\(progress=...\)"):
        _options.as_progress("yes")
    with pytest.raises(ValueError, match=r"fit\(resume=...\)"):
        pl.fit(step, state, sampler, 10, resume=3, progress=False)
    with pytest.raises(ValueError, match=r"fit\(args=...\).*finite"):
        pl.fit(step, state, sampler, 10, args={"nu": float("nan")}, progress=False)
    with pytest.raises(ValueError, match=r"make_step\(loss=...\)"):
        pl.make_step(lambda m, b, w, a: 0.0, optax.adam(1e-3))
    with pytest.raises(ValueError, match=r"init_state\(weights=...\)"):
        pl.init_state(
            state.model,
            optax.adam(1e-3),
            _problem()[0],
            key=jax.random.key(0),
            weights={"pde": 1.0},
        )


def test_mismatched_point_dtype_is_a_clear_error():
    _, sampler, step, state = _problem(dtype=jnp.float32)
    batch64 = jax.tree.map(
        lambda x: x.astype(jnp.float64), pl.draw_batch(sampler, state, None)
    )
    with pytest.raises(TypeError, match="pinnlib never casts silently"):
        pl.fit(step, state, batch64, 5, args={"nu": NU}, progress=False)


def test_no_trainer_engine_manager_or_callback_classes():
    names = []
    for info in pkgutil.walk_packages(pl.__path__, "pinnlib."):
        module = importlib.import_module(info.name)
        for name, obj in inspect.getmembers(module, inspect.isclass):
            if obj.__module__ == module.__name__:
                names.append(name)
    assert names, "expected to find pinnlib classes"
    banned = ("trainer", "engine", "manager", "callback")
    assert not [n for n in names if any(b in n.lower() for b in banned)]


def test_lbfgs_reuse_value_follows_the_same_trajectory():
    lbfgs = optax.lbfgs()
    loss, sampler, _, state = _problem(optimizer=lbfgs)
    batch = pl.draw_batch(sampler, state, None)
    runs = [
        pl.fit(
            pl.make_step(loss, lbfgs, reuse_value=reuse),
            state,
            batch,
            30,
            args={"nu": NU},
            progress=False,
        )
        for reuse in (False, True)
    ]
    for name in ("loss", "pde", "bc", "ic"):
        np.testing.assert_allclose(
            runs[0].history[name], runs[1].history[name], rtol=1e-9
        )
    chex.assert_trees_all_close(
        _params(runs[0].state), _params(runs[1].state), rtol=1e-9
    )


def test_reuse_value_needs_a_line_search_optimizer():
    loss, sampler, _, state = _problem()
    step = pl.make_step(loss, optax.adam(1e-3), reuse_value=True)
    with pytest.raises(ValueError, match=r"make_step\(reuse_value=True\)"):
        step(state, pl.draw_batch(sampler, state, None), {"nu": NU})


def test_min_rel_improvement_stops_a_stalled_run():
    _, sampler, step, state = _problem()
    values = iter([1.0, 0.5, 0.499, 0.3, 0.1])  # the third is < 1% better

    result = pl.fit(
        step,
        state,
        sampler,
        50,
        args={"nu": NU},
        chunk_size=10,
        progress=False,
        validation=pl.Validation(
            lambda s: next(values), patience=1, min_rel_improvement=0.01
        ),
    )
    assert result.result == pl.RESULTS.stopped_early
    np.testing.assert_array_equal(result.validation["value"], [1.0, 0.5, 0.499])
    assert int(result.best_state.step) == 20
    with pytest.raises(ValueError, match=r"Validation\(min_rel_improvement=...\)"):
        pl.Validation(lambda s: 0.0, min_rel_improvement=1.5)


def test_new_coefficient_values_reuse_the_compiled_chunk():
    _, sampler, step, state = _problem()
    counted = eqx.debug.assert_max_traces(step, max_traces=2)
    for nu in (0.01, 0.02):  # Python floats are passed as traced arrays
        pl.fit(counted, state, sampler, 5, args={"nu": nu}, progress=False)
