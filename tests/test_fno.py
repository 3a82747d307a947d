"""The Fourier neural operator: spectral convolution, resolution, parameters, errors."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import pinnlib as pl


def _dense_spectral_conv(conv, v):
    """The spectral convolution written out as sums over modes (numpy).

    The kept frequencies are k_j in [-m_j, m_j) on the full axes and k_d in [0, m_d)
    on the last one; each contributes c Re(Y_k e^{2 pi i k.x / n}) / N with
    Y_k = sum_i R_{i,o,k} X_{i,k}, X_k = sum_x v(x) e^{-2 pi i k.x / n}, and c = 2
    for k_d > 0 (the conjugate half of the spectrum), 1 for k_d = 0.
    """
    v = np.asarray(v, np.float64)
    weights = np.asarray(conv.weights[0]) + 1j * np.asarray(conv.weights[1])
    grid, modes = v.shape[1:], conv.modes
    points = np.stack(np.meshgrid(*(np.arange(n) for n in grid), indexing="ij"))
    frequencies = [range(-m, m) for m in modes[:-1]] + [range(modes[-1])]
    out = np.zeros((weights.shape[1], *grid))
    for position in np.ndindex(*(len(f) for f in frequencies)):
        k = np.array([f[i] for f, i in zip(frequencies, position)])
        phase = np.exp(2j * np.pi * np.tensordot(k / np.array(grid), points, 1))
        x_k = np.sum(v * np.conj(phase), axis=tuple(range(1, v.ndim)))
        index = tuple(k[:-1] % (2 * np.array(modes[:-1]))) + (k[-1],)
        y_k = weights[(slice(None), slice(None)) + index].T @ x_k
        c = 2.0 if k[-1] > 0 else 1.0
        out += c * np.real(y_k[:, None] * phase.reshape(1, -1)).reshape(out.shape)
    return out / np.prod(grid)


@pytest.mark.parametrize(
    "grid, modes", [((16,), (5,)), ((12, 10), (3, 4)), ((8, 6, 8), (2, 2, 3))]
)
@pytest.mark.parametrize("transform", ["dft", "fft"])
def test_spectral_conv_matches_a_dense_dft(grid, modes, transform):
    conv = pl.nn.SpectralConv(
        3, 2, modes, key=jax.random.key(0), dtype=jnp.float64, transform=transform
    )
    v = jax.random.normal(jax.random.key(1), (3, *grid), jnp.float64)
    np.testing.assert_allclose(conv(v), _dense_spectral_conv(conv, v), atol=1e-12)


def _band_limited(n, key, modes=4):
    """Two channels of a random trigonometric polynomial of degree < modes on [0, 1)."""
    angle = 2 * jnp.pi * jnp.outer(jnp.arange(modes), jnp.arange(n) / n)
    c = jax.random.normal(key, (2, modes, 2))
    return jnp.einsum(
        "ckj,jkx->cx",
        c,
        jnp.stack([jnp.cos(angle), jnp.sin(angle)]),
    )


def test_fno_is_resolution_independent_exactly_when_linear():
    fno = pl.nn.FNO(
        2,
        1,
        modes=6,
        width=8,
        depth=3,
        projection=8,
        activation=lambda v: v,
        coordinates=None,
        key=jax.random.key(0),
        dtype=jnp.float64,
    )
    coarse = _band_limited(32, jax.random.key(1))
    fine = _band_limited(128, jax.random.key(1))
    np.testing.assert_allclose(fno(fine)[:, ::4], fno(coarse), atol=1e-12)


def test_fno_trained_on_one_grid_predicts_on_a_finer_one():
    """Learn a ↦ a² (a nonlinear local operator) at 32 points, evaluate at 128."""
    fno = pl.nn.FNO(
        1,
        1,
        modes=8,
        width=16,
        depth=2,
        projection=32,
        coordinates=None,
        key=jax.random.key(0),
        dtype=jnp.float64,
    )
    inputs = jax.vmap(lambda k: _band_limited(32, k)[:1])(
        jax.random.split(jax.random.key(1), 64)
    )
    training = pl.training(pl.losses.combine(data=pl.losses.data()), optax.adam(3e-3))
    state = training.init(fno, key=jax.random.key(2))
    out = pl.run(training, state, {"data": (inputs, inputs**2)}, 600)
    model = out.state.model

    def error(n):
        test = jax.vmap(lambda k: _band_limited(n, k)[:1])(
            jax.random.split(jax.random.key(3), 16)
        )
        return pl.losses.relative_l2()(model, (test, test**2))

    coarse, fine = error(32), error(128)
    assert coarse < 0.1  # it learnt the operator
    assert fine < 1.5 * coarse  # and keeps it on a grid four times finer


def test_fno_shapes_padding_and_coordinates_2d():
    a = jnp.ones((1, 20, 18))
    for coordinates in ("nodes", "periodic", None):
        fno = pl.nn.FNO(
            1,
            3,
            modes=(4, 5),
            width=8,
            depth=2,
            projection=8,
            padding=0.25,
            coordinates=coordinates,
            key=jax.random.key(0),
        )
        assert jax.eval_shape(fno, a).shape == (3, 20, 18)
    padded = pl.nn.FNO(1, 1, modes=(4, 4), width=8, padding=3, key=jax.random.key(0))
    batch = jnp.ones((5, 1, 12, 12))
    assert jax.eval_shape(jax.vmap(padded), batch).shape == (5, 1, 12, 12)
    # space periodic (no padding), time padded and with its coordinate only
    spacetime = pl.nn.FNO(
        1,
        2,
        modes=(4, 3),
        width=8,
        coordinates=(None, "nodes"),
        padding=(0, 0.25),
        key=jax.random.key(0),
    )
    assert spacetime.lift.weight.shape == (8, 2)
    assert jax.eval_shape(spacetime, jnp.ones((1, 16, 9))).shape == (2, 16, 9)


def test_fno_parameters_are_real_and_their_gradient_is_right():
    fno = pl.nn.FNO(
        1,
        1,
        modes=3,
        width=4,
        depth=2,
        projection=4,
        key=jax.random.key(0),
        dtype=jnp.float64,
    )
    leaves = jax.tree.leaves(eqx.filter(fno, eqx.is_array))
    assert all(jnp.isrealobj(x) and x.dtype == jnp.float64 for x in leaves)
    a = jax.random.normal(jax.random.key(1), (1, 16), jnp.float64)

    def loss(weights):
        model = eqx.tree_at(lambda m: m.spectral[0].weights, fno, weights)
        return jnp.sum(jnp.sin(model(a)))

    w = fno.spectral[0].weights
    grad = jax.grad(loss)(w)
    direction = jax.random.normal(jax.random.key(2), w.shape, w.dtype)
    h = 1e-6
    fd = (loss(w + h * direction) - loss(w - h * direction)) / (2 * h)
    np.testing.assert_allclose(jnp.vdot(grad, direction), fd, rtol=1e-7)
    # optax updates the real and imaginary parts as two real arrays
    updates, _ = optax.adam(1e-3).update(grad, optax.adam(1e-3).init(w))
    assert updates.dtype == jnp.float64 and updates.shape == w.shape


def test_fno_bad_input_is_explained():
    fno = pl.nn.FNO(1, 1, modes=8, width=4, key=jax.random.key(0))
    with pytest.raises(ValueError, match="at least 2 \\* modes"):
        fno(jnp.ones((1, 10)))
    with pytest.raises(ValueError, match="channels first"):
        fno(jnp.ones((64,)))
    with pytest.raises(ValueError, match="modes"):
        pl.nn.FNO(1, 1, modes=(0,), key=jax.random.key(0))
    with pytest.raises(ValueError, match="padding"):
        pl.nn.FNO(1, 1, modes=4, padding=-1, key=jax.random.key(0))
    with pytest.raises(ValueError, match="coordinates"):
        pl.nn.FNO(1, 1, modes=4, coordinates="cell", key=jax.random.key(0))
    with pytest.raises(ValueError, match="a tuple of 2"):
        pl.nn.FNO(1, 1, modes=(4, 4), padding=(1, 2, 3), key=jax.random.key(0))
