"""The examples run end to end (tiny settings).

Burgers: two phases, one history, exact resume. Allen–Cahn: the quasi-Newton
recipe; the adaptive recipe and the vanilla PINN of its ablation.
"""

import importlib.util
import math
from pathlib import Path

import jax
import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
# Tiny settings: 6 Adam steps, then 8 quasi-Newton steps.
TINY = dict(
    width=8,
    depth=2,
    interior=64,
    boundary=8,
    initial=8,
    adam_steps=6,
    qn_steps=8,
    qn_chunk=2,
    progress=False,
)


def _example(name="burgers"):
    spec = importlib.util.spec_from_file_location(
        f"{name}_example", EXAMPLES / f"{name}.py"
    )
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    return example


@pytest.fixture(scope="module")
def burgers_run(tmp_path_factory):
    """One uninterrupted tiny run, with its figures: the reference for resuming."""
    out = tmp_path_factory.mktemp("burgers")
    return _example().main(**TINY, out=str(out)), out


def test_burgers_example_runs_all_phases(burgers_run):
    result, out = burgers_run
    assert result["steps"] == 14
    assert math.isfinite(result["rel_l2"]) and result["rel_l2"] > 0
    assert result["prediction"].shape == (256, 100)
    assert result["prediction"].dtype == np.float64  # the last phase is float64
    for name in ("burgers.png", "burgers_loss.png"):
        assert (out / name).stat().st_size > 0


def test_burgers_example_resumes_exactly(tmp_path, burgers_run):
    example = _example()
    # checkpoint_every only matters with a checkpoint_dir: the straight run above
    # (no checkpoints) is the uninterrupted reference.
    settings = dict(TINY, checkpoint_every=2, out=None)
    straight, _ = burgers_run
    # Interrupted inside each phase in turn, then resumed from the checkpoints.
    ckpt = tmp_path / "ckpt"
    for stop in (4, 8, 12):
        example.main(**settings, steps=stop, checkpoint_dir=str(ckpt), resume=True)
    resumed = example.main(**settings, checkpoint_dir=str(ckpt), resume=True)
    assert resumed["steps"] == straight["steps"] == 14
    assert resumed["rel_l2"] == straight["rel_l2"]
    np.testing.assert_array_equal(resumed["prediction"], straight["prediction"])


AC_TINY = dict(
    steps=16,
    width=8,
    depth=2,
    fourier=4,
    points=32,
    initial_points=16,
    chunk_size=2,
    anneal_every=3,
    progress=False,
)
AC_VANILLA = dict(
    causal=False,
    annealing=False,
    fourier=0,
    factorized=False,
    modified=False,
    periodic=False,
)


AC_QN_TINY = dict(
    width=8,
    depth=2,
    adam_steps=4,
    adam_points=32,
    adam_initial=16,
    chunks=4,
    qn_steps=6,
    interior=64,
    initial=16,
    qn_chunk=3,
    progress=False,
)


def test_allen_cahn_example_runs_adam_then_quasi_newton_in_float64(tmp_path):
    lines = []
    result = _example("allen_cahn").main(
        **AC_QN_TINY, out=str(tmp_path), log=lines.append
    )
    assert result["steps"] == 10
    assert math.isfinite(result["rel_l2"]) and result["rel_l2"] > 0
    assert result["prediction"].shape == (201, 512)
    assert result["prediction"].dtype == np.float64
    assert result["terms"] == ["pde", "ic"]
    # One line after Adam, then one per quasi-Newton chunk.
    assert [line.split(":")[0] for line in lines] == ["step 4", "step 7", "step 10"]
    for name in ("allen_cahn.png", "allen_cahn_loss.png"):
        assert (tmp_path / name).stat().st_size > 0


@pytest.fixture(scope="module")
def allen_cahn_adaptive_run(tmp_path_factory):
    """The tiny recipe with default settings: result, output folder, log lines, and
    the matmul precision in effect when each line was logged."""
    out = tmp_path_factory.mktemp("allen_cahn_adaptive")
    lines, precisions = [], []

    def log(line):
        lines.append(line)
        precisions.append(jax.config.jax_default_matmul_precision)

    before = jax.config.jax_default_matmul_precision
    result = _example("allen_cahn_adaptive").main(**AC_TINY, out=str(out), log=log)
    after = jax.config.jax_default_matmul_precision
    return result, out, lines, precisions, (before, after)


def test_allen_cahn_adaptive_example_runs_the_recipe_in_stages(allen_cahn_adaptive_run):
    result, out, lines, _, _ = allen_cahn_adaptive_run
    lines = list(lines)
    assert result["steps"] == 16
    assert math.isfinite(result["rel_l2"]) and result["rel_l2"] > 0
    assert result["prediction"].shape == (201, 512)
    # One line per causal stage: the tolerance is at least the schedule 1, 2, ..., 128.
    tolerances = [float(line.split(",")[0].split()[-1]) for line in lines]
    assert len(tolerances) == 8 and tolerances[0] == 1.0
    assert all(t >= 2.0**k for k, t in enumerate(tolerances))
    fixed = _example("allen_cahn_adaptive").main(
        **AC_TINY, causal_balance=None, out=None, log=lines.append
    )
    assert [float(line.split(",")[0].split()[-1]) for line in lines[8:]] == [
        2.0**k for k in range(8)
    ]
    assert fixed["steps"] == 16
    for name in ("allen_cahn_adaptive.png", "allen_cahn_adaptive_loss.png"):
        assert (out / name).stat().st_size > 0


def test_allen_cahn_adaptive_example_vanilla_pinn_has_a_periodic_term():
    result = _example("allen_cahn_adaptive").main(**{**AC_TINY, **AC_VANILLA}, out=None)
    assert result["steps"] == 16 and math.isfinite(result["rel_l2"])
    assert result["terms"] == ["pde", "ic", "bc"]


def test_allen_cahn_adaptive_example_runs_under_the_requested_matmul_precision(
    allen_cahn_adaptive_run,
):
    _, _, _, seen, (before, after) = allen_cahn_adaptive_run
    assert seen and set(seen) == {"highest"}  # the default: true float32 on GPUs
    assert after == before  # restored afterwards
    seen = []
    record = lambda line: seen.append(jax.config.jax_default_matmul_precision)  # noqa: E731
    with jax.default_matmul_precision("bfloat16"):  # None keeps the caller's setting
        _example("allen_cahn_adaptive").main(
            **{**AC_TINY, "steps": 2}, matmul_precision=None, out=None, log=record
        )
    assert seen and set(seen) == {"bfloat16"}
