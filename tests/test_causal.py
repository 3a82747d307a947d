"""Causal weighting of time-dependent residuals."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import random_points

import pinnlib as pl


def test_causal_weights_hand_computed_and_monotone():
    w = pl.losses.causal_weights(jnp.array([1.0, 2.0, 3.0]), 0.5)
    np.testing.assert_allclose(w, [1.0, np.exp(-0.5), np.exp(-1.5)], rtol=1e-14)
    losses = jnp.asarray(np.random.default_rng(0).uniform(size=32))
    for eps in (0.0, 1.0, 100.0):
        w = pl.losses.causal_weights(losses, eps)
        assert w[0] == 1.0 and np.all(np.diff(np.asarray(w)) <= 0)


def _chunk_losses(model, points, num_chunks):
    r = jax.vmap(pl.pdes.allen_cahn(model))(points)
    chunk = np.minimum(
        (np.asarray(points[:, 1]) * num_chunks).astype(int), num_chunks - 1
    )
    return np.array(
        [np.mean(np.asarray(r)[chunk == i] ** 2) for i in range(num_chunks)]
    )


def test_causal_residual_matches_its_definition(getkey):
    u = pl.nn.mlp(2, width=8, depth=2, key=getkey())
    points = random_points(0, 400, [-1, 0], [1, 1])
    term = pl.losses.causal_residual(pl.pdes.allen_cahn, num_chunks=4, tolerance=2.0)
    losses = _chunk_losses(u, points, 4)
    weights = np.exp(-2.0 * (np.cumsum(losses) - losses))
    np.testing.assert_allclose(
        term(u, points, None), np.mean(weights * losses), rtol=1e-12
    )
    # The tolerance from args overrides the default; 0 gives the plain chunk mean.
    np.testing.assert_allclose(
        term(u, points, {"causal_tolerance": 0.0}), np.mean(losses), rtol=1e-12
    )


def test_causal_weights_are_not_differentiated(getkey):
    u = pl.nn.mlp(2, width=6, depth=2, key=getkey())
    points = random_points(1, 200, [-1, 0], [1, 1])
    term = pl.losses.causal_residual(pl.pdes.allen_cahn, num_chunks=3, tolerance=5.0)
    losses = _chunk_losses(u, points, 3)
    weights = jnp.asarray(np.exp(-5.0 * (np.cumsum(losses) - losses)))
    chunk = jnp.minimum((points[:, 1] * 3).astype(jnp.int32), 2)

    def fixed_weights(model):
        r = jax.vmap(pl.pdes.allen_cahn(model))(points)
        per_chunk = jnp.stack(
            [
                jnp.sum(jnp.where(chunk == i, r**2, 0.0)) / jnp.sum(chunk == i)
                for i in range(3)
            ]
        )
        return jnp.mean(weights * per_chunk)

    got = eqx.filter_grad(lambda m: term(m, points, None))(u)
    expected = eqx.filter_grad(fixed_weights)(u)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


def test_raising_the_tolerance_does_not_recompile():
    domain = pl.domains.SpaceTime(pl.domains.Interval(-1.0, 1.0), 0.0, 1.0)
    loss = pl.losses.combine(
        pde=pl.losses.causal_residual(pl.pdes.allen_cahn, num_chunks=8),
        ic=pl.losses.initial(lambda p: p[0] ** 2 * jnp.cos(jnp.pi * p[0])),
    )
    sampler = pl.domains.sampler(domain, pde=("interior", 64), ic=("initial", 16))
    u = pl.nn.mlp(2, width=6, depth=2, key=jax.random.key(0))
    adam = optax.adam(1e-3)
    state = pl.init_state(u, adam, loss, key=jax.random.key(1))
    step = eqx.debug.assert_max_traces(pl.make_step(loss, adam), max_traces=2)
    for eps in (1.0, 10.0, 100.0):
        state = pl.fit(
            step, state, sampler, 3, args={"causal_tolerance": eps}, progress=False
        ).state
    assert int(state.step) == 9


def test_causal_residual_bad_arguments():
    with pytest.raises(ValueError, match=r"causal_residual\(num_chunks=...\)"):
        pl.losses.causal_residual(pl.pdes.allen_cahn, num_chunks=0)
    with pytest.raises(ValueError, match=r"causal_residual\(t_range=...\)"):
        pl.losses.causal_residual(pl.pdes.allen_cahn, t_range=(1.0, 0.0))
    with pytest.raises(ValueError, match=r"causal_residual\(tolerance=...\)"):
        pl.losses.causal_residual(pl.pdes.allen_cahn, tolerance=-1.0)


def test_balanced_tolerance_by_hand():
    # u = c: the Allen–Cahn residual is 5 (c^3 - c) at every point.
    c, points = 0.5, random_points(3, 64, [-1, 0], [1, 1])
    eps = pl.losses.balanced_tolerance(
        pl.pdes.allen_cahn, lambda p: c + 0 * p[0], points, num_chunks=16, balance=3.0
    )
    np.testing.assert_allclose(eps, 3.0 / (16 * 25 * (c**3 - c) ** 2), rtol=1e-13)
    # Then the causal weight of the last chunk is exp(-3 * 15/16) (15 chunks before).
    losses = jnp.full(16, 25 * (c**3 - c) ** 2)
    np.testing.assert_allclose(
        pl.losses.causal_weights(losses, eps)[-1], np.exp(-3.0 * 15 / 16), rtol=1e-13
    )
    # A field with a zero residual gets a huge but finite tolerance; jit works.
    zero = jax.jit(
        lambda x: pl.losses.balanced_tolerance(
            pl.pdes.allen_cahn, lambda p: 0 * p[0], x
        )
    )(points)
    assert jnp.isfinite(zero) and zero > 1e300


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"balance": 0.0}, "balance"),
        ({"balance": jnp.nan}, "balance"),
        ({"num_chunks": 0}, "num_chunks"),
    ],
)
def test_balanced_tolerance_bad_arguments(kwargs, name):
    points = random_points(0, 8, [-1, 0], [1, 1])
    with pytest.raises((ValueError, TypeError), match=name):
        pl.losses.balanced_tolerance(
            pl.pdes.allen_cahn, lambda p: p[0], points, **kwargs
        )
    with pytest.raises((ValueError, TypeError), match="points"):
        pl.losses.balanced_tolerance(pl.pdes.allen_cahn, lambda p: p[0], points[0])
