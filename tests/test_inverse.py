"""Inverse problems: a trainable coefficient is learned with the field.

The problem: the decay u' = -nu u on t in [0, 1], observed as u(t) = exp(-2 t), so
the true rate is nu = 2; every run starts from nu = 0.5. The loss is the data misfit
plus the ODE residual, as in an inverse PINN.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import pinnlib as pl
import pinnlib.checkpoint as ckpt

NU_TRUE, NU_GUESS = 2.0, 0.5


def decay(u, *, nu):
    """The residual r = u' + nu u of exponential decay, points (t,)."""
    du = pl.diff.partial(u, 0)
    return lambda x: du(x) + nu * u(x)


LOSS = pl.losses.combine(pde=pl.losses.residual(decay), data=pl.losses.data())


def _batch(dtype=jnp.float64):
    t = jnp.linspace(0.0, 1.0, 16, dtype=dtype)[:, None]
    return {"pde": t, "data": (t, jnp.exp(-NU_TRUE * t[:, 0]))}


def _state(training, *, dtype=jnp.float64, seed=0, guess=NU_GUESS):
    u = pl.nn.mlp(1, width=8, depth=2, key=jax.random.key(seed), dtype=dtype)
    nu = pl.trainable(guess, positive=True, dtype=dtype)
    return training.init(u, key=jax.random.key(seed + 1), coefficients={"nu": nu})


def _error(state):
    return abs(float(state.coefficients["nu"].value) - NU_TRUE)


@pytest.fixture(scope="module")
def adam_fit():
    """400 Adam steps in float32 from nu = 0.5: (training, start state, FitResult)."""
    adam = pl.training(LOSS, optax.adam(2e-2))
    state = _state(adam, dtype=jnp.float32)
    return adam, state, pl.fit(adam, state, _batch(jnp.float32), 400, progress=False)


def test_adam_learns_the_rate_and_records_it(adam_fit):
    _, start, result = adam_fit
    history = result.history["coef:nu"]
    assert history.shape == (400,) and np.all(np.isfinite(history))
    # Recorded before each step: the first entry is the initial guess.
    np.testing.assert_allclose(history[0], NU_GUESS, rtol=1e-6)
    assert _error(result.state) < 0.1 * _error(start)
    assert abs(history[-1] - NU_TRUE) < 0.1 * abs(NU_GUESS - NU_TRUE)


def test_lbfgs_in_float64_continues_from_adam_and_improves_the_coefficient(adam_fit):
    _, _, result = adam_fit
    lbfgs = pl.training(LOSS, optax.lbfgs(), reuse_value=True)
    state = lbfgs.switch(result.state, dtype=jnp.float64)
    nu = state.coefficients["nu"]
    assert nu.raw.dtype == jnp.float64 and nu.parametrisation == "log"
    before = result.state.coefficients["nu"]
    assert float(nu.raw) == float(before.raw)
    np.testing.assert_allclose(float(nu.value), float(before.value), rtol=1e-6)
    out = pl.fit(lbfgs, state, _batch(), 30, history=result.history, progress=False)
    assert out.history["coef:nu"].shape == (430,)
    assert _error(out.state) < 0.5 * _error(result.state)


def test_gauss_newton_moves_the_coefficient_towards_the_truth():
    # From the initial guess, in float64: the coefficient's column joins the Jacobian.
    training = pl.training(LOSS, pl.optim.gauss_newton(damping=1e-8))
    state = _state(training)
    out = pl.run(training, state, _batch(), 5)
    assert pl.RESULTS(int(out.result)) == pl.RESULTS.successful
    coef = np.asarray(out.metrics["coef:nu"])
    np.testing.assert_allclose(coef[0], NU_GUESS, rtol=1e-12)
    assert _error(out.state) < 0.5 * _error(state)
    assert float(out.metrics["loss"][-1]) < float(out.metrics["loss"][0])


def test_checkpoint_round_trip_restores_the_coefficient(adam_fit, tmp_path):
    adam, _, result = adam_fit
    path = ckpt.save(tmp_path, result.state, history=result.history)
    template = _state(adam, dtype=jnp.float32, seed=3, guess=7.0)  # other values
    loaded = ckpt.load(path, template)
    chex.assert_trees_all_equal(loaded.state.coefficients, result.state.coefficients)
    chex.assert_trees_all_equal(loaded.state.opt_state, result.state.opt_state)
    assert loaded.state.coefficients["nu"].parametrisation == "log"
    np.testing.assert_array_equal(loaded.history["coef:nu"], result.history["coef:nu"])


@pytest.mark.parametrize(
    ("kw", "value", "raw"),
    [
        (dict(), -0.3, -0.3),
        (dict(positive=True), 0.05, np.log(0.05)),
        (dict(parametrisation="log"), 4.0, np.log(4.0)),
        (dict(positive=True, parametrisation="softplus"), 0.05, np.log(np.expm1(0.05))),
        (dict(parametrisation="softplus"), 30.0, np.log(np.expm1(30.0))),
    ],
)
def test_parametrisations_start_at_the_given_value(kw, value, raw):
    c = pl.trainable(value, dtype=jnp.float64, **kw)
    np.testing.assert_allclose(float(c.raw), raw, rtol=1e-12)
    np.testing.assert_allclose(float(c.value), value, rtol=1e-12)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        (dict(value=-0.1, positive=True), r"trainable\(value=\.\.\.\)"),
        (dict(value=0.0, positive=True), r"trainable\(value=\.\.\.\)"),
        (dict(value=-1.0, parametrisation="softplus"), r"trainable\(value=\.\.\.\)"),
        (dict(value=float("nan")), r"trainable\(value=\.\.\.\)"),
        (
            dict(value=0.1, parametrisation="exp"),
            r"trainable\(parametrisation=\.\.\.\)",
        ),
        (
            dict(value=0.1, positive=True, parametrisation="identity"),
            r"trainable\(parametrisation=\.\.\.\)",
        ),
    ],
)
def test_bad_trainable_input_raises_naming_the_argument(kw, match):
    with pytest.raises(ValueError, match=match):
        pl.trainable(**kw)


def test_a_trained_coefficient_given_in_args_too_raises(adam_fit):
    adam, state, _ = adam_fit
    with pytest.raises(ValueError, match="args"):
        adam.step(state, _batch(), {"nu": 1.0})
