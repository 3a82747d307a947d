"""pinnlib.optim.averaged: the moving average of the iterates, in the optimizer state."""

import chex
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import burgers_problem

import pinnlib as pl
import pinnlib.checkpoint as ckpt

NU = 0.01 / np.pi


def test_average_follows_the_recursion_by_hand():
    # SGD with lr 0.5 on fixed gradients: theta_1 = 1 - 0.5 g1, theta_2 = theta_1 - 0.5 g2.
    opt = pl.optim.averaged(optax.sgd(0.5), decay=0.75)
    params = {"a": jnp.array([1.0, 2.0])}
    state = opt.init(params)
    np.testing.assert_array_equal(state.average["a"], params["a"])
    average = np.array([1.0, 2.0])
    for g in ([2.0, -2.0], [4.0, 0.0]):
        updates, state = opt.update({"a": jnp.array(g)}, state, params)
        params = optax.apply_updates(params, updates)
        average = 0.75 * average + 0.25 * np.asarray(params["a"])
        np.testing.assert_allclose(state.average["a"], average, rtol=1e-15)
    # theta_1 = (0, 3), theta_2 = (-2, 3); average = .75 (.75 (1, 2) + .25 theta_1)
    # + .25 theta_2.
    np.testing.assert_allclose(average, [0.0625, 2.4375])


def _fit(optimizer, steps):
    u, loss, sampler = burgers_problem(width=8, depth=2, dtype=jnp.float64, seed=0)
    state = pl.init_state(u, optimizer, loss, key=jax.random.key(1))
    step = pl.make_step(loss, optimizer)
    result = pl.fit(
        step, state, sampler, steps, args={"nu": NU}, chunk_size=4, progress=False
    )
    return result.state


@pytest.mark.xla_defaults
def test_training_is_unchanged_and_the_average_is_a_model():
    adam = optax.inject_hyperparams(optax.adam)(learning_rate=1e-2)
    plain = _fit(adam, 8)
    wrapped = _fit(pl.optim.averaged(adam, decay=0.5), 8)
    chex.assert_trees_all_equal(
        eqx.filter(wrapped.model, eqx.is_array), eqx.filter(plain.model, eqx.is_array)
    )
    mean = pl.optim.averaged_model(wrapped)
    assert jax.tree.structure(mean) == jax.tree.structure(wrapped.model)
    x = jnp.array([0.3, 0.2])
    assert jnp.isfinite(mean(x)) and mean(x) != wrapped.model(x)
    # With decay 0 the average is the last iterate.
    last = _fit(pl.optim.averaged(adam, decay=0.0), 8)
    chex.assert_trees_all_equal(
        eqx.filter(pl.optim.averaged_model(last), eqx.is_array),
        eqx.filter(last.model, eqx.is_array),
    )


def test_average_is_checkpointed_and_resumes_bit_for_bit(tmp_path):
    opt = pl.optim.averaged(optax.adam(1e-2), decay=0.9)
    whole = _fit(opt, 8)
    u, loss, sampler = burgers_problem(width=8, depth=2, dtype=jnp.float64, seed=0)
    step = pl.make_step(loss, opt)
    half = pl.fit(
        step,
        pl.init_state(u, opt, loss, key=jax.random.key(1)),
        sampler,
        4,
        args={"nu": NU},
        chunk_size=4,
        progress=False,
    ).state
    ckpt.save(tmp_path, half)
    loaded = ckpt.load(tmp_path, half).state
    resumed = pl.fit(
        step, loaded, sampler, 4, args={"nu": NU}, chunk_size=4, progress=False
    ).state
    chex.assert_trees_all_equal(
        eqx.filter(pl.optim.averaged_model(resumed), eqx.is_array),
        eqx.filter(pl.optim.averaged_model(whole), eqx.is_array),
    )


@pytest.mark.parametrize("decay", [1.0, -0.1, "0.9", jnp.array(0.9)])
def test_bad_decay_is_named(decay):
    with pytest.raises((ValueError, TypeError), match="decay"):
        pl.optim.averaged(optax.adam(1e-3), decay=decay)


def test_errors_without_params_or_without_an_average():
    opt = pl.optim.averaged(optax.sgd(0.1))
    params = {"a": jnp.ones(2)}
    with pytest.raises(ValueError, match="params"):
        opt.update({"a": jnp.ones(2)}, opt.init(params))
    u, loss, _ = burgers_problem(width=4, depth=1, dtype=jnp.float64, seed=0)
    state = pl.init_state(u, optax.adam(1e-3), loss, key=jax.random.key(0))
    with pytest.raises(ValueError, match="averaged"):
        pl.optim.averaged_model(state)
