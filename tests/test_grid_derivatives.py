"""Grid derivatives (spectral, finite differences) and the operator residual term."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import pinnlib as pl


def test_spectral_derivative_is_exact_for_trigonometric_polynomials():
    x = jnp.arange(32) / 32 * 2.0  # period 2
    u = jnp.sin(jnp.pi * x) + 0.5 * jnp.cos(3 * jnp.pi * x)
    du = jnp.pi * jnp.cos(jnp.pi * x) - 1.5 * jnp.pi * jnp.sin(3 * jnp.pi * x)
    d2u = -(jnp.pi**2) * jnp.sin(jnp.pi * x) - 4.5 * jnp.pi**2 * jnp.cos(3 * jnp.pi * x)
    grid = jnp.stack([u, 2 * u])  # along the last axis of a 2-d array
    first = pl.diff.spectral_derivative(grid, length=2.0)
    np.testing.assert_allclose(first, jnp.stack([du, 2 * du]), atol=1e-11)
    second = pl.diff.spectral_derivative(grid.T, axis=0, order=2, length=2.0)
    np.testing.assert_allclose(second, jnp.stack([d2u, 2 * d2u]).T, atol=1e-9)


@pytest.mark.parametrize("accuracy", [2, 4])
def test_finite_difference_converges_at_its_order(accuracy):
    errors = []
    for n in (16, 32, 64):
        t = jnp.linspace(0.0, 1.0, n + 1)
        values = jnp.stack([jnp.sin(3 * t), jnp.exp(t)], axis=1)  # along axis 0
        exact = jnp.stack([3 * jnp.cos(3 * t), jnp.exp(t)], axis=1)
        d = pl.diff.finite_difference(values, spacing=1 / n, axis=0, accuracy=accuracy)
        errors.append(float(jnp.max(jnp.abs(d - exact))))
    rates = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(rates > accuracy - 0.3), (errors, rates)
    # exact on polynomials of its degree
    t = jnp.linspace(0.0, 1.0, 9)
    d = pl.diff.finite_difference(t**accuracy, spacing=1 / 8, accuracy=accuracy)
    np.testing.assert_allclose(d, accuracy * t ** (accuracy - 1), atol=1e-12)


def test_finite_difference_explains_bad_input():
    with pytest.raises(ValueError, match="2 or 4"):
        pl.diff.finite_difference(jnp.ones(8), spacing=0.1, accuracy=3)
    with pytest.raises(ValueError, match="at least 5 points"):
        pl.diff.finite_difference(jnp.ones(4), spacing=0.1, accuracy=4)


def _heat(u, a, *, kappa):
    """u[t, x] on t = linspace(0, 0.1, 41), x periodic on [0, 1)."""
    u_t = pl.diff.finite_difference(u, spacing=0.1 / 40, axis=0, accuracy=4)
    return u_t - kappa * pl.diff.spectral_derivative(u, axis=1, order=2)


def test_operator_residual_vanishes_on_exact_solutions_and_reads_its_args():
    t = jnp.linspace(0.0, 0.1, 41)[:, None]
    x = jnp.arange(32)[None, :] / 32
    kappa = 0.05

    def exact(a):  # a: amplitudes of modes 1 and 2 -> the heat solution u[t, x]
        decay = lambda k: jnp.exp(-kappa * (2 * jnp.pi * k) ** 2 * t)
        return a[0] * decay(1) * jnp.sin(2 * jnp.pi * x) + a[1] * decay(2) * jnp.cos(
            4 * jnp.pi * x
        )

    amplitudes = jax.random.normal(jax.random.key(0), (3, 2))
    term = pl.losses.operator_residual(_heat)
    assert term.accepts == frozenset({"kappa"})
    assert term(exact, amplitudes, {"kappa": kappa}) < 1e-8
    assert term(exact, amplitudes, {"kappa": 2 * kappa}) > 1e-2
    loss = pl.losses.combine(physics=term)
    with pytest.raises(ValueError, match="no loss term accepts"):
        loss(exact, {"physics": amplitudes}, loss.init_weights(), {"nu": 1.0})
