"""The non-finite guard of `fit`, its result codes, and continuing a history."""

import functools

import chex
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import burgers_problem

import pinnlib as pl
from pinnlib.train._history import check_history

NU = 0.01 / np.pi
# The failing steps come in through `args` (traced), so one compiled chunk serves
# every test that uses the same step function: NaN at steps nan_from <= s < nan_to.
CLEAN = {"nu": NU, "nan_from": 10**6, "nan_to": 10**6}
NAN_AT_7 = {"nu": NU, "nan_from": 7, "nan_to": 8}


@functools.cache
def _problem(optimizer=None):
    u, loss, sampler = burgers_problem(width=6, depth=1, counts=(16, 4, 4))
    optimizer = optimizer or optax.adam(1e-2)
    state = pl.init_state(u, optimizer, loss, key=jax.random.key(1))
    return loss, sampler, pl.make_step(loss, optimizer), state


def _split(args):
    args = dict(args)
    first, last = args.pop("nan_from"), args.pop("nan_to")
    return args, lambda state: (state.step >= first) & (state.step < last)


def _nan_where(bad, tree):
    return jax.tree.map(
        lambda a: jnp.where(bad, jnp.nan, a) if eqx.is_inexact_array(a) else a, tree
    )


def _nan_loss_step(base):
    """The "pde" term and the whole new state become NaN at the failing steps."""

    def step(state, batch, args):
        args, failing = _split(args)
        bad = failing(state)
        new, metrics = base(state, batch, args)
        metrics = {**metrics, "pde": jnp.where(bad, jnp.nan, metrics["pde"])}
        return _nan_where(bad, new), metrics

    return step


def _nan_params_step(base):
    """Only the new model becomes NaN at the failing steps; the loss stays finite."""

    def step(state, batch, args):
        args, failing = _split(args)
        new, metrics = base(state, batch, args)
        model = _nan_where(failing(state), new.model)
        return eqx.tree_at(lambda s: s.model, new, model), metrics

    return step


def _nan_weight_step(base):
    """A NaN "pde" weight at the failing steps: a NaN loss and NaN gradients."""

    def step(state, batch, args):
        args, failing = _split(args)
        weights = dict(state.weights)
        weights["pde"] = jnp.where(failing(state), jnp.nan, weights["pde"])
        new, metrics = base(
            eqx.tree_at(lambda s: s.weights, state, weights), batch, args
        )
        return eqx.tree_at(lambda s: s.weights, new, state.weights), metrics

    return step


@functools.cache
def _nan_loss():
    return _nan_loss_step(_problem()[2])


def _fit(step, state, num_steps, args, **kwargs):
    sampler = _problem()[1]
    kwargs = {"chunk_size": 5, "progress": False, **kwargs}
    return pl.fit(step, state, sampler, num_steps, args=args, **kwargs)


@pytest.mark.xla_defaults
def test_nan_loss_keeps_the_last_finite_state():
    loss, sampler, base, state = _problem()
    result = _fit(_nan_loss(), state, 20, NAN_AT_7, throw=False)
    clean = pl.fit(
        base, state, sampler, 7, args={"nu": NU}, chunk_size=5, progress=False
    )
    assert result.result == pl.RESULTS.nonfinite_loss
    assert result.failed_step == 7
    assert not result.stopped_early
    assert int(result.state.step) == 7
    chex.assert_trees_all_equal(
        eqx.filter(result.state, eqx.is_array), eqx.filter(clean.state, eqx.is_array)
    )
    np.testing.assert_array_equal(result.history["step"], np.arange(7))
    chex.assert_trees_all_equal(result.history, clean.history)


def test_nan_loss_raises_with_the_step_and_term():
    state = _problem()[3]
    with pytest.raises(pl.NonFiniteError) as info:
        _fit(_nan_loss(), state, 20, NAN_AT_7)
    message = str(info.value)
    assert "step 7" in message
    assert "'pde' = nan" in message
    assert "throw=False" in message
    assert "'bc'" not in message  # the finite terms are not listed
    assert info.value.result.result == pl.RESULTS.nonfinite_loss
    assert int(info.value.result.state.step) == 7
    assert info.value.result.history["loss"].shape == (7,)


def test_nonfinite_update_when_only_the_parameters_break():
    state = _problem()[3]
    step = _nan_params_step(_problem()[2])
    with pytest.raises(pl.NonFiniteError, match="clip_by_global_norm") as info:
        _fit(step, state, 12, NAN_AT_7)
    assert "step 7" in str(info.value)
    result = info.value.result
    assert result.result == pl.RESULTS.nonfinite_update
    assert result.failed_step == 7
    assert int(result.state.step) == 7
    assert np.all(np.isfinite(result.history["loss"]))
    params = eqx.filter(result.state.model, eqx.is_inexact_array)
    assert all(np.all(np.isfinite(p)) for p in jax.tree.leaves(params))


@functools.cache
def _skipping():
    optimizer = optax.apply_if_finite(optax.adam(1e-2), max_consecutive_errors=2)
    loss, _, _, state = _problem()
    state = pl.switch_optimizer(state, optimizer)
    return _nan_weight_step(pl.make_step(loss, optimizer)), state


def test_apply_if_finite_skips_a_bad_step_and_goes_on():
    step, state = _skipping()
    result = _fit(step, state, 12, NAN_AT_7, throw=False)
    assert result.result == pl.RESULTS.successful
    assert result.failed_step is None
    assert int(result.state.step) == 12
    loss = result.history["loss"]
    assert np.isnan(loss[7])
    assert np.all(np.isfinite(np.delete(loss, 7)))
    params = eqx.filter(result.state.model, eqx.is_inexact_array)
    assert all(np.all(np.isfinite(p)) for p in jax.tree.leaves(params))
    assert int(optax.tree.get(result.state.opt_state, "total_notfinite")) == 1


def test_apply_if_finite_gives_up_and_the_guard_stops():
    step, state = _skipping()
    args = {**NAN_AT_7, "nan_to": 100}  # NaN from step 7 on: steps 7 and 8 skipped
    result = _fit(step, state, 20, args, throw=False)
    # The third consecutive NaN update exceeds max_consecutive_errors=2: applied.
    assert result.result == pl.RESULTS.nonfinite_loss
    assert result.failed_step == 9
    assert int(result.state.step) == 9
    assert np.all(np.isnan(result.history["loss"][7:]))
    assert result.history["loss"].shape == (9,)


def test_guard_does_not_recompile():
    state = _problem()[3]
    # Two traces per compilation of the chunk (the step and the skipped branch's
    # output structure): clean, failing and resumed runs must share one.
    counted = eqx.debug.assert_max_traces(_nan_loss_step(_problem()[2]), max_traces=2)
    clean = _fit(counted, state, 12, CLEAN, throw=False)
    failed = _fit(counted, state, 13, NAN_AT_7, throw=False)
    resumed = _fit(counted, failed.state, 5, CLEAN, throw=False)  # steps 7 to 11
    assert clean.result == resumed.result == pl.RESULTS.successful
    assert failed.result == pl.RESULTS.nonfinite_loss
    chex.assert_trees_all_equal(
        eqx.filter(clean.state, eqx.is_array), eqx.filter(resumed.state, eqx.is_array)
    )


def test_history_continues_across_optimizers():
    loss, sampler, step, state = _problem()
    adam = pl.fit(
        step, state, sampler, 10, args={"nu": NU}, chunk_size=5, progress=False
    )
    lbfgs = optax.lbfgs()
    state = pl.switch_optimizer(adam.state, lbfgs)
    batch = pl.draw_batch(sampler, state, None)
    earlier = {**adam.history, "extra": np.full(10, 1e-2)}
    del earlier["ic"]
    result = pl.fit(
        pl.make_step(loss, lbfgs),
        state,
        batch,
        5,
        args={"nu": NU},
        history=earlier,
        progress=False,
    )
    history = result.history
    assert set(adam.history) | {"extra"} <= set(history)
    assert {"step", "loss", "pde", "bc", "ic"} <= set(history)
    assert all(v.shape == (15,) for v in history.values())
    np.testing.assert_array_equal(history["step"], np.arange(15))
    assert np.issubdtype(history["step"].dtype, np.integer)
    np.testing.assert_array_equal(history["loss"][:10], adam.history["loss"])
    assert history["loss"][-1] < history["loss"][9]
    # Keys missing from one part are NaN there (float64).
    assert history["extra"].dtype == history["ic"].dtype == np.float64
    np.testing.assert_array_equal(history["extra"][:10], 1e-2)
    assert np.all(np.isnan(history["extra"][10:])) and np.all(
        np.isnan(history["ic"][:10])
    )
    assert np.all(np.isfinite(history["ic"][10:]))


@pytest.mark.parametrize(
    ("history", "match"),
    [
        ({"loss": np.zeros(3)}, '"step"'),
        ({"step": np.zeros((3, 1), int)}, "1-d arrays"),
        ({"step": np.arange(3), "loss": np.zeros(2)}, "equal length"),
        ({"step": np.zeros(3)}, "integer"),
    ],
)
def test_bad_history_is_a_clear_error(history, match):
    _, sampler, step, state = _problem()
    with pytest.raises(ValueError, match=r"fit\(history=...\).*" + match):
        pl.fit(step, state, sampler, 5, history=history, progress=False)


def test_history_must_be_a_dict():
    # fit's annotation rejects a non-dict under runtime type checking; without it,
    # the check itself gives the clear error.
    with pytest.raises(ValueError, match=r"fit\(history=...\).*a dict"):
        check_history([1, 2])


def test_result_codes_and_stopped_early_property():
    messages = {code.message for code in pl.RESULTS}
    assert len(messages) == len(pl.RESULTS) and all(messages)
    assert [int(c) for c in pl.RESULTS] == [0, 1, 2, 3, 4]
    state = _problem()[3]
    record = dict(state=state, history={}, validation={}, best_state=None)
    assert pl.FitResult(**record, result=pl.RESULTS.stopped_early).stopped_early
    assert not pl.FitResult(**record).stopped_early
    error = pl.NonFiniteError("boom", pl.FitResult(**record))
    assert isinstance(error, RuntimeError) and error.result.state is state


def test_checkpoints_every_m_steps_and_of_the_last_finite_state(tmp_path):
    loss, sampler, base, state = _problem()
    step = _nan_loss_step(base)
    kw = dict(chunk_size=2, progress=False)
    ckpts = dict(keep=None, every=4)
    a = pl.Checkpoints(tmp_path / "a", **ckpts)
    pl.fit(step, state, sampler, 10, args=CLEAN, checkpoints=a, **kw)
    saved = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert saved == ["ckpt-000000004", "ckpt-000000008", "ckpt-000000010"]
    result = pl.fit(
        step,
        state,
        sampler,
        10,
        args=NAN_AT_7,
        checkpoints=pl.Checkpoints(tmp_path / "b", **ckpts),
        throw=False,
        **kw,
    )
    last = pl.checkpoint.load(tmp_path / "b", state)
    assert int(last.state.step) == 7 and last.metadata["result"] == "nonfinite_loss"
    chex.assert_trees_all_equal(
        eqx.filter(last.state.model, eqx.is_array),
        eqx.filter(result.state.model, eqx.is_array),
    )
    np.testing.assert_array_equal(last.history["step"], np.arange(7))
