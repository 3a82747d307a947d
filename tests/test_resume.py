"""N steps straight equal N/2 steps, a checkpoint, a fresh process and N/2 more."""

import os
import subprocess
import sys
from pathlib import Path

import chex
import equinox as eqx
import jax
import numpy as np
from resume_case import CASES, HALF, build

import pinnlib as pl

ROOT = Path(__file__).resolve().parents[1]


def _arrays(state):
    """The state's arrays, typed PRNG keys as their raw data (comparable bytes)."""
    return jax.tree.map(
        lambda x: (
            jax.random.key_data(x)
            if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)
            else x
        ),
        eqx.filter(state, eqx.is_array),
    )


def test_resume_in_a_fresh_process_is_bit_for_bit(tmp_path):
    straight = {}
    for case in CASES:
        step, state, batch, kw = build(case)
        straight[case] = pl.fit(step, state, batch, 2 * HALF, **kw)
        pl.fit(  # the first half writes its checkpoint at the end
            step,
            state,
            batch,
            HALF,
            checkpoints=pl.Checkpoints(tmp_path / case / "first"),
            **kw,
        )
    subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("resume_case.py")),
            str(tmp_path),
        ],
        check=True,
        cwd=ROOT,
        # The same environment (LAPACK/BLAS settings such as OPENBLAS_CORETYPE pick
        # the kernels, hence the rounding, of the dense solves); a new process.
        env={**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"},
        timeout=300,
    )
    for case in CASES:
        _, template, _, _ = build(case)
        resumed = pl.checkpoint.load(tmp_path / case / "second", template)
        expected = straight[case]
        assert int(resumed.state.step) == 2 * HALF
        chex.assert_trees_all_equal(
            _arrays(resumed.state), _arrays(expected.state), custom_message=case
        )
        for name, values in expected.history.items():
            np.testing.assert_array_equal(resumed.history[name], values, err_msg=case)
