import json
import os
import shutil

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


def _problem(dtype=jnp.float64, optimizer=None, width=8, seed=0):
    u, loss, sampler = burgers_problem(width=width, depth=2, dtype=dtype, seed=seed)
    optimizer = optimizer or optax.adam(1e-2)
    state = pl.init_state(u, optimizer, loss, key=jax.random.key(seed + 1))
    return sampler, eqx.filter_jit(pl.make_step(loss, optimizer)), state


def _trained(dtype, optimizer, steps):
    sampler, step, state = _problem(dtype, optimizer)
    for _ in range(steps):
        state, _ = step(state, pl.draw_batch(sampler, state, None), {"nu": NU})
    return sampler, step, state


@pytest.fixture(scope="module")
def adam32():
    return _trained(jnp.float32, optax.adam(1e-2), 2)


@pytest.fixture(scope="module")
def lbfgs64():
    return _trained(jnp.float64, optax.lbfgs(), 3)


def _assert_bitwise_equal(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        if isinstance(x, jax.Array) and jax.dtypes.issubdtype(
            x.dtype, jax.dtypes.prng_key
        ):
            assert y.dtype == x.dtype
            assert jax.random.key_impl(y) == jax.random.key_impl(x)
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        if eqx.is_array(x):
            assert type(x) is type(y) and x.dtype == y.dtype and x.shape == y.shape
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
        else:
            assert x == y and type(x) is type(y)


def _strip_keys(tree):
    is_key = lambda x: (
        isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)
    )
    return jax.tree.map(lambda x: jax.random.key_data(x) if is_key(x) else x, tree)


@pytest.mark.parametrize("case", ["adam32", "lbfgs64"])
def test_round_trip_is_bit_exact_and_resumes(case, request, tmp_path):
    sampler, step, state = request.getfixturevalue(case)
    dtype = jnp.float32 if case == "adam32" else jnp.float64
    history = {
        "step": np.arange(3),
        "loss": np.array([3.0, 2.0, 1.5]),
        "pde": np.array([1.0, 0.5, 0.25], np.float32),
    }
    path = ckpt.save(tmp_path, state, history=history, metadata={"phase": 1})
    assert path == tmp_path / f"ckpt-{int(state.step):09d}"
    assert sorted(p.name for p in path.iterdir()) == [
        "history.npz",
        "meta.json",
        "state.eqx",
    ]

    optimizer = optax.adam(1e-2) if case == "adam32" else optax.lbfgs()
    template = _problem(dtype, optimizer, seed=5)[2]  # other values, same shape
    loaded = ckpt.load(tmp_path, template)
    _assert_bitwise_equal(loaded.state, state)
    chex.assert_trees_all_equal(_strip_keys(loaded.state), _strip_keys(state))
    assert loaded.path == path
    assert loaded.metadata == {"phase": 1}
    assert loaded.history.keys() == history.keys()
    for name, values in history.items():
        assert loaded.history[name].dtype == values.dtype
        np.testing.assert_array_equal(loaded.history[name], values)
    info = loaded.info
    assert info["step"] == int(state.step) and info["loss"] == 1.5
    assert info["versions"]["pinnlib"] == pl.__version__
    assert {"jax", "equinox", "optax"} <= set(info["versions"])
    leaf = next(d for d in info["leaves"] if d["path"] == ".model.layers[0].weight")
    assert leaf["shape"] == [8, 2] and leaf["dtype"] == jnp.dtype(dtype).name
    assert json.loads((path / "meta.json").read_text()) == info

    # One more step from the loaded state equals one from the original, bit for bit.
    batch = pl.draw_batch(sampler, state, None)
    chex.assert_trees_all_equal(
        _strip_keys(step(loaded.state, batch, {"nu": NU})),
        _strip_keys(step(state, batch, {"nu": NU})),
    )


def test_lbfgs_memory_is_nontrivial(lbfgs64):
    # Guards the round-trip test above: the L-BFGS state really carries data.
    memory = lbfgs64[2].opt_state[0].diff_params_memory.layers[0].weight
    assert np.count_nonzero(np.asarray(memory)) > 0
    assert lbfgs64[2].opt_state[2].info.num_linesearch_steps.dtype == jnp.int64


def test_generic_pytree_with_step_keyword_and_shape_template(tmp_path):
    tree = {
        "a": jnp.arange(3.0),
        "keys": jax.random.split(jax.random.key(3, impl="rbg"), 2),
        "n": 7,
        "x": 0.1,
        "np": np.arange(4, dtype=np.int16),
        "f": jnp.sin,
    }
    with pytest.raises(ValueError, match=r"save\(step=\.\.\.\)"):
        ckpt.save(tmp_path, tree)
    path = ckpt.save(tmp_path, tree, step=12)
    assert path.name == "ckpt-000000012"
    assert ckpt.load(path, tree).history is None
    _assert_bitwise_equal(ckpt.load(path, tree).state, tree)

    arrays = {k: tree[k] for k in ("a", "keys")}
    shapes = jax.eval_shape(lambda: arrays)  # a template without values
    _assert_bitwise_equal(ckpt.load(path, {**tree, **shapes}).state, tree)


def test_keep_latest_and_leftover_temporary_directories(adam32, tmp_path):
    state = adam32[2]
    leftover = tmp_path / ".tmp-ckpt-000000099-12345"
    leftover.mkdir()
    (leftover / "meta.json").write_text("{")
    assert ckpt.latest(tmp_path) is None
    assert ckpt.latest(tmp_path / "missing") is None
    with pytest.raises(FileNotFoundError, match="no complete checkpoint"):
        ckpt.load(tmp_path, state)

    for k in (3, 1, 4, 2):
        at_k = eqx.tree_at(lambda s: s.step, state, jnp.asarray(k, jnp.int32))
        ckpt.save(tmp_path, at_k, metadata={"k": k}, keep=2)
    names = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
    # 2 was saved last: it is kept although older than 3 and 4; 1 is gone.
    assert names == ["ckpt-000000002", "ckpt-000000003", "ckpt-000000004"]
    assert ckpt.latest(tmp_path) == tmp_path / "ckpt-000000004"
    assert leftover.exists()  # never touched, never loaded
    loaded = ckpt.load(tmp_path, state)
    assert int(loaded.state.step) == 4 and loaded.metadata == {"k": 4}
    # The sidecar alone, without a template: the latest one, or a given one.
    assert ckpt.read_info(tmp_path) == loaded.info
    assert ckpt.read_info(tmp_path / "ckpt-000000002")["metadata"] == {"k": 2}
    with pytest.raises(FileNotFoundError, match=r"read_info\(path=...\)"):
        ckpt.read_info(tmp_path / "missing")

    # Saving the same step again replaces it; keep=None prunes nothing.
    at_4 = eqx.tree_at(lambda s: s.step, state, jnp.asarray(4, jnp.int32))
    ckpt.save(tmp_path, at_4, metadata={"again": True}, keep=None)
    assert ckpt.load(tmp_path, state).metadata == {"again": True}
    hidden = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("."))
    assert hidden == [leftover.name]
    assert len(list(tmp_path.glob("ckpt-*"))) == 3


def test_mismatch_errors_name_the_first_leaf(adam32, tmp_path):
    path = ckpt.save(tmp_path, adam32[2])
    wider = _problem(jnp.float32, width=16)[2]
    message = (
        r"pinnlib\.checkpoint\.load\(template=\.\.\.\): leaf \.model\.layers\[0\]"
        r"\.weight has shape \(8, 2\) float32 in the checkpoint but shape \(16, 2\) "
        r"float32 in the template \(different architecture\?\)"
    )
    with pytest.raises(ValueError, match=message):
        ckpt.load(path, wider)

    wide_float = _problem(jnp.float64)[2]
    message = r"\.model\.layers\[0\]\.weight has shape \(8, 2\) float32 .* float64"
    with pytest.raises(ValueError, match=message):
        ckpt.load(path, wide_float)

    lbfgs = _problem(jnp.float32, optax.lbfgs())[2]
    with pytest.raises(ValueError, match="leaves but the template has") as error:
        ckpt.load(path, lbfgs)
    text = str(error.value)
    saved_only, template_only = text.split("only in the checkpoint: ")[1].split(
        "only in the template: "
    )
    assert ".opt_state[0].mu (6 leaves)" in saved_only
    assert ".opt_state[0].nu (6 leaves)" in saved_only
    assert ".opt_state[0].diff_params_memory (6 leaves)" in template_only
    assert ".model" not in saved_only + template_only
    assert "first difference is leaf" in text


def _corrupt_state(path, how):
    file = path / "state.eqx"
    data = file.read_bytes()
    if how == "truncate":
        file.write_bytes(data[: len(data) // 2])
    elif how == "flip":
        i = len(data) - 3
        file.write_bytes(data[:i] + bytes([data[i] ^ 1]) + data[i + 1 :])
    elif how == "delete":
        file.unlink()
    elif how == "truncate-with-checksum":
        # A truncated file whose checksum was updated too: deserialising fails.
        file.write_bytes(data[: len(data) // 2])
        info = json.loads((path / "meta.json").read_text())
        info["files"]["state.eqx"] = {
            "sha256": ckpt._layout.sha256(data[: len(data) // 2]),
            "bytes": len(data) // 2,
        }
        (path / "meta.json").write_text(json.dumps(info))


@pytest.mark.parametrize(
    ("how", "why"),
    [
        ("truncate", "truncated"),
        ("flip", "sha256 checksum"),
        ("delete", "is missing"),
        ("truncate-with-checksum", "cannot be deserialised"),
    ],
)
def test_corrupt_state_file_is_reported(adam32, tmp_path, how, why):
    state = adam32[2]
    path = ckpt.save(tmp_path, state, history={"step": np.arange(2)})
    _corrupt_state(path, how)
    with pytest.raises(ValueError, match=f"state.eqx .*{why}.*corrupt or incomplete"):
        ckpt.load(path, state)


def test_corrupt_history_and_meta_are_reported(adam32, tmp_path):
    state = adam32[2]
    path = ckpt.save(tmp_path, state, history={"step": np.arange(5)})
    data = (path / "history.npz").read_bytes()
    (path / "history.npz").write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(ValueError, match="history.npz does not match its sha256"):
        ckpt.load(path, state)

    shutil.copy(path / "meta.json", tmp_path / "meta.bak")
    (path / "meta.json").write_text('{"step": 2, "fil')
    with pytest.raises(ValueError, match="meta.json cannot be read"):
        ckpt.load(path, state)
    os.remove(path / "meta.json")
    with pytest.raises(ValueError, match="meta.json is missing.*corrupt or incomplete"):
        ckpt.load(path, state)
    assert ckpt.latest(tmp_path) is None  # incomplete: skipped


def test_bad_arguments(adam32, tmp_path):
    state = adam32[2]
    with pytest.raises(ValueError, match=r"save\(keep=\.\.\.\)"):
        ckpt.save(tmp_path, state, keep=0)
    with pytest.raises(ValueError, match=r"save\(metadata=\.\.\.\)"):
        ckpt.save(tmp_path, state, metadata={"f": jnp.sin})
    with pytest.raises(ValueError, match=r"save\(history=\.\.\.\)"):
        ckpt.save(tmp_path, state, history={"bad": np.array([None])})
    with pytest.raises(ValueError, match=r"save\(step=\.\.\.\)"):
        ckpt.save(tmp_path, state, step=int(state.step) + 1)
    assert list(tmp_path.iterdir()) == []  # nothing written by a failed save
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ckpt.load(tmp_path / "nope", state)
