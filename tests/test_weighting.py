"""Loss-weighting strategies against hand-computed cases, inside the compiled loop."""

import equinox as eqx
import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import random_points

import pinnlib as pl

NU = 0.05


def _setup():
    loss = pl.losses.combine(
        pde=pl.losses.residual(pl.pdes.burgers), bc=pl.losses.dirichlet(0.0)
    )
    u = pl.nn.mlp(2, width=6, depth=2, key=jax.random.key(0))
    batch = {
        "pde": random_points(0, 40, [-1, 0], [1, 1]),
        "bc": random_points(1, 8, [-1, 0], [-1, 1]),
    }
    return loss, u, batch


def _context(loss, u, batch, weights, step=0, terms=None):
    if terms is None:
        terms = loss(u, batch, weights, {"nu": NU})[1]
    return pl.weighting.WeightingContext(
        loss, u, batch, {"nu": NU}, terms, weights, jnp.asarray(step, jnp.int32)
    )


def test_gradient_norm_annealing_hand_computed():
    loss, u, batch = _setup()
    weights = {"pde": jnp.asarray(1.0), "bc": jnp.asarray(2.0)}
    strategy = pl.weighting.gradient_norm_annealing(momentum=0.25)
    state = strategy.init(weights)
    new, _ = strategy.update(state, _context(loss, u, batch, weights))
    norms = {}
    for k in ("pde", "bc"):
        g = eqx.filter_grad(lambda m, k=k: loss.terms[k](m, batch[k], {"nu": NU}))(u)
        norms[k] = float(optax.tree.norm(g))
    total = norms["pde"] + norms["bc"]
    for k, w0 in (("pde", 1.0), ("bc", 2.0)):
        expected = 0.25 * w0 + 0.75 * total / norms[k]
        np.testing.assert_allclose(new[k], expected, rtol=1e-10)


def test_softadapt_hand_computed():
    loss, u, batch = _setup()
    weights = {"pde": jnp.asarray(1.0), "bc": jnp.asarray(1.0)}
    strategy = pl.weighting.softadapt(beta=2.0)
    state = strategy.init(weights)
    first = {"pde": jnp.asarray(0.5), "bc": jnp.asarray(0.2)}
    w, state = strategy.update(state, _context(loss, u, batch, weights, terms=first))
    np.testing.assert_allclose([w["pde"], w["bc"]], [1.0, 1.0])  # no change known
    second = {"pde": jnp.asarray(0.4), "bc": jnp.asarray(0.3)}
    w, _ = strategy.update(state, _context(loss, u, batch, w, terms=second))
    s = np.exp(2.0 * np.array([0.4 - 0.5, 0.3 - 0.2]))
    np.testing.assert_allclose([w["pde"], w["bc"]], 2 * s / s.sum(), rtol=1e-6)
    assert abs(float(w["pde"] + w["bc"]) - 2.0) < 1e-12


def test_relobralo_hand_computed():
    loss, u, batch = _setup()
    weights = {"pde": jnp.asarray(1.0), "bc": jnp.asarray(1.0)}
    strategy = pl.weighting.relobralo(alpha=0.9, temperature=0.5, expected_rho=1.0)
    state = strategy.init(weights)
    first = {"pde": jnp.asarray(0.5), "bc": jnp.asarray(0.2)}
    w, state = strategy.update(state, _context(loss, u, batch, weights, terms=first))
    np.testing.assert_allclose([w["pde"], w["bc"]], [1.0, 1.0], rtol=1e-12)
    second = {"pde": jnp.asarray(0.4), "bc": jnp.asarray(0.3)}
    w, _ = strategy.update(state, _context(loss, u, batch, w, terms=second))
    # rho = 1: lambda = alpha * lambda_prev + (1 - alpha) * bal(t, t-1)
    ratios = np.array([0.4 / (0.5 * 0.5), 0.3 / (0.5 * 0.2)])
    bal = 2 * np.exp(ratios) / np.exp(ratios).sum()
    np.testing.assert_allclose([w["pde"], w["bc"]], 0.9 * 1.0 + 0.1 * bal, rtol=1e-12)


def test_scheduled_and_fixed_in_the_loop():
    loss, u, batch = _setup()
    schedule = optax.linear_schedule(1.0, 11.0, transition_steps=10)
    for strategy, expected in (
        (pl.weighting.fixed(), lambda s: np.ones_like(s, float)),
        # updated at every step after the gradient step: step s uses schedule(s - 1)
        (
            pl.weighting.scheduled({"bc": schedule}),
            lambda s: np.where(s == 0, 1.0, 1.0 + (s - 1)),
        ),
    ):
        adam = optax.adam(1e-3)
        state = pl.init_state(u, adam, loss, key=jax.random.key(1), weighting=strategy)
        step = pl.make_step(loss, adam, weighting=strategy)
        result = pl.fit(step, state, batch, 6, args={"nu": NU}, progress=False)
        s = result.history["step"]
        np.testing.assert_allclose(result.history["weight:bc"], expected(s), rtol=1e-6)
        np.testing.assert_allclose(result.history["weight:pde"], 1.0)


def test_updates_every_k_steps_without_recompiling():
    loss, u, batch = _setup()
    strategy = pl.weighting.gradient_norm_annealing(momentum=0.5)
    adam = optax.adam(1e-3)
    state = pl.init_state(u, adam, loss, key=jax.random.key(1), weighting=strategy)
    step = pl.make_step(loss, adam, weighting=strategy, update_every=3)
    counted = eqx.debug.assert_max_traces(step, max_traces=2)
    first = pl.fit(
        counted, state, batch, 4, args={"nu": NU}, chunk_size=2, progress=False
    )
    result = pl.fit(
        counted,
        first.state,
        batch,
        6,
        args={"nu": NU},
        chunk_size=2,
        progress=False,
        history=first.history,
    )
    w = result.history["weight:bc"]
    # Updates after steps 0, 3, 6: the weight changes only at steps 1, 4 and 7.
    changed = np.flatnonzero(np.diff(w) != 0) + 1
    np.testing.assert_array_equal(changed, [1, 4, 7])
    assert result.state.weighting_state["bc"] == result.state.weights["bc"]


def test_normalize_and_bad_arguments():
    w = pl.weighting.normalize({"a": 1.0, "b": 3.0, "c": 4.0})
    np.testing.assert_allclose(sum(w.values()), 3.0)
    np.testing.assert_allclose(w["b"] / w["a"], 3.0)
    with pytest.raises(ValueError, match=r"gradient_norm_annealing\(momentum=...\)"):
        pl.weighting.gradient_norm_annealing(momentum=1.5)
    with pytest.raises(ValueError, match=r"softadapt\(beta=...\)"):
        pl.weighting.softadapt(beta=-1.0)
    with pytest.raises(ValueError, match=r"relobralo\(temperature=...\)"):
        pl.weighting.relobralo(temperature=0.0)
    with pytest.raises(ValueError, match=r"scheduled\(schedules=...\)"):
        pl.weighting.scheduled({"bc": 3.0})
    loss, _, _ = _setup()
    with pytest.raises(ValueError, match=r"make_step\(update_every=...\)"):
        pl.make_step(
            loss, optax.adam(1e-3), weighting=pl.weighting.fixed(), update_every=0
        )


def test_gradnorm_hand_computed_and_weights_sum_to_the_number_of_terms():
    loss, u, batch = _setup()
    weights = {"pde": jnp.asarray(1.0), "bc": jnp.asarray(1.0)}
    strategy = pl.weighting.gradnorm(alpha=1.5, optimizer=optax.sgd(0.1))
    state = strategy.init(weights)
    context = _context(loss, u, batch, weights)
    new, state = strategy.update(state, context)
    norms = pl.weighting.term_gradient_norms(context)
    n = np.array([float(norms["pde"]), float(norms["bc"])])
    # First update: L(0) = L(t), so every rate is 1 and the target is mean(w * n).
    target = np.mean(n)
    stepped = np.ones(2) - 0.1 * np.sign(n - target) * n
    expected = 2 * stepped / stepped.sum()
    np.testing.assert_allclose([new["pde"], new["bc"]], expected, rtol=1e-10)
    # In the loop: after every update the weights are positive and sum to K = 2.
    adam = optax.adam(1e-3)
    strategy = pl.weighting.gradnorm(alpha=1.5)
    state = pl.init_state(u, adam, loss, key=jax.random.key(1), weighting=strategy)
    step = pl.make_step(loss, adam, weighting=strategy, update_every=2)
    result = pl.fit(step, state, batch, 9, args={"nu": NU}, progress=False)
    total = result.history["weight:pde"] + result.history["weight:bc"]
    np.testing.assert_allclose(total, 2.0, rtol=1e-6)
    assert np.all(result.history["weight:bc"] > 0)
    assert not np.allclose(result.history["weight:bc"], 1.0)
    with pytest.raises(ValueError, match=r"gradnorm\(alpha=...\)"):
        pl.weighting.gradnorm(alpha=-1.0)


def test_ntk_weights_hand_computed():
    loss, u, batch = _setup()
    weights = {"pde": jnp.asarray(1.0), "bc": jnp.asarray(1.0)}
    strategy = pl.weighting.ntk(momentum=0.5)
    new, _ = strategy.update(strategy.init(weights), _context(loss, u, batch, weights))
    params, static = eqx.partition(u, eqx.is_inexact_array)
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    traces = {}
    for k in ("pde", "bc"):
        misfit = loss.terms[k].misfit
        J = jax.jacfwd(
            lambda f, k=k, misfit=misfit: misfit(
                eqx.combine(unravel(f), static), batch[k], {"nu": NU}
            )
        )(flat)
        traces[k] = float(jnp.sum(J**2)) / batch[k].shape[0]
    total = traces["pde"] + traces["bc"]
    for k in ("pde", "bc"):
        np.testing.assert_allclose(new[k], 0.5 + 0.5 * total / traces[k], rtol=1e-9)
