"""Exact boundary and initial conditions: u = g + phi N satisfies them for any N."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import pinnlib as pl


def _disk_phi(x):
    """The unit disk's normalised distance, (1 - |x|^2) / 2."""
    return (1 - x @ x) / 2


def _circle(n, dtype):
    theta = jnp.linspace(0.0, 2 * jnp.pi, n, endpoint=False, dtype=dtype)
    return jnp.stack([jnp.cos(theta), jnp.sin(theta)], axis=1)


def _net(out_size="scalar", in_size=2, dtype=jnp.float32, seed=0):
    return pl.nn.mlp(
        in_size,
        width=16,
        depth=2,
        out_size=out_size,
        key=jax.random.key(seed),
        dtype=dtype,
    )


def test_scalar_field_equals_g_on_the_boundary():
    g = lambda x: x[0] ** 2 - x[1]  # noqa: E731
    u = pl.nn.ExactDirichlet(_net(), _disk_phi, g)
    points = _circle(64, jnp.float32)
    # phi is exactly zero in float32 at these points only up to rounding of |x|^2:
    # compare with the rounding of phi, not with 0.
    phi = jax.vmap(_disk_phi)(points)
    net = jax.vmap(u.net)(points)
    np.testing.assert_allclose(
        jax.vmap(u)(points), jax.vmap(g)(points) + phi * net, rtol=0, atol=1e-6
    )
    assert float(jnp.max(jnp.abs(phi))) < 1e-6
    inside = jnp.array([[0.2, 0.1], [-0.5, 0.3]])
    assert not np.allclose(jax.vmap(u)(inside), jax.vmap(g)(inside))


def test_boundary_values_are_exact_where_phi_vanishes_exactly():
    # phi = x0 (1 - x0) vanishes exactly at x0 = 0 and 1 in any dtype.
    phi = lambda x: x[0] * (1 - x[0])  # noqa: E731
    u = pl.nn.ExactDirichlet(_net(), phi, lambda x: jnp.sin(3 * x[1]))
    y = jnp.linspace(-1.0, 1.0, 17)
    for x0 in (0.0, 1.0):
        points = jnp.stack([jnp.full_like(y, x0), y], axis=1)
        np.testing.assert_array_equal(jax.vmap(u)(points), jnp.sin(3 * y))


def test_components_impose_only_some_outputs():
    net = _net(out_size=3)
    g = lambda x: jnp.stack([x[1], -x[0]])  # noqa: E731
    u = pl.nn.ExactDirichlet(net, _disk_phi, g, components=(0, 1))
    x = jnp.array([0.6, 0.8])
    out, raw = u(x), net(x)
    np.testing.assert_allclose(out[:2], g(x), atol=1e-6)
    assert out[2] == raw[2]  # the pressure is the network's own
    y = jnp.array([0.1, -0.3])
    np.testing.assert_allclose(u(y)[:2], g(y) + _disk_phi(y) * net(y)[:2], rtol=1e-6)


@pytest.mark.parametrize(
    "shape",
    [
        pl.domains.Polygon([(0, 0), (2, 0), (2, 1), (1, 1), (1, 2), (0, 2)]),
        pl.domains.Box((0.0, 0.0), (1.0, 2.0)) - pl.domains.Disk((0.5, 1.0), 0.25),
    ],
    ids=["l-shape", "plate-with-hole"],
)
def test_shapes_give_exact_boundary_values(shape):
    net = _net(dtype=jnp.float64)
    g = lambda x: jnp.cos(x[0]) + x[1] ** 2  # noqa: E731
    u = pl.nn.ExactDirichlet(net, shape, g)
    boundary = pl.domains.sample_boundary(
        shape, 200, key=jax.random.key(0), dtype=jnp.float64
    )
    np.testing.assert_allclose(
        jax.vmap(u)(boundary), jax.vmap(g)(boundary), rtol=0, atol=1e-12
    )
    inside = pl.domains.sample_interior(
        shape, 200, key=jax.random.key(1), dtype=jnp.float64
    )
    assert float(jnp.max(jnp.abs(jax.vmap(u)(inside) - jax.vmap(g)(inside)))) > 1e-3
    # Second derivatives stay finite on the boundary (corners included).
    laplacian = jax.vmap(pl.diff.laplacian(u))(boundary)
    assert bool(jnp.all(jnp.isfinite(laplacian)))


@pytest.mark.parametrize(
    "out_size, components", [("scalar", None), (3, None), (3, (0, 2))]
)
def test_fused_derivatives_equal_nested_jvp(out_size, components):
    net = _net(out_size=out_size, dtype=jnp.float64)
    g = (
        (lambda x: jnp.stack([x[0], x[1] ** 2]))
        if components
        else (lambda x: jnp.sin(x[0]) * x[1])
    )
    u = pl.nn.ExactDirichlet(net, _disk_phi, g, components=components)
    x = jnp.array([0.3, -0.2])
    indices = ((), (0,), (1,), (0, 0), (0, 1), (1, 1))
    fused = pl.diff.partials(u, x, *indices, fused=True)
    nested = pl.diff.partials(u, x, *indices, fused=False)
    for a, b in zip(fused, nested, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
    hessian = jax.hessian(lambda y: jnp.sum(u(y)))(x)
    np.testing.assert_allclose(jnp.sum(fused[3]), hessian[0, 0], rtol=1e-12, atol=1e-13)


def test_exact_initial_with_periodic_embedding():
    emb = pl.nn.PeriodicEmbedding(2, axes=(0,), periods=(2.0,))
    net = eqx.nn.Sequential([emb, pl.nn.mlp(emb.out_size, key=jax.random.key(0))])
    u0 = lambda p: p[0] ** 2 * jnp.cos(jnp.pi * p[0])  # noqa: E731
    u = pl.nn.exact_initial(net, u0, t0=0.5)
    x = jnp.linspace(-1.0, 1.0, 21)
    initial = jnp.stack([x, jnp.full_like(x, 0.5)], axis=1)
    np.testing.assert_array_equal(jax.vmap(u)(initial), jax.vmap(u0)(initial))
    # Periodic in x at any later time (u0 is periodic too: u0(-1) = u0(1)).
    t = jnp.array([0.7, 0.9])
    left = jax.vmap(u)(jnp.stack([-jnp.ones(2), t], axis=1))
    right = jax.vmap(u)(jnp.stack([jnp.ones(2), t], axis=1))
    np.testing.assert_allclose(left, right, atol=1e-6)
    assert float(jnp.max(jnp.abs(u(jnp.array([0.3, 0.9])) - u0(jnp.array([0.3]))))) > 0
    # Fused derivatives through the transform, the embedding and the MLP.
    emb = pl.nn.PeriodicEmbedding(2, axes=(0,), periods=(2.0,))
    net = eqx.nn.Sequential(
        [emb, pl.nn.mlp(emb.out_size, key=jax.random.key(0), dtype=jnp.float64)]
    )
    u = pl.nn.exact_initial(net, u0)
    p = jnp.array([0.3, 0.4])
    fused = pl.diff.partials(u, p, (1,), (0, 0), fused=True)
    nested = pl.diff.partials(u, p, (1,), (0, 0), fused=False)
    np.testing.assert_allclose(fused, nested, rtol=1e-12)


def test_a_domain_gives_its_distance():
    class Half(eqx.Module):
        def distance(self, x):
            return x[0]

    u = pl.nn.ExactDirichlet(_net(), Half(), 2.0)
    assert float(u(jnp.array([0.0, 0.7]))) == 2.0


def test_trains_in_a_loss_with_jit_and_grad():
    u = pl.nn.ExactDirichlet(_net(), _disk_phi, 0.0)
    loss = pl.losses.combine(
        pde=pl.losses.residual(lambda f: pl.pdes.poisson(f, source=lambda x: 1.0))
    )
    batch = {"pde": jax.random.uniform(jax.random.key(1), (32, 2), jnp.float32, -0.5)}
    weights = loss.init_weights(jnp.float32)

    @eqx.filter_jit
    @eqx.filter_grad
    def grad(model):
        return loss(model, batch, weights)[0]

    g = grad(u)
    leaves = jax.tree.leaves(eqx.filter(g, eqx.is_array))
    assert leaves and all(bool(jnp.all(jnp.isfinite(a))) for a in leaves)
    assert any(float(jnp.max(jnp.abs(a))) > 0 for a in leaves)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"ExactDirichlet\(distance=\.\.\.\)"):
        pl.nn.ExactDirichlet(_net(), 3.0)
    with pytest.raises(ValueError, match=r"ExactDirichlet\(g=\.\.\.\)"):
        pl.nn.ExactDirichlet(_net(), _disk_phi, "zero")
    with pytest.raises(ValueError, match=r"ExactDirichlet\(net=\.\.\.\)"):
        pl.nn.ExactDirichlet("mlp", _disk_phi)
    with pytest.raises(ValueError, match=r"ExactDirichlet\(components=\.\.\.\)"):
        pl.nn.ExactDirichlet(_net(out_size=3), _disk_phi, components=(0.5,))
    with pytest.raises(ValueError, match=r"exact_initial\(t0=\.\.\.\)"):
        pl.nn.exact_initial(_net(), 0.0, t0="start")
    x = jnp.array([0.1, 0.2], jnp.float32)
    scalar = pl.nn.ExactDirichlet(_net(), _disk_phi, components=(0,))
    with pytest.raises(ValueError, match="output shape is"):
        scalar(x)
    out_of_range = pl.nn.ExactDirichlet(_net(out_size=3), _disk_phi, components=(3,))
    with pytest.raises(ValueError, match="output shape is"):
        out_of_range(x)
    wrong_shape = pl.nn.ExactDirichlet(_net(out_size=3), _disk_phi, lambda x: x)
    with pytest.raises(ValueError, match=r"values of shape \(3,\)"):
        wrong_shape(x)
    wide = pl.nn.ExactDirichlet(_net(), _disk_phi, lambda x: jnp.ones((), jnp.float64))
    with pytest.raises(TypeError, match="never casts"):
        wide(x)
    integer = pl.nn.ExactDirichlet(_net(), _disk_phi, lambda x: jnp.ones((), jnp.int32))
    with pytest.raises(TypeError, match="never casts"):
        integer(x)
