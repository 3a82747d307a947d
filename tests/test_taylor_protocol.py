"""The `taylor_streams` protocol: architectures defined outside pinnlib get fused
derivatives, checked against nested `jax.jvp` and `jax.hessian` in float64.

Computations are grouped under one `jit` per test (one compile is cheaper on CPU than
many eager primitives).
"""

import ast
import inspect
from pathlib import Path

import chex
import equinox as eqx
import jax
import jax.numpy as jnp
import pytest
from helpers import fill_random

import pinnlib as pl
import pinnlib.diff.taylor as T

# Same maths in a different order of operations: float64 rounding, a few layers deep.
RTOL, ATOL = 1e-11, 1e-12
X3 = jnp.array([0.3, -0.7, 0.45])
INDICES = ((), (0,), (2,), (0, 0), (1, 1), (0, 1), (1, 0), (0, 2), (-1, -1))


class ResidualMLP(eqx.Module):
    """A user's architecture: $h \\leftarrow h + \\alpha\\,\\text{gelu}(W h + b)$."""

    inp: eqx.nn.Linear
    blocks: tuple[eqx.nn.Linear, ...]
    out: eqx.nn.Linear
    alpha: float = eqx.field(static=True)
    scalar: bool = eqx.field(static=True)

    def __call__(self, x, *, key=None):
        h = jnp.tanh(self.inp(x))
        for block in self.blocks:
            h = h + self.alpha * jax.nn.gelu(block(h))
        y = self.out(h)
        return y[0] if self.scalar else y

    def taylor_streams(self, value, first, second):
        h = T.activate(jnp.tanh, T.dense(self.inp, (value, first, second)))
        for block in self.blocks:
            h = T.add(h, T.activate(jax.nn.gelu, T.dense(block, h)), scale=self.alpha)
        y = T.dense(self.out, h)
        return T.linear(lambda a: a[0], y) if self.scalar else y


class Wrapped(eqx.Module):
    """The same field behind a class without the method: must fall back."""

    net: ResidualMLP

    def __call__(self, x):
        return self.net(x)


def residual_mlp(seed, in_size=3, out_size="scalar", width=6, depth=2):
    def build():
        keys = jax.random.split(jax.random.key(0), depth + 2)
        lin = lambda k, n, m: eqx.nn.Linear(n, m, key=k, dtype=jnp.float64)  # noqa: E731
        m = 1 if out_size == "scalar" else out_size
        return ResidualMLP(
            lin(keys[0], in_size, width),
            tuple(lin(k, width, width) for k in keys[1:-1]),
            lin(keys[-1], width, m),
            0.5,
            out_size == "scalar",
        )

    # numpy-drawn weights: no threefry compile per shape (see tests/helpers.py)
    return fill_random(eqx.filter_eval_shape(build), seed)


@pytest.fixture
def spy(monkeypatch):
    """Count the calls of ``cls.taylor_streams`` (at trace time)."""

    def install(cls):
        calls = []
        original = cls.taylor_streams

        def counted(self, *streams):
            calls.append(type(self).__name__)
            return original(self, *streams)

        monkeypatch.setattr(cls, "taylor_streams", counted)
        return calls

    return install


def _traced_calls(calls, u):
    """The calls of a spied method while tracing ``partials`` (fresh, so no cache)."""
    calls.clear()
    eqx.filter_eval_shape(lambda u: pl.diff.partials(u, X3, (), (0,), (0, 1)), u)
    return list(calls)


def _reference(u, x, indices):
    """Value, gradient and Hessian of ``u`` from jax itself, picked per index."""
    value, grad, hess = u(x), jax.jacfwd(u)(x), jax.hessian(u)(x)
    pick = {0: lambda i: value, 1: lambda i: grad[..., i[0]]}
    pick[2] = lambda i: hess[..., i[0], i[1]]
    return tuple(pick[len(i)](i) for i in indices)


@eqx.filter_jit
def _all_ways(u, x):
    out = {
        "auto": pl.diff.partials(u, x, *INDICES),
        "fused": pl.diff.partials(u, x, *INDICES, fused=True),
        "nested": pl.diff.partials(u, x, *INDICES, fused=False),
        "jax": _reference(u, x, INDICES),
        "laplacian": pl.diff.laplacian(u)(x),
        "jax_hessian": jax.hessian(u)(x),
    }
    if out["auto"][0].ndim == 0:  # pl.diff.hessian is for scalar fields
        out["hessian"] = pl.diff.hessian(u)(x)
    return out


def _check_all_ways(u, x):
    out = _all_ways(u, x)
    chex.assert_trees_all_equal(out["auto"], out["fused"])  # default picks fused
    chex.assert_trees_all_close(out["fused"], out["nested"], rtol=RTOL, atol=ATOL)
    chex.assert_trees_all_close(out["fused"], out["jax"], rtol=RTOL, atol=ATOL)
    trace = jnp.trace(out["jax_hessian"], axis1=-2, axis2=-1)
    chex.assert_trees_all_close(out["laplacian"], trace, rtol=RTOL, atol=ATOL)
    if "hessian" in out:
        chex.assert_trees_all_close(
            out["hessian"], out["jax_hessian"], rtol=RTOL, atol=ATOL
        )
    # Genuinely non-trivial derivatives (a zero-vs-zero check proves nothing).
    assert all(float(jnp.max(jnp.abs(d))) > 1e-4 for d in out["fused"])
    return out


@pytest.mark.parametrize("out_size", ["scalar", 2])
def test_custom_architecture_is_fused_and_exact(spy, out_size):
    calls = spy(ResidualMLP)
    u = residual_mlp(1, out_size=out_size)
    assert _traced_calls(calls, u) == ["ResidualMLP"]
    out = _check_all_ways(u, X3)
    assert out["fused"][0].shape == (() if out_size == "scalar" else (2,))


def test_custom_architecture_behind_an_embedding(spy):
    calls = spy(ResidualMLP)
    emb = pl.nn.PeriodicEmbedding(3, axes=(0,), periods=(2.0,))
    u = eqx.nn.Sequential([emb, residual_mlp(2, in_size=emb.out_size)])
    assert _traced_calls(calls, u) == ["ResidualMLP"]
    _check_all_ways(u, X3)


def test_class_without_the_method_falls_back(spy):
    calls = spy(ResidualMLP)
    u = Wrapped(residual_mlp(3))
    with pytest.raises(ValueError, match=r"partials\(fused=True\).*taylor_streams"):
        pl.diff.partials(u, X3, (0, 0), fused=True)
    out = jax.jit(lambda x: pl.diff.partials(u, x, *INDICES))(X3)
    assert not calls  # nested jax.jvp through __call__, never the method
    expected = eqx.filter_jit(_reference)(u, X3, INDICES)
    chex.assert_trees_all_close(out, expected, rtol=RTOL, atol=ATOL)


def test_pinnlib_architectures_use_the_protocol(spy):
    # pinnlib's own classes take the same route as a user's (tracing only, no compile).
    kw = dict(width=5, depth=2, dtype=jnp.float64, key=jax.random.key(0))
    for cls, build in (
        (pl.nn.ModifiedMLP, lambda: pl.nn.ModifiedMLP(3, **kw)),
        (pl.nn.FactorizedMLP, lambda: pl.nn.factorized_mlp(3, **kw)),
    ):
        calls = spy(cls)
        u = fill_random(eqx.filter_eval_shape(build), 6)
        assert _traced_calls(calls, u) == [cls.__name__]


# ------------------------------------------------------------ input embeddings


def fourier_features(seed, in_size=3, num_features=4, trainable=False):
    def build():
        return pl.nn.FourierFeatures(
            in_size, num_features, key=jax.random.key(0), trainable=trainable
        )

    return fill_random(eqx.filter_eval_shape(build), seed)


@eqx.filter_jit
def _embedding_streams_and_references(layer, x):
    """The layer's streams, nested `jax.jvp` through `__call__` (`T.apply`) and jax's
    own Jacobian and Hessian, for every coordinate and pair of $x \\mapsto
    \\text{layer}(h(x))$ with $h = x + 0.3 x^2$ (non-zero second-order input streams,
    as behind another embedding)."""
    s = _seed(x)
    streams = T.add(s, T.product(s, s), scale=0.3)
    f = lambda y: layer(y + 0.3 * y * y)  # noqa: E731
    return (
        layer.taylor_streams(*streams),
        T.apply(layer, streams),
        (f(x), jax.jacfwd(f)(x), jax.hessian(f)(x)),
    )


def _check_embedding_streams(layer, x=X3):
    (value, first, second), nested, (v, jac, hess) = _embedding_streams_and_references(
        layer, x
    )
    chex.assert_trees_all_close((value, first, second), nested, rtol=RTOL, atol=ATOL)
    chex.assert_trees_all_close(value, v, rtol=RTOL, atol=ATOL)
    chex.assert_trees_all_close(
        jnp.stack([first[i] for i in range(3)], axis=-1), jac, rtol=RTOL, atol=ATOL
    )
    assert len(second) == 6
    for (i, j), h_ij in second.items():
        chex.assert_trees_all_close(h_ij, hess[:, i, j], rtol=RTOL, atol=ATOL)
    # Genuinely non-trivial derivatives (a zero-vs-zero check proves nothing).
    assert min(float(jnp.max(jnp.abs(h))) for h in first.values()) > 1e-3
    assert max(float(jnp.max(jnp.abs(h))) for h in second.values()) > 1e-3


@pytest.mark.parametrize("trainable", [False, True], ids=["fixed", "trainable"])
def test_fourier_features_streams_match_jax(trainable):
    _check_embedding_streams(fourier_features(7, trainable=trainable))


def test_periodic_embedding_streams_match_jax():
    _check_embedding_streams(
        pl.nn.PeriodicEmbedding(3, axes=(0, 2), periods=(2.0, 0.7))
    )


@pytest.mark.parametrize("trainable", [False, True], ids=["fixed", "trainable"])
def test_fourier_frequencies_get_the_gradient_of_call(trainable):
    # Through the streams B is trained exactly as through __call__: under
    # stop_gradient (an exact zero) unless trainable.
    ff = fourier_features(8, trainable=trainable)

    def curvature(layer, streams_of):
        value, first, second = streams_of(layer, _seed(X3))
        return jnp.sum(value) + sum(jnp.sum(h * h) for h in second.values())

    grads = eqx.filter_jit(
        lambda m: [
            eqx.filter_grad(curvature)(m, how).frequencies
            for how in (lambda m, s: m.taylor_streams(*s), T.apply)
        ]
    )(ff)
    if trainable:
        chex.assert_trees_all_close(*grads, rtol=RTOL, atol=ATOL)
        assert float(jnp.max(jnp.abs(grads[0]))) > 1e-3
    else:
        assert not jnp.any(grads[0]) and not jnp.any(grads[1])


@pytest.mark.parametrize("trainable", [False, True], ids=["fixed", "trainable"])
def test_embeddings_and_network_are_fused_end_to_end(spy, trainable):
    classes = (pl.nn.PeriodicEmbedding, pl.nn.FourierFeatures, pl.nn.ModifiedMLP)
    calls = {cls: spy(cls) for cls in classes}
    emb = pl.nn.PeriodicEmbedding(3, axes=(0,), periods=(2.0,))
    ff = fourier_features(9, in_size=emb.out_size, trainable=trainable)
    net = eqx.filter_eval_shape(
        lambda: pl.nn.ModifiedMLP(ff.out_size, width=5, depth=2, key=jax.random.key(0))
    )
    u = eqx.nn.Sequential([emb, ff, fill_random(net, 10)])
    eqx.filter_eval_shape(lambda u: pl.diff.partials(u, X3, (), (0,), (0, 1)), u)
    assert {cls.__name__: len(c) for cls, c in calls.items()} == {
        cls.__name__: 1 for cls in classes
    }
    _check_all_ways(u, X3)


def test_piratenet_embeds_through_fourier_features(spy):
    calls = spy(pl.nn.FourierFeatures)
    net = eqx.filter_eval_shape(
        lambda: pl.nn.PirateNet(3, width=4, depth=1, key=jax.random.key(0))
    )
    assert _traced_calls(calls, fill_random(net, 11)) == ["FourierFeatures"]


def test_parameter_gradients_through_the_protocol():
    # What training differentiates: d(mean residual^2)/d(theta), fused vs nested.
    u = residual_mlp(4)
    points = jnp.stack([X3, -X3, 0.5 * X3])

    def loss(model, fused):
        def r(x):
            v, v_0, v_11 = pl.diff.partials(model, x, (), (0,), (1, 1), fused=fused)
            return v * v_0 - v_11

        return jnp.mean(jax.vmap(r)(points) ** 2)

    grads = eqx.filter_jit(
        lambda m: (eqx.filter_grad(loss)(m, True), eqx.filter_grad(loss)(m, False))
    )(u)
    chex.assert_trees_all_close(*grads, rtol=1e-9, atol=1e-12)
    assert float(jnp.max(jnp.abs(grads[0].inp.weight))) > 1e-6


class Broken(eqx.Module):
    def __call__(self, x):
        return jnp.sum(x**2)

    def taylor_streams(self, value, first, second):
        return jnp.sum(value**2), {}, {}  # drops the streams it was given


def test_a_method_that_drops_streams_is_refused():
    with pytest.raises(ValueError, match=r"Broken\.taylor_streams.*keys \[0\]"):
        pl.diff.partials(Broken(), X3, (0,))


# ------------------------------------------------------------ the building blocks


def _seed(x: jax.Array) -> T.Streams:
    """The streams of the point itself: $x$, $e_i$, and zero second derivatives."""
    e, d = jnp.eye(x.shape[0], dtype=x.dtype), x.shape[0]
    pairs = [(i, j) for i in range(d) for j in range(i, d)]
    return x, {i: e[i] for i in range(d)}, {ij: jnp.zeros_like(x) for ij in pairs}


def test_blocks_match_jax_hessian():
    # f(x) = sum(exp(0.3 sin(A x) tanh(B x)^2)) - softplus(B x)_0 + 2 x_1, from blocks.
    grid = jnp.linspace(-1.0, 1.0, 12)
    a, b = grid.reshape(4, 3), jnp.cos(3 * grid).reshape(4, 3)
    g = lambda h: jnp.sum(jnp.exp(0.3 * h))  # noqa: E731

    def f(x):
        t = jnp.tanh(b @ x)
        return g(jnp.sin(a @ x) * (t * t)) - jax.nn.softplus(b @ x)[0] + 2 * x[1]

    def from_blocks(x):
        s = _seed(x)
        za, zb = T.linear(lambda h: a @ h, s), T.linear(lambda h: b @ h, s)
        t = T.activate(jnp.tanh, zb)
        p = T.apply(g, T.product(T.activate(jnp.sin, za), T.product(t, t)))
        soft = T.linear(lambda h: h[0], T.activate(jax.nn.softplus, zb))
        return T.add(T.add(p, soft, scale=-1.0), T.linear(lambda h: h[1], s), scale=2)

    @jax.jit
    def both(x):
        return from_blocks(x), (f(x), jax.grad(f)(x), jax.hessian(f)(x))

    (value, first, second), (v, grad, hess) = both(X3)
    chex.assert_trees_all_close(value, v, rtol=RTOL, atol=ATOL)
    chex.assert_trees_all_close(
        jnp.stack([first[i] for i in range(3)]), grad, rtol=RTOL
    )
    assert len(second) == 6
    for (i, j), h_ij in second.items():
        chex.assert_trees_all_close(h_ij, hess[i, j], rtol=RTOL, atol=ATOL)


def test_dense_matches_the_layer():
    shapes = eqx.filter_eval_shape(
        lambda: eqx.nn.Linear(3, 4, key=jax.random.key(0), dtype=jnp.float64)
    )
    layer, e = fill_random(shapes, 5), jnp.eye(3)
    z, first, second = T.dense(layer, (X3, {0: e[0]}, {(0, 1): e[1]}))
    chex.assert_trees_all_close(z, layer(X3), rtol=RTOL)
    chex.assert_trees_all_close(first[0], layer.weight[:, 0], rtol=RTOL)  # no bias
    chex.assert_trees_all_close(second[(0, 1)], layer.weight[:, 1], rtol=RTOL)


# ------------------------------------------------------------------ the contract


def test_taylor_blocks_are_documented():
    pages = (Path(__file__).resolve().parents[1] / "docs" / "api").glob("*.md")
    text = "\n".join(p.read_text(encoding="utf-8") for p in pages)
    for name in T.__all__:
        assert f"::: pinnlib.diff.taylor.{name}" in text, name
        obj = getattr(T, name)
        if inspect.isfunction(obj):
            assert "!!! example" in (obj.__doc__ or ""), name


def test_diff_dispatches_on_no_pinnlib_class():
    # pinnlib's own architectures opt in through the method, as a user's would.
    for path in (Path(pl.diff.__file__).parent).glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.lstrip(".").startswith("nn"), path.name
                assert not node.module.startswith("pinnlib.nn"), path.name


def test_extending_guide_example_runs(capsys):
    # The worked example in docs/extending.md runs as written and takes the fused path.
    guide = Path(__file__).resolve().parents[1] / "docs" / "extending.md"
    text = guide.read_text(encoding="utf-8")
    section = text.split("## A custom architecture", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace = {}
    exec(compile(code, str(guide), "exec"), namespace)  # noqa: S102
    errors = eval(capsys.readouterr().out)  # noqa: S307
    assert max(errors) < 1e-10  # float64 under the tests: rounding only
    assert namespace["lap"].shape == (8,)
