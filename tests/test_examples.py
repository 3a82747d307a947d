"""The Burgers example runs end to end (tiny settings): three phases, one history."""

import importlib.util
import math
from pathlib import Path

import numpy as np

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "burgers.py"
# Tiny settings: 6 Adam steps, then at most 4 + 4 L-BFGS steps.
TINY = dict(
    width=8,
    depth=2,
    interior=64,
    boundary=8,
    initial=8,
    adam_steps=6,
    lbfgs_steps=4,
    lbfgs64_steps=4,
    lbfgs_chunk=2,
    lbfgs_min_improvement=0.0,
    progress=False,
)


def _example():
    spec = importlib.util.spec_from_file_location("burgers_example", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    return example


def test_burgers_example_runs_all_phases(tmp_path):
    result = _example().main(**TINY, out=str(tmp_path))
    assert result["steps"] == 14
    assert math.isfinite(result["rel_l2"]) and result["rel_l2"] > 0
    assert result["prediction"].shape == (256, 100)
    assert result["prediction"].dtype == np.float64  # the last phase is float64
    for name in ("burgers.png", "burgers_loss.png"):
        assert (tmp_path / name).stat().st_size > 0


def test_burgers_example_resumes_exactly(tmp_path):
    example = _example()
    settings = dict(TINY, checkpoint_every=2, out=None)
    straight = example.main(**settings)
    # Interrupted inside each phase in turn, then resumed from the checkpoints.
    ckpt = tmp_path / "ckpt"
    for stop in (4, 8, 12):
        example.main(**settings, steps=stop, checkpoint_dir=str(ckpt), resume=True)
    resumed = example.main(**settings, checkpoint_dir=str(ckpt), resume=True)
    assert resumed["steps"] == straight["steps"] == 14
    assert resumed["rel_l2"] == straight["rel_l2"]
    np.testing.assert_array_equal(resumed["prediction"], straight["prediction"])
