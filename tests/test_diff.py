"""pinnlib.diff: operators against closed forms (generic path) and MLP fields (fused).

Computations are grouped under one `jit` per test where possible: on CPU one compile
is much cheaper than compiling every primitive eagerly, which keeps the file fast.
"""

import chex
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import (
    assert_close,
    central_diff,
    random_fourier,
    random_mlp,
    random_points,
)

import pinnlib as pl
import pinnlib.diff as diff
import pinnlib.nn as nn

# Closed-form fields go through the generic (nested jax.jvp) path. Their analytic
# derivatives are exact, so float64 agreement is to rounding: rtol 1e-12.
RTOL, ATOL = 1e-12, 1e-12
# MLP fields: the same maths in a different order of operations (fused vs nested
# jvp vs jax.hessian): agreement to float64 rounding, amplified by a few layers.
M_RTOL, M_ATOL = 1e-11, 1e-12


def f(p):  # f(x, y, t) = sin(x) cos(2y) exp(-t)
    return jnp.sin(p[0]) * jnp.cos(2 * p[1]) * jnp.exp(-p[2])


def f_analytic(p):
    x, y, t = p
    s, c, e = jnp.sin(x), jnp.cos(x), jnp.exp(-t)
    s2, c2 = jnp.sin(2 * y), jnp.cos(2 * y)
    v = s * c2 * e
    return {
        (): v,
        (0,): c * c2 * e,
        (1,): -2 * s * s2 * e,
        (2,): -v,
        (0, 0): -v,
        (1, 1): -4 * v,
        (2, 2): v,
        (0, 1): -2 * c * s2 * e,
        (0, 2): -c * c2 * e,
        (1, 2): 2 * s * s2 * e,
        (0, 0, 0): -c * c2 * e,
        (0, 1, 2): 2 * c * s2 * e,
    }


def poly(p):  # x^3 y^2 + 2 x y + y^4
    x, y = p
    return x**3 * y**2 + 2 * x * y + y**4


def poly_analytic(p):
    x, y = p
    return {
        (0,): 3 * x**2 * y**2 + 2 * y,
        (1,): 2 * x**3 * y + 2 * x + 4 * y**3,
        (0, 0): 6 * x * y**2,
        (0, 1): 6 * x**2 * y + 2,
        (1, 1): 2 * x**3 + 12 * y**2,
        (0, 0, 0): 6 * y**2,
        (0, 0, 1): 12 * x * y,
        (1, 1, 1): 24 * y,
    }


def vec(p):  # v(x, y) = (x^2 y, sin(x) + y^3)
    x, y = p
    return jnp.stack([x**2 * y, jnp.sin(x) + y**3])


def vec_jacobian(p):
    x, y = p
    return jnp.array([[2 * x * y, x**2], [jnp.cos(x), 3 * y**2]])


X3 = jnp.array([0.3, -0.7, 0.45])
X2 = jnp.array([0.6, -1.3])


def _mlp(seed, in_size, out_size="scalar", activation="tanh", dtype=None):
    return random_mlp(seed, in_size, out_size, activation=activation, dtype=dtype)


# ------------------------------------------------------- closed forms, generic path


def test_partials_match_analytic():
    indices = tuple(f_analytic(X3))
    extra = ((1, 0), (-1, 0), -1, (-1, 2))  # any order; negative axes; int shorthand

    @jax.jit
    @jax.vmap
    def compute(x):
        return diff.partials(f, x, *indices), diff.partials(f, x, *extra), f_analytic(x)

    points = jnp.stack([X3, jnp.array([-1.2, 2.1, 0.0]), jnp.array([2.5, 0.05, -0.8])])
    got, got_extra, expected = compute(points)
    assert len(got) == len(indices)
    for index, value in zip(indices, got):
        assert value.shape == (3,)
        assert_close(value, expected[index], rtol=RTOL, atol=ATOL, err_msg=str(index))
    for value, index in zip(got_extra, ((0, 1), (0, 2), (2,), (2, 2))):
        assert_close(value, expected[index], rtol=RTOL, atol=ATOL, err_msg=str(index))


def test_partial_polynomial_up_to_third_order():
    expected = poly_analytic(X2)

    @jax.jit
    def compute(x):
        return (
            [diff.partial(poly, *index)(x) for index in expected],
            diff.partial(poly, -2, -2, -1)(x),
        )

    got, got_negative = compute(X2)
    for (index, value), g in zip(expected.items(), got):
        assert_close(g, value, rtol=RTOL, atol=ATOL, err_msg=str(index))
    assert_close(got_negative, expected[(0, 0, 1)], rtol=RTOL, atol=ATOL)


def test_gradient_hessian_laplacian_closed_form():
    @jax.jit
    def compute(x):
        return {
            "grad": diff.gradient(f)(x),
            "grad_xy": diff.gradient(f, axes=(0, 1))(x),
            "grad_t": diff.gradient(f, axes=(-1,))(x),
            "jacfwd": jax.jacfwd(f)(x),
            "hess": diff.hessian(f)(x),
            "jax_hess": jax.hessian(f)(x),
            "hess_tx": diff.hessian(f, axes=(2, 0))(x),
            "lap_xy": diff.laplacian(f, axes=(0, 1))(x),
            "lap": diff.laplacian(f)(x),
            "lap_t": diff.laplacian(f, axes=(-1,))(x),
            "analytic": f_analytic(x),
        }

    r = compute(X3)
    e = r["analytic"]
    close = lambda a, b: assert_close(a, b, rtol=RTOL, atol=ATOL)  # noqa: E731
    close(r["grad"], jnp.stack([e[(0,)], e[(1,)], e[(2,)]]))
    close(r["grad_xy"], jnp.stack([e[(0,)], e[(1,)]]))
    close(r["grad_t"], e[(2,)][None])
    close(r["grad"], r["jacfwd"])
    expected_h = jnp.array(
        [
            [e[(0, 0)], e[(0, 1)], e[(0, 2)]],
            [e[(0, 1)], e[(1, 1)], e[(1, 2)]],
            [e[(0, 2)], e[(1, 2)], e[(2, 2)]],
        ]
    )
    assert r["hess"].shape == (3, 3)
    close(r["hess"], expected_h)
    close(r["hess"], r["jax_hess"])
    # axes in a non-sorted order give the Hessian in that order
    close(r["hess_tx"], expected_h[np.ix_([2, 0], [2, 0])])
    v = e[()]
    close(r["lap_xy"], -5 * v)  # space Laplacian: t excluded
    close(r["lap"], -4 * v)  # all axes: includes f_tt = f
    close(r["lap_t"], v)


def test_jacobian_and_divergence_of_vector_field():
    def flux(p):  # a 2-component field on space-time points (x, y, t)
        return jnp.stack([p[0] * p[2], jnp.exp(p[1] * p[2])])

    @jax.jit
    def compute(x2, x3):
        return {
            "jac": diff.jacobian(vec)(x2),
            "jacfwd": jax.jacfwd(vec)(x2),
            "jac_y": diff.jacobian(vec, axes=(1,))(x2),
            "jac_scalar": diff.jacobian(poly)(x2),
            "div": diff.divergence(vec)(x2),
            "div_square": diff.divergence(lambda p: p**2)(x3),
            "div_space": diff.divergence(flux, axes=(0, 1))(x3),
            "lap_vec": diff.laplacian(vec)(x2),
        }

    r = compute(X2, X3)
    close = lambda a, b: assert_close(a, b, rtol=RTOL, atol=ATOL)  # noqa: E731
    assert r["jac"].shape == (2, 2)
    close(r["jac"], vec_jacobian(X2))
    close(r["jac"], r["jacfwd"])
    close(r["jac_y"], vec_jacobian(X2)[:, 1:])
    p = poly_analytic(X2)
    close(r["jac_scalar"], jnp.stack([p[(0,)], p[(1,)]]))  # scalar field: gradient
    x, y = X2
    close(r["div"], 2 * x * y + 3 * y**2)
    close(r["div_square"], 2 * jnp.sum(X3))
    close(r["div_space"], X3[2] + X3[2] * jnp.exp(X3[1] * X3[2]))
    close(r["lap_vec"], jnp.stack([2 * y, -jnp.sin(x) + 6 * y]))  # componentwise


# ------------------------------------------------------------------------- errors


def test_bad_axes_raise_clear_errors():
    with pytest.raises(ValueError, match=r"partials\(\*indices\).*\[-3, 3\)"):
        diff.partials(f, X3, (0, 3))
    with pytest.raises(ValueError, match=r"partials\(\*indices\)"):
        diff.partials(f, X3, (-4,))
    with pytest.raises(ValueError, match=r"partial\(\*axes\)"):
        diff.partial(f)
    with pytest.raises(ValueError, match=r"partials\(\*indices\)"):
        diff.partial(f, 5)(X3)
    for op in (
        diff.gradient,
        diff.jacobian,
        diff.hessian,
        diff.laplacian,
        diff.divergence,
    ):
        name = "gradient" if op is diff.jacobian else op.__name__
        for axes in ((3,), (), (0, -4)):
            with pytest.raises(ValueError, match=rf"diff\.{name}\(axes=\.\.\.\)"):
                op(f, axes=axes)(X3)
    with pytest.raises(ValueError, match=r"divergence\(v=\.\.\.\).*3 components"):
        diff.divergence(lambda p: p[:2])(X3)


def test_x_must_be_one_point():
    # pinnlib's own check raises ValueError; under pytest the jaxtyping hook rejects
    # the annotation first (TypeCheckError, a TypeError). Either way `x` is named.
    pattern = r"partials\(x=\.\.\.\)|parameter 'x'"
    with pytest.raises((ValueError, TypeError), match=pattern):
        diff.partials(f, jnp.zeros((2, 3)), (0,))
    with pytest.raises((ValueError, TypeError), match=pattern):
        diff.partials(f, jnp.array(0.5), (0,))


def test_fused_true_requires_mlp_and_order_le_2():
    with pytest.raises(ValueError, match=r"partials\(fused=True\)"):
        diff.partials(f, X3, (0, 0), fused=True)
    with pytest.raises(ValueError, match=r"partials\(fused=True\)"):
        diff.partial(f, 0, fused=True)(X3)
    u = _mlp(1, 3)
    with pytest.raises(ValueError, match=r"partials\(fused=True\)"):
        diff.partials(u, X3, (0, 0, 0), fused=True)
    # A Sequential that does not end in an MLP is not fusable either.
    seq = eqx.nn.Sequential([u, eqx.nn.Lambda(jnp.tanh)])
    with pytest.raises(ValueError, match=r"partials\(fused=True\)"):
        diff.partials(seq, X3, (0,), fused=True)


# ------------------------------------------------------ MLP fields: fused vs generic

INDICES3 = ((), (0,), (2,), (0, 0), (1, 1), (0, 1), (1, 0), (0, 2), (-1, -1))


def _three_ways(u, x, indices):
    # Eager on purpose: all MLP fields here share layer shapes, so the per-primitive
    # compilations are shared between tests (cheaper than one jit compile each).
    return (
        diff.partials(u, x, *indices),
        diff.partials(u, x, *indices, fused=True),
        diff.partials(u, x, *indices, fused=False),
    )


def _compare_fused(u, x, rtol=M_RTOL, atol=M_ATOL, jit=False):
    three_ways = eqx.filter_jit(_three_ways) if jit else _three_ways
    auto, fused, generic = three_ways(u, x, INDICES3)
    chex.assert_trees_all_equal(auto, fused)  # fused=None picks the fused path
    chex.assert_trees_all_close(fused, generic, rtol=rtol, atol=atol)
    chex.assert_trees_all_equal_shapes_and_dtypes(fused, generic)
    # The derivatives are genuinely non-trivial (a zero-vs-zero check proves nothing).
    assert all(float(jnp.max(jnp.abs(d))) > 1e-4 for d in fused)
    return fused


@pytest.mark.parametrize("activation", ["tanh", "sin", jax.nn.gelu])
@pytest.mark.parametrize("out_size", ["scalar", 3])
def test_fused_matches_generic_mlp(activation, out_size):
    u = _mlp(2, 3, out_size, activation)
    out = _compare_fused(u, X3)
    assert out[0].shape == (() if out_size == "scalar" else (3,))


@pytest.mark.parametrize(
    "front",
    [
        lambda key: [nn.Normalize((-1.0, 0.0, 0.0), (2.0, 1.0, 3.0))],
        lambda key: [nn.PeriodicEmbedding(3, axes=(0,), periods=(2.0,))],
        lambda key: [
            nn.Normalize((-1.0, 0.0, 0.0), (2.0, 1.0, 3.0)),
            random_fourier(key, 3, 4),
        ],
    ],
    ids=["normalize", "periodic", "normalize+fourier"],
)
def test_fused_matches_generic_sequential(front):
    layers = front(3)
    in_size = getattr(layers[-1], "out_size", 3)
    u = eqx.nn.Sequential([*layers, _mlp(4, in_size, activation="sin")])
    _compare_fused(u, X3)


@pytest.mark.parametrize("activation", ["tanh", jax.nn.gelu])
@pytest.mark.parametrize("out_size", ["scalar", 2])
@pytest.mark.parametrize("factorized", [False, True])
def test_fused_matches_generic_modified_mlp(activation, out_size, factorized):
    u = nn.ModifiedMLP(
        3,
        out_size,
        width=6,
        depth=3,
        activation=activation,
        factorized=factorized,
        key=jax.random.key(11),
        dtype=jnp.float64,
    )
    out = _compare_fused(u, X3)
    assert out[0].shape == (() if out_size == "scalar" else (2,))


def test_fused_matches_generic_factorized_mlp_behind_embeddings():
    emb = nn.PeriodicEmbedding(3, axes=(0,), periods=(2.0,))
    ff = random_fourier(5, emb.out_size, 3)
    net = nn.factorized_mlp(
        ff.out_size, width=5, depth=2, key=jax.random.key(12), dtype=jnp.float64
    )
    _compare_fused(eqx.nn.Sequential([emb, ff, net]), X3)


def test_fused_float32():
    # float32 in, float32 out. Fused vs nested agree to float32 rounding (eps 1.2e-7)
    # amplified through two layers and second derivatives: rtol 1e-4. Against the
    # float64 network the error is the float32 rounding of the weights and point.
    u = _mlp(5, 3, dtype=jnp.float32)
    # Under jit: float32 shares no eager compilations with the float64 tests.
    fused = _compare_fused(u, X3.astype(jnp.float32), rtol=1e-4, atol=1e-5, jit=True)
    assert all(d.dtype == jnp.float32 for d in fused)
    u64 = jax.tree.map(lambda a: a.astype(jnp.float64) if eqx.is_array(a) else a, u)
    chex.assert_trees_all_close(
        fused, _three_ways(u64, X3, INDICES3)[1], rtol=1e-4, atol=1e-5
    )


def test_mlp_operators_match_jax():
    u = _mlp(6, 3, activation=jax.nn.gelu)
    v = _mlp(7, 3, 2)
    w = _mlp(8, 2, 2)

    @eqx.filter_jit
    def compute(u, v, w, x3, x2):
        return {
            "hess": diff.hessian(u)(x3),
            "jax_hess": jax.hessian(u)(x3),
            "grad": diff.gradient(u)(x3),
            "jacfwd": jax.jacfwd(u)(x3),
            "jac": diff.jacobian(v)(x3),
            "jax_jac": jax.jacfwd(v)(x3),
            "jac_tx": diff.jacobian(v, axes=(2, 0))(x3),
            "lap_xy": diff.laplacian(u, axes=(0, 1))(x3),
            "div": diff.divergence(w)(x2),
            "jac_w": jax.jacfwd(w)(x2),
        }

    r = compute(u, v, w, X3, X2)
    close = lambda a, b: assert_close(a, b, rtol=M_RTOL, atol=M_ATOL)  # noqa: E731
    assert_close(r["hess"], r["hess"].T, rtol=0, atol=0)  # symmetric by construction
    close(r["hess"], r["jax_hess"])
    close(r["grad"], r["jacfwd"])
    assert r["jac"].shape == (2, 3)
    close(r["jac"], r["jax_jac"])
    close(r["jac_tx"], r["jax_jac"][:, [2, 0]])
    # Space Laplacian of a space-time field: trace of the spatial Hessian block.
    close(r["lap_xy"], jnp.trace(r["hess"][:2, :2]))
    close(r["div"], jnp.trace(r["jac_w"]))


def test_third_order_falls_back_to_generic():
    u = _mlp(9, 2, activation="sin")

    @eqx.filter_jit
    def compute(u, x):
        return {
            "auto": diff.partial(u, 0, 0, 1)(x),  # fused=None falls back to nested jvp
            "generic": diff.partial(u, 0, 0, 1, fused=False)(x),
            "mixed": diff.partials(u, x, (), (0,), (0, 0, 0)),  # orders mixed in a call
            "d1": jax.jacfwd(u)(x),
            "d3": jax.jacfwd(jax.jacfwd(jax.jacfwd(u)))(x),
        }

    r = compute(u, X2)
    assert_close(r["auto"], r["generic"], rtol=0, atol=0)
    assert_close(r["auto"], r["d3"][1, 0, 0], rtol=1e-10, atol=1e-12)
    _, u_x, u_xxx = r["mixed"]
    assert_close(u_x, r["d1"][0], rtol=M_RTOL, atol=M_ATOL)
    assert_close(u_xxx, r["d3"][0, 0, 0], rtol=1e-10, atol=1e-12)
    assert abs(float(r["auto"])) > 1e-4


def test_mlp_second_derivative_finite_differences():
    u = _mlp(10, 3, activation=jax.nn.gelu)
    u = jax.tree.map(lambda a: 3 * a if eqx.is_array(a) else a, u)  # sharper field
    h = 1e-4
    second = ((0, 0), (1, 1), (2, 2), (0, 1), (1, 2))
    first = ((0,), (2,))

    def compute(u, x):  # eager: the network's eager compilations are shared
        exact = diff.partials(u, x, *second, *first)
        approx = [central_diff(u, x, *index, h=h) for index in (*second, *first)]
        return exact, approx, u(x)

    # |u| = O(1) (checked below). Second order, 3-point stencil: truncation
    # (h^2/12)|u''''| ~ 1e-9 and rounding ~ 4 eps |u| / h^2 ~ 1e-7 (eps |u| / h^2
    # for the 4-point mixed stencil); first order: (h^2/6)|u'''| + eps |u| / h
    # ~ 1e-9. Hence atol 1e-6 for second and 1e-7 for first derivatives.
    for x in (X3, jnp.array([-0.5, 0.9, 0.1])):
        exact, approx, value = compute(u, x)
        assert abs(float(value)) < 10
        for n, index in enumerate((*second, *first)):
            tol = 1e-6 if len(index) == 2 else 1e-7
            assert_close(exact[n], approx[n], rtol=tol, atol=tol, err_msg=str(index))
        assert max(abs(float(d)) for d in exact) > 1e-2


def test_jit_and_vmap_agree_with_eager():
    u = _mlp(12, 3)
    points = random_points(12, 5, [-1.0] * 3, [1.0] * 3)

    def derivs(model, p):
        return (
            *diff.partials(model, p, (), (0,), (1, 1), (0, 0)),
            diff.laplacian(model, axes=(0, 1))(p),
        )

    batched = eqx.filter_jit(jax.vmap(derivs, in_axes=(None, 0)))(u, points)
    assert all(b.shape == (5,) for b in batched)
    for n in (0, 3):  # each row is that point's own value: no mixing across the batch
        eager = derivs(u, points[n])  # no jit, no vmap
        for b, e in zip(batched, eager):
            assert_close(b[n], e, rtol=1e-12, atol=1e-13)
        assert_close(eager[4], eager[2] + eager[3], rtol=1e-12, atol=1e-13)


def _residual_loss(fused):
    def loss(model, points):
        def r(p):
            v, v_t, v_x, v_xx = diff.partials(
                model, p, (), (-1,), (0,), (0, 0), fused=fused
            )
            return v_t + v * v_x - 0.1 * v_xx

        return jnp.mean(jax.vmap(r)(points) ** 2)

    return loss


@eqx.filter_jit
def _both_grads(model, points):
    return (
        eqx.filter_grad(_residual_loss(None))(model, points),
        eqx.filter_grad(_residual_loss(False))(model, points),
    )


def test_parameter_gradients_fused_vs_generic():
    # What training differentiates: d(loss of fused derivatives)/d(theta). gelu takes
    # the generic (jvp) activation derivatives; tanh's closed form is covered below.
    u = _mlp(13, 2, activation=jax.nn.gelu)
    points = random_points(14, 6, [-1.0] * 2, [1.0] * 2)
    g_fused, g_generic = _both_grads(u, points)
    chex.assert_trees_all_close(g_fused, g_generic, rtol=1e-9, atol=1e-12)
    assert float(jnp.max(jnp.abs(g_fused.layers[0].weight))) > 1e-6


def test_parameter_gradients_through_embeddings():
    # tanh MLP (closed-form activation derivatives) behind Normalize and Fourier
    # features (pushed through with nested jvp inside the fused path).
    ff = random_fourier(15, 2, 3)
    u = eqx.nn.Sequential(
        [nn.Normalize((-1.0, 0.0), (1.0, 2.0)), ff, _mlp(16, ff.out_size)]
    )
    points = random_points(17, 4, [0.0] * 2, [1.0] * 2)
    g_fused, g_generic = _both_grads(u, points)
    chex.assert_trees_all_close(g_fused, g_generic, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(np.asarray(g_fused.layers[1].frequencies), 0.0)
    assert float(jnp.max(jnp.abs(g_fused.layers[2].layers[0].weight))) > 1e-6


def test_value_alone_through_an_embedding_applies_the_embedding():
    # Only the value is requested: the embedding must still be applied (fused path).
    for front in (
        pl.nn.Normalize((0.0, 0.0), (2.0, 1.0)),
        pl.nn.PeriodicEmbedding(2, axes=(0,), periods=(2.0,)),
    ):
        net = pl.nn.mlp(front.out_size, width=8, depth=2, key=jax.random.key(0))
        u = eqx.nn.Sequential([front, net])
        x = jnp.array([1.5, 0.7])
        (value,) = pl.diff.partials(u, x, ())
        np.testing.assert_allclose(value, u(x), rtol=1e-12)
