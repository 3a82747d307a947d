import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import pinnlib.metrics as metrics


def _field(p):
    return jnp.sin(jnp.pi * p[0]) * jnp.exp(-p[1])


def test_relative_l2_known_values():
    ref = np.ones(10)
    err = metrics.relative_l2(1.1 * ref, ref)
    assert isinstance(err, float)
    assert err == pytest.approx(0.1, rel=1e-12)
    # ||(0, 0) - (3, 4)|| / ||(3, 4)|| = 1, and a non-uniform case.
    assert metrics.relative_l2(np.zeros(2), np.array([3.0, 4.0])) == pytest.approx(1.0)
    pred, ref = np.array([3.0, 4.0, 0.0]), np.array([3.0, 0.0, 0.0])
    assert metrics.relative_l2(pred, ref) == pytest.approx(4.0 / 3.0)


def test_relative_l2_jax_and_float32_inputs():
    ref = jnp.linspace(1.0, 2.0, 7, dtype=jnp.float32)
    err = metrics.relative_l2(ref * 1.5, ref)
    assert isinstance(err, float) and err == pytest.approx(0.5, rel=1e-6)


def test_relative_l2_vector_and_column_shapes():
    ref = np.arange(1.0, 7.0).reshape(3, 2)
    pred = ref + np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    assert metrics.relative_l2(pred, ref) == pytest.approx(1 / np.linalg.norm(ref))
    # (n, 1) against (n,) compares entry by entry, without broadcasting to (n, n).
    col = np.arange(1.0, 4.0)
    assert metrics.relative_l2(2 * col[:, None], col) == pytest.approx(1.0)


def test_relative_l2_bad_inputs():
    with pytest.raises(ValueError, match=r"relative_l2\(prediction=\.\.\.\)"):
        metrics.relative_l2(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match=r"relative_l2\(prediction=\.\.\.\)"):
        metrics.relative_l2(np.ones((2, 3)), np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"relative_l2\(reference=\.\.\.\).*nonzero"):
        metrics.relative_l2(np.ones(3), np.zeros(3))
    with pytest.raises(TypeError, match="traced"):
        jax.jit(metrics.relative_l2)(jnp.ones(3), jnp.ones(3))


def test_evaluate_batched_matches_vmap(getkey):
    model = eqx.nn.MLP(2, "scalar", width_size=8, depth=2, key=getkey())
    points = jax.random.uniform(getkey(), (37, 2))
    full = metrics.evaluate(model, points)
    assert full.shape == (37,)
    for batch_size in (1, 8, 37, 64):  # 8 does not divide 37: remainder handled
        batched = metrics.evaluate(model, points, batch_size=batch_size)
        np.testing.assert_allclose(batched, full, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(full[5], model(points[5]), rtol=1e-12)


def test_evaluate_vector_field(getkey):
    model = eqx.nn.MLP(3, 2, width_size=8, depth=1, key=getkey())
    points = jax.random.normal(getkey(), (10, 3))
    values = metrics.evaluate(model, points, batch_size=4)
    assert values.shape == (10, 2)
    np.testing.assert_allclose(values, jax.vmap(model)(points), rtol=1e-12)


def test_rel_l2_of_exact_and_scaled_function():
    x, t = np.meshgrid(np.linspace(-1, 1, 17), np.linspace(0, 1, 9), indexing="ij")
    points = jnp.asarray(np.stack([x.ravel(), t.ravel()], axis=1))
    reference = np.sin(np.pi * x.ravel()) * np.exp(-t.ravel())
    assert metrics.rel_l2(_field, points, reference) < 1e-14
    err = metrics.rel_l2(lambda p: 1.1 * _field(p), points, reference, batch_size=16)
    assert isinstance(err, float) and err == pytest.approx(0.1, rel=1e-10)


def test_evaluate_bad_inputs():
    with pytest.raises(ValueError, match=r"evaluate\(points=\.\.\.\)"):
        metrics.evaluate(_field, jnp.zeros((0, 2)))
    with pytest.raises(ValueError, match=r"evaluate\(batch_size=\.\.\.\)"):
        metrics.evaluate(_field, jnp.zeros((3, 2)), batch_size=0)
