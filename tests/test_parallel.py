"""Data-parallel training gives the numbers of one device (8 host devices here).

The 8-device runs happen in a subprocess (the device count is fixed when JAX
starts); this process has one device and continues or provides the checkpoints
that cross device counts.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import burgers_problem
from parallel_case import (
    CHECKPOINT_RUN,
    checkpoint_problem,
    flat,
)

import pinnlib as pl

ROOT = Path(__file__).resolve().parents[1]
# Relative differences allowed between one device and eight: the additions of the
# loss sums and gradients happen in another order (float rounding, nothing else).
FLOAT32, FLOAT64 = 1e-6, 1e-12


@pytest.fixture(scope="module")
def eight(tmp_path_factory):
    """The results of tests/parallel_case.py on 8 host devices, and its directory."""
    directory = tmp_path_factory.mktemp("parallel")
    u, training, sampler = checkpoint_problem()
    first = pl.run(
        training, training.init(u, key=jax.random.key(1)), sampler, 10, **CHECKPOINT_RUN
    )
    pl.checkpoint.save(directory / "one", first.state)
    continued = pl.run(training, first.state, sampler, 10, **CHECKPOINT_RUN)
    flags = os.environ.get("XLA_FLAGS", "")
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}",
        "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": f"{flags} --xla_force_host_platform_device_count=8".strip(),
    }
    out = directory / "results.json"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "parallel_case.py"),
            str(out),
            str(directory),
        ],
        check=True,
        cwd=ROOT,
        env=env,
        timeout=600,
    )
    results = json.loads(out.read_text())
    return results, directory, continued


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_resampled_weighted_adam_on_8_devices_equals_1(eight, dtype):
    # 100 steps, points redrawn every 10 (counts 803/50/37: uneven splits) and
    # gradient-norm annealing every 10.
    found = eight[0][f"adam-{dtype}"]
    tolerance = FLOAT32 if dtype == "float32" else FLOAT64
    for what in ("loss", "params"):
        assert found[what] <= tolerance, (what, found)
    # The weights are ratios of gradient norms, and Adam's second moments square the
    # gradients' rounding differences: in float32 both end a few 1e-6 apart under
    # the suite's compiler settings (conftest.py; 8e-7 with XLA's defaults).
    state_tolerance = 10 * FLOAT32 if dtype == "float32" else FLOAT64
    assert found["weights"] <= state_tolerance, found
    assert found["opt_state"] <= state_tolerance, found


def test_per_device_gradient_on_8_devices_equals_1(eight):
    # pl.parallel.data_parallel: sums and gradients per device, one psum (float32;
    # its exactness in float64 is checked against jax.value_and_grad below).
    found = eight[0]["per-device-float32"]
    for what in ("loss", "params"):
        assert found[what] <= FLOAT32, (what, found)
    # Ratios of gradient norms (the weights) and Adam's moments carry the
    # gradients' rounding differences, relative to small values.
    assert found["weights"] <= 100 * FLOAT32, found
    assert found["opt_state"] <= 100 * FLOAT32, found
    assert found["per_device"], found


def test_per_device_gradient_with_counts_that_do_not_divide(eight):
    # 803, 50 and 37 points on 8 devices: padded per device, the padding's
    # statistics taken off again; 100 steps with gradient-norm annealing.
    found = eight[0]["per-device-uneven-float64"]
    # The per-device path ran, and the padding moved no points between devices.
    assert found["per_device"] and found["gathered"] == 0, found
    for what in ("loss", "params", "weights", "opt_state"):
        assert found[what] <= FLOAT64, (what, found)


def _both(loss, mesh, rebuild, params, batch, weights):
    """`data_parallel(loss)`'s value and gradient at `params`, and jax's."""

    def plain(p):
        model, args = rebuild(p)
        return loss(model, batch, weights, args)

    sharded = pl.parallel.data_parallel(loss, mesh)
    found = jax.jit(
        lambda p: sharded.value_and_grad(rebuild, p, batch, weights, rebuild(p)[1])
    )(params)
    return found, jax.jit(jax.value_and_grad(plain, has_aux=True))(params)


def _assert_same(found, expected):
    (total, terms), grads = found
    (total_1, terms_1), grads_1 = expected
    np.testing.assert_allclose(total, total_1, rtol=1e-13)
    for name in terms:
        np.testing.assert_allclose(terms[name], terms_1[name], rtol=1e-13)
    for g, g_1 in zip(jax.tree.leaves(grads), jax.tree.leaves(grads_1), strict=True):
        np.testing.assert_allclose(g, g_1, rtol=1e-12, atol=1e-15)


def test_per_device_gradient_is_the_gradient_or_declines():
    mesh = jax.make_mesh((1,), ("data",))
    u, loss, sampler = burgers_problem(width=8, depth=2, counts=(40, 8, 8))
    batch = sampler(jax.random.key(0))
    weights = {"pde": jnp.asarray(2.0), "bc": jnp.asarray(1.0), "ic": jnp.asarray(0.5)}
    args = {"nu": 0.05}
    params, static = eqx.partition(u, eqx.is_inexact_array)

    def rebuild(p):
        return eqx.combine(p, static), args

    _assert_same(*_both(loss, mesh, rebuild, params, batch, weights))
    # A causal residual reduces the sums and counts of its time chunks, and a
    # relative error its sum of ratios and count: the same value and gradient.
    causal = pl.losses.combine(
        pde=pl.losses.causal_residual(pl.pdes.burgers, num_chunks=4),
        bc=loss.terms["bc"],
        ic=pl.losses.relative_l2(),
    )
    other = {**batch, "ic": (batch["ic"], 1.0 + batch["ic"][:, 0] ** 2)}
    _assert_same(*_both(causal, mesh, rebuild, params, other, weights))
    # A trainable coefficient (nu, read by the residual through `args`): its
    # gradient comes through the points' statistics as well.

    def rebuild_nu(p):
        return eqx.combine(p[0], static), {"nu": p[1]}

    trainable = (params, jnp.asarray(0.05))
    found, expected = _both(causal, mesh, rebuild_nu, trainable, other, weights)
    assert abs(float(found[1][1])) > 0
    _assert_same(found, expected)
    # A zero-mean gauge reduces the sum of the field and the count.
    mean = pl.losses.combine(
        pde=loss.terms["pde"], bc=pl.losses.mean_value(0.3), ic=loss.terms["ic"]
    )
    _assert_same(*_both(mean, mesh, rebuild, params, batch, weights))
    # A plain function has no statistics: the step differentiates the loss as one
    # partitioned program.
    plain = pl.losses.combine(
        pde=loss.terms["pde"],
        bc=lambda m, points, a: jnp.mean(jax.vmap(m)(points)) ** 2,
        ic=loss.terms["ic"],
    )
    declined = pl.parallel.data_parallel(plain, mesh)
    assert declined.value_and_grad(rebuild, params, batch, weights, args) is None
    with pytest.raises(ValueError, match="a CompositeLoss"):
        pl.parallel.data_parallel(lambda m, b, w, a: 0.0, mesh)


def test_lbfgs_on_8_devices_equals_1(eight):
    found = eight[0]["lbfgs-float64"]
    for what in ("loss", "params", "opt_state"):
        assert found[what] <= FLOAT64, (what, found)


def test_lbfgs_in_float32_drifts_only_by_rounding(eight):
    # In float32 the curvature pairs of L-BFGS amplify the 1e-7 rounding of the
    # reductions step by step; the float64 runs above show the programs agree. On
    # one device, the same points in another order drift as far: 8 devices add
    # nothing but the order of the additions.
    found = eight[0]["lbfgs-float32"]
    for what in ("loss", "params"):
        assert found[what] <= 1e-4, (what, found)
        assert found[what] <= 10 * found[f"reordered_{what}"], (what, found)


@pytest.mark.parametrize(
    "case",
    [
        "ntk",
        "rad",
        "rar_d",
        "time_marching",
        "causal",
        "causal-per-device",
        "gauss_newton",
        "ssbroyden",
    ],
)
def test_strategies_and_optimizers_on_8_devices_equal_1(eight, case):
    found = eight[0][f"{case}-float64"]
    for what in ("loss", "params", "weights", "opt_state"):
        assert found[what] <= FLOAT64, (what, found)
    if case.endswith("per-device"):
        assert found["per_device"] and found["gathered"] == 0, found


@pytest.mark.parametrize("case", ["members", "members-data", "members-data-per-device"])
def test_sharded_ensemble_equals_vmapped_on_one_device(eight, case):
    found = eight[0][case]
    assert found["spec"].startswith("P('members'"), found
    for what in ("loss", "params", "opt_state"):
        assert found[what] <= FLOAT32, (what, found)
    if case.endswith("per-device"):
        # Per device, the members stay split: no more is gathered than by the
        # partitioned step (the sampler's boundary faces), not every member.
        assert found["per_device"], found
        assert found["gathered"] <= found["gathered_partitioned"], found


def test_sharded_sampler_draws_on_each_device(eight):
    # The draw of one device, split over 8, with no points moved between devices:
    # neither for a space-time interior nor for a set operation sampled by
    # rejection, whose failure check once pinned the whole batch to one device.
    for name, found in eight[0]["sampler_placement"].items():
        assert found == {"equal": True, "gathered": 0, "devices": 8}, (name, found)


def test_checkpoint_of_8_devices_continues_on_1(eight):
    results, directory, _ = eight
    u, training, sampler = checkpoint_problem()
    template = training.init(u, key=jax.random.key(1))
    state = pl.checkpoint.load(directory / "eight", template).state
    assert jax.tree.leaves(state.model)[0].sharding.device_set == {jax.devices()[0]}
    continued = pl.run(training, state, sampler, 10, **CHECKPOINT_RUN)
    stayed = np.load(directory / "eight-continued.npy")
    ours = flat(continued.state)
    assert np.linalg.norm(ours - stayed) <= FLOAT64 * np.linalg.norm(stayed)
    assert results["checkpoints"]["eight_to_eight_equal"]


def test_checkpoint_of_1_device_continues_on_8(eight):
    results, directory, continued = eight
    assert results["checkpoints"]["restored_devices"] == 8
    on_eight = np.load(directory / "one-continued-on-eight.npy")
    ours = flat(continued.state)
    assert np.linalg.norm(on_eight - ours) <= FLOAT64 * np.linalg.norm(ours)


def test_placement_errors_name_the_fix():
    mesh = jax.make_mesh((1,), ("data",))
    with pytest.raises(ValueError, match=r"mesh's axis names \['data'\]"):
        pl.parallel.shard({"pde": jnp.zeros((4, 2))}, mesh, "points")
    with pytest.raises(ValueError, match="jax.sharding.Mesh"):
        pl.parallel.replicate({"a": jnp.zeros(3)}, "data")
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        pl.parallel.shard({"a": jnp.zeros(3)}, mesh, ("data", None))
    with pytest.raises(ValueError, match="a pinnlib.TrainState"):
        pl.parallel.shard_state({"a": jnp.zeros(3)}, mesh)
    with pytest.raises(ValueError, match="a sampler"):
        pl.parallel.shard_sampler(jnp.zeros(3), mesh)
    with pytest.raises(ValueError, match=r"axes=\.\.\.\).*at most once"):
        pl.parallel.shard({"a": jnp.zeros((2, 2))}, mesh, ("data", "data"))


def test_counts_that_do_not_divide_say_what_to_change(eight):
    # On 8 devices: each message names the array and the fix that applies to it.
    found = eight[0]["placement_errors"]
    assert "multiple of 8 points" in found["batch"], found
    assert "['pde'] of shape (10, 2)" in found["batch"], found
    assert "state.points" in found["strategy_points"], found
    assert "num_points" in found["strategy_points"], found
    assert "eqx.filter_vmap" in found["unbatched_members"], found


def test_per_device_loss_names_a_missing_term():
    mesh = jax.make_mesh((1,), ("data",))
    u, loss, sampler = burgers_problem(width=4, depth=1, counts=(8, 4, 4))
    params, static = eqx.partition(u, eqx.is_inexact_array)
    batch = sampler(jax.random.key(0))
    del batch["bc"]
    fast = pl.parallel.data_parallel(loss, mesh)
    with pytest.raises(ValueError, match="bc"):
        fast.value_and_grad(
            lambda p: (eqx.combine(p, static), {"nu": 0.1}),
            params,
            batch,
            loss.init_weights(),
        )


def test_sharded_sampler_keeps_the_draws_and_step_awareness():
    mesh = jax.make_mesh((1,), ("data",))
    domain = pl.domains.Interval(0.0, 1.0)
    sampler = pl.domains.sampler(domain, pde=("interior", 10))
    wrapped = pl.parallel.shard_sampler(sampler, mesh)
    key = jax.random.key(0)
    np.testing.assert_array_equal(jax.jit(wrapped)(key)["pde"], sampler(key)["pde"])
    assert wrapped.at_step is None
    batches = pl.data.minibatches({"data": (jnp.arange(8.0)[:, None],)}, 4)
    wrapped = pl.parallel.shard_sampler(batches, mesh)
    assert callable(wrapped.at_step)
    got = wrapped.at_step(key, jnp.asarray(1))
    np.testing.assert_array_equal(
        got["data"][0], batches.at_step(key, jnp.asarray(1))["data"][0]
    )
    with pytest.raises(ValueError, match="resample_every"):
        training = pl.training(
            pl.losses.combine(data=pl.losses.data()), optax.adam(1e-3)
        )
        state = training.init(lambda x: x[0], key=key)
        pl.run(training, state, wrapped, 2)
