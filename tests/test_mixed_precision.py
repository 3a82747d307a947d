"""Mixed precision: bfloat16 products, float32 accumulation and parameters."""

import functools

import equinox as eqx
import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import burgers_problem

import pinnlib as pl

F32, BF16 = jnp.float32, jnp.bfloat16
NU = 0.01 / np.pi
# Each operand rounded to bfloat16 (8 significant bits) moves a product by up to
# 2^-8 relative; summed over a layer and through a few layers the output error of
# these tiny O(1) networks stays well under a few times 2^-8.
BF16_RTOL = BF16_ATOL = 2e-2


def _assert_bf16_close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=BF16_RTOL, atol=BF16_ATOL)


def _points(n=16, seed=0):
    return jax.random.uniform(jax.random.key(seed), (n, 2), F32, -1.0, 1.0)


# Models are built and evaluated under jit: one compiled program each, much faster
# than op-by-op dispatch for these tiny networks.
@eqx.filter_jit
def _values(model, x):
    return jax.vmap(model)(x)


def _build(fn, seed=0):
    return eqx.filter_jit(fn)(jax.random.key(seed))


@functools.cache
def _mlp(width=16, depth=2):
    """A float32 MLP field `2 -> width^depth -> ()`, built once per size."""
    return _build(lambda k: pl.nn.mlp(2, width=width, depth=depth, key=k, dtype=F32))


def _dot_generals(jaxpr):
    """All `dot_general` equations of a jaxpr, sub-jaxprs included."""
    found = []
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "dot_general":
            found.append(eqn)
        for param in eqn.params.values():
            for sub in param if isinstance(param, tuple | list) else (param,):
                if isinstance(sub, jax.extend.core.ClosedJaxpr):
                    found += _dot_generals(sub.jaxpr)
                elif isinstance(sub, jax.extend.core.Jaxpr):
                    found += _dot_generals(sub)
    return found


def _count(model, cls) -> int:
    leaves = jax.tree.leaves(model, is_leaf=lambda n: isinstance(n, cls))
    return sum(isinstance(leaf, cls) for leaf in leaves)


def test_layer_is_the_rounded_product_summed_in_float32(getkey):
    linear = eqx.nn.Linear(5, 4, key=getkey(), dtype=F32)
    layer = pl.nn.MixedLinear(linear)
    x = jax.random.normal(getkey(), (5,), F32)
    rounded = lambda a: np.asarray(a.astype(BF16).astype(jnp.float64))  # noqa: E731
    expected = rounded(linear.weight) @ rounded(x) + np.asarray(linear.bias)
    y = layer(x)
    assert y.dtype == F32 and y.shape == (4,)
    # bfloat16 x bfloat16 products are exact in float32: only the sum rounds.
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-6)
    assert np.max(np.abs(np.asarray(y) - np.asarray(linear(x)))) > 1e-5


@pytest.mark.parametrize(
    "sizes, use_bias",
    [(("scalar", 3), True), ((3, "scalar"), True), (("scalar", "scalar"), False)],
)
def test_layer_mirrors_linear_shapes(getkey, sizes, use_bias):
    linear = eqx.nn.Linear(*sizes, use_bias=use_bias, key=getkey(), dtype=F32)
    layer = pl.nn.MixedLinear(linear)
    assert (layer.in_features, layer.out_features) == sizes
    assert layer.use_bias == use_bias and (layer.bias is None) == (not use_bias)
    x = jnp.asarray(0.7, F32) if sizes[0] == "scalar" else jnp.ones(3, F32)
    y = layer(x)
    assert y.shape == linear(x).shape and y.dtype == F32
    _assert_bf16_close(y, linear(x))
    if sizes[0] == "scalar":
        with pytest.raises(ValueError, match="scalar shape"):
            layer(jnp.ones(2, F32))


def test_outputs_close_to_float32_but_rounded():
    u = _mlp()
    mixed = pl.nn.mixed_precision(u)
    x = _points()
    exact, approx = _values(u, x), _values(mixed, x)
    assert approx.dtype == F32 and approx.shape == exact.shape
    _assert_bf16_close(approx, exact)
    assert np.max(np.abs(approx - exact)) > 1e-5  # float32 alone differs by ~1e-7
    assert _count(mixed, pl.nn.MixedLinear) == 3
    assert _count(mixed, eqx.nn.Linear) == 0 and _count(u, eqx.nn.Linear) == 3


def test_jaxpr_multiplies_bfloat16_into_float32():
    mixed = pl.nn.mixed_precision(_mlp())
    for fn in (mixed, jax.jit(jax.vmap(mixed))):
        x = jnp.zeros(2, F32) if fn is mixed else _points(4)
        dots = _dot_generals(jax.make_jaxpr(fn)(x).jaxpr)
        assert len(dots) == 3
        for eqn in dots:
            assert [v.aval.dtype for v in eqn.invars] == [BF16, BF16]
            assert eqn.outvars[0].aval.dtype == F32
            assert eqn.params["preferred_element_type"] == F32


def test_parameters_and_gradients_stay_float32():
    u = _mlp()
    mixed = pl.nn.mixed_precision(u)
    params = jax.tree.leaves(eqx.filter(mixed, eqx.is_inexact_array))
    assert params and all(p.dtype == F32 for p in params)
    # The same arrays, not copies: the float32 master weights.
    originals = jax.tree.leaves(eqx.filter(u, eqx.is_inexact_array))
    assert all(p is q for p, q in zip(params, originals))

    def loss(model, x):
        return jnp.mean(jax.vmap(model)(x) ** 2)

    x = _points()
    grad = eqx.filter_jit(eqx.filter_grad(loss))
    grads, exact = grad(mixed, x), grad(u, x)
    for g, e in zip(jax.tree.leaves(grads), jax.tree.leaves(exact)):
        assert g.dtype == F32 and g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=5e-2, atol=5e-3)


@pytest.mark.parametrize("fused", [False, True])
def test_derivatives_run_through_the_rounding(fused):
    # Nested forward mode, and the fused Taylor streams (their `dense` products).
    u = _mlp()
    mixed = pl.nn.mixed_precision(u)
    x = jnp.array([0.3, -0.4], F32)
    fn = lambda model, p: pl.diff.partials(model, p, (), (0,), (0, 1), fused=fused)  # noqa: E731
    approx, exact = fn(mixed, x), fn(u, x)
    for a, e in zip(approx, exact):
        assert a.dtype == F32
        _assert_bf16_close(a, e)
    assert max(abs(float(a - e)) for a, e in zip(approx, exact)) > 1e-6
    jaxpr = jax.make_jaxpr(lambda p: fn(mixed, p))(x).jaxpr
    assert all(v.aval.dtype == BF16 for e in _dot_generals(jaxpr) for v in e.invars)


def test_jit_and_vmap_agree_and_ensembles_convert():
    mixed = pl.nn.mixed_precision(_mlp())
    x = _points(4)
    eager = jnp.stack([mixed(p) for p in x[:2]])
    np.testing.assert_allclose(jax.vmap(mixed)(x[:2]), eager, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(_values(mixed, x)[:2], eager, rtol=1e-6, atol=1e-7)

    # An ensemble: parameters stacked along a leading axis, converted under vmap.
    u = _mlp()
    stacked = jax.tree.map(lambda a: jnp.stack([a, -a]) if eqx.is_array(a) else a, u)
    ensemble = eqx.filter_vmap(pl.nn.mixed_precision)(stacked)
    assert _count(ensemble, pl.nn.MixedLinear) == 3
    out = eqx.filter_jit(eqx.filter_vmap(_values, in_axes=(eqx.if_array(0), None)))(
        ensemble, x
    )
    assert out.shape == (2, x.shape[0]) and out.dtype == F32
    np.testing.assert_allclose(out[0], _values(mixed, x), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "build, converted",
    [
        (lambda k: eqx.nn.MLP(2, 3, 4, 3, scan=True, key=k, dtype=F32), 3),
        (lambda k: pl.nn.ModifiedMLP(2, width=8, depth=2, key=k, dtype=F32), None),
        (lambda k: pl.nn.PirateNet(2, width=8, depth=1, key=k, dtype=F32), None),
        (
            lambda k: eqx.nn.Sequential(
                [pl.nn.Normalize((-1.0, 0.0), (1.0, 1.0)), _mlp(width=8, depth=1)]
            ),
            2,
        ),
    ],
    ids=["mlp-scan", "modified-mlp", "piratenet", "sequential"],
)
def test_other_architectures(build, converted):
    model = _build(build)
    mixed = pl.nn.mixed_precision(model)
    assert _count(mixed, pl.nn.MixedLinear) == (
        converted or _count(model, eqx.nn.Linear)
    )
    assert _count(mixed, eqx.nn.Linear) == 0
    x = _points(8)
    _assert_bf16_close(_values(mixed, x), _values(model, x))


def test_training_runs_and_lowers_the_loss():
    u, loss, sampler = burgers_problem(width=8, depth=2, counts=(32, 8, 8), dtype=F32)
    training = pl.training(loss, optax.adam(1e-3))
    state = training.init(pl.nn.mixed_precision(u), key=jax.random.key(1))
    out = pl.run(training, state, sampler, 40, args={"nu": NU})
    assert pl.RESULTS(int(out.result)) == pl.RESULTS.successful
    history = np.asarray(out.metrics["loss"])
    assert np.all(np.isfinite(history)) and history[-1] < 0.9 * history[0]
    model = out.state.model
    assert _count(model, pl.nn.MixedLinear) == 3
    params = jax.tree.leaves(eqx.filter(model, eqx.is_inexact_array))
    assert all(p.dtype == F32 for p in params)


@pytest.mark.parametrize("dtype", [jnp.float64, jnp.int8, jnp.complex64, "nonsense"])
def test_bad_dtype(dtype):
    with pytest.raises(ValueError, match=r"mixed_precision\(dtype=\.\.\.\)"):
        pl.nn.mixed_precision(_mlp(width=4, depth=1), dtype)
    linear = eqx.nn.Linear(2, 2, key=jax.random.key(0), dtype=F32)
    with pytest.raises(ValueError, match=r"MixedLinear\(dtype=\.\.\.\)"):
        pl.nn.MixedLinear(linear, dtype)


def test_float16_and_equal_width_are_accepted():
    u = _mlp(width=4, depth=1)
    x = _points(4)
    for dtype in (jnp.float16, F32):
        out = _values(pl.nn.mixed_precision(u, dtype), x)
        _assert_bf16_close(out, _values(u, x))


@pytest.mark.parametrize(
    "model",
    [
        lambda: _build(lambda k: pl.nn.factorized_mlp(2, width=4, depth=1, key=k)),
        lambda: jnp.ones(3, F32),
        lambda: pl.nn.mixed_precision(_mlp(width=4, depth=1)),
    ],
    ids=["factorized", "array", "already-converted"],
)
def test_nothing_to_convert(model):
    with pytest.raises(ValueError, match="Nothing would change"):
        pl.nn.mixed_precision(model())


def test_mixed_linear_needs_a_linear():
    # A ValueError naming `MixedLinear(linear=...)`; under pytest jaxtyping's
    # annotation check (a TypeError) rejects the argument first.
    with pytest.raises((TypeError, ValueError), match="linear"):
        pl.nn.MixedLinear(jnp.ones((2, 2), F32))  # pyright: ignore[reportArgumentType]


@pytest.mark.parametrize(
    "build",
    [
        lambda k: pl.nn.mlp(2, width=8, depth=2, key=k, dtype=F32),
        lambda k: eqx.nn.MLP(2, 3, 4, 3, scan=True, key=k, dtype=F32),
        lambda k: eqx.nn.MLP(
            "scalar", "scalar", 4, 1, use_bias=False, key=k, dtype=F32
        ),  # fmt: skip
        lambda k: pl.nn.PirateNet(2, width=8, depth=1, key=k, dtype=F32),
    ],
    ids=["mlp", "mlp-scan", "scalar-no-bias", "piratenet"],
)
def test_full_precision_undoes_mixed_precision(build):
    model = _build(build)
    back = pl.nn.full_precision(pl.nn.mixed_precision(model))
    assert _count(back, pl.nn.MixedLinear) == 0
    assert jax.tree.structure(back) == jax.tree.structure(model)
    for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(model)):
        assert a is b or not eqx.is_array(a)  # the same arrays, not copies
    x = _points(8)
    if _count(model, eqx.nn.MLP) and model.in_size == "scalar":
        x = x[:, 0]
    np.testing.assert_array_equal(_values(back, x), _values(model, x))


def test_full_precision_finishes_a_mixed_training():
    u, loss, sampler = burgers_problem(width=8, depth=2, counts=(32, 8, 8), dtype=F32)
    first = pl.training(loss, optax.adam(1e-3))
    state = first.init(pl.nn.mixed_precision(u), key=jax.random.key(1))
    mixed = pl.run(first, state, sampler, 20, args={"nu": NU}).state.model
    u32 = pl.nn.full_precision(mixed)
    # The trained master weights, now multiplied in float32.
    x = _points(8)
    _assert_bf16_close(_values(u32, x), _values(mixed, x))
    assert np.abs(np.asarray(_values(u32, x) - _values(mixed, x))).max() > 1e-6
    second = pl.training(loss, optax.adam(1e-3))
    out = pl.run(second, second.init(u32, key=jax.random.key(2)), sampler, 5,
                 args={"nu": NU})  # fmt: skip
    assert pl.RESULTS(int(out.result)) == pl.RESULTS.successful
    assert _count(out.state.model, eqx.nn.Linear) == 3


def test_full_precision_converts_ensembles_and_refuses_nothing_to_do():
    u = _mlp()
    stacked = jax.tree.map(lambda a: jnp.stack([a, -a]) if eqx.is_array(a) else a, u)
    mixed = eqx.filter_vmap(pl.nn.mixed_precision)(stacked)
    back = eqx.filter_vmap(pl.nn.full_precision)(mixed)
    assert _count(back, eqx.nn.Linear) == 3
    assert jax.tree.structure(back) == jax.tree.structure(stacked)
    for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(stacked)):
        assert not eqx.is_array(a) or np.array_equal(a, b)
    with pytest.raises(ValueError, match=r"full_precision\(model=\.\.\.\)"):
        pl.nn.full_precision(u)
