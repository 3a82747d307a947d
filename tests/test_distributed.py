"""Two processes train together (jax.distributed, Gloo) as one process would."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from distributed_case import STEPS
from parallel_case import CHECKPOINT_RUN, checkpoint_problem, flat

import pinnlib as pl

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_processes_train_as_one(tmp_path):
    flags = os.environ.get("XLA_FLAGS", "")
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}",
        "JAX_PLATFORMS": "cpu",
        "XLA_FLAGS": f"{flags} --xla_force_host_platform_device_count=2".strip(),
        "JAX_COORDINATOR_ADDRESS": f"localhost:{_free_port()}",
        "JAX_NUM_PROCESSES": "2",
    }
    script = [
        sys.executable,
        str(ROOT / "tests" / "distributed_case.py"),
        str(tmp_path),
    ]
    procs = [
        subprocess.Popen(
            script,
            cwd=ROOT,
            env={**env, "JAX_PROCESS_ID": str(i)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out[-3000:]

    u, training, sampler = checkpoint_problem()
    template = training.init(u, key=jax.random.key(1))
    one = pl.run(training, template, sampler, STEPS, **CHECKPOINT_RUN)
    for name in ("sharded", "per-device"):
        saved = pl.checkpoint.load(tmp_path / name, template)
        assert int(saved.state.step) == STEPS
        ours, theirs = flat(one.state), flat(saved.state)
        assert np.linalg.norm(theirs - ours) <= 1e-12 * np.linalg.norm(ours), name
        np.testing.assert_allclose(
            saved.history["loss"], one.metrics["loss"], rtol=1e-12, err_msg=name
        )


def test_initialize_alone_is_a_single_process(monkeypatch):
    for name in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        monkeypatch.delenv(name, raising=False)
    for name in [v for v in os.environ if v.startswith(("SLURM_", "OMPI_"))]:
        monkeypatch.delenv(name)
    # Here JAX has started its devices already; a fresh process, where
    # initialize first asks JAX to detect a cluster, finds none either.
    procs = pl.parallel.initialize()
    assert procs == pl.parallel.Processes(0, 1, 1, 1, "single")
    fresh = subprocess.run(
        [sys.executable, "-c", "import pinnlib as pl; print(pl.parallel.initialize())"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT)},
    )
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    assert "source='single'" in fresh.stdout, fresh.stdout


def test_initialize_names_what_is_missing(monkeypatch):
    for name in [v for v in os.environ if v.startswith(("SLURM_", "OMPI_", "PMIX_"))]:
        monkeypatch.delenv(name)  # outside a cluster job
    monkeypatch.delenv("JAX_NUM_PROCESSES", raising=False)
    monkeypatch.delenv("JAX_COORDINATOR_ADDRESS", raising=False)
    monkeypatch.setenv("JAX_PROCESS_ID", "0")
    with pytest.raises(ValueError, match=r"coordinator_address=..., num_processes"):
        pl.parallel.initialize()
    with pytest.raises(ValueError, match=r"an index in \[0, 2\)"):
        pl.parallel.initialize("localhost:1234", 2, 5)
    monkeypatch.setenv("JAX_NUM_PROCESSES", "two")
    with pytest.raises(ValueError, match="JAX_NUM_PROCESSES to an integer"):
        pl.parallel.initialize("localhost:1234")


def test_initialize_takes_what_is_missing_from_the_cluster(monkeypatch):
    # JAX_COORDINATOR_ADDRESS set by the user, the count and index from SLURM:
    # JAX completes the settings, which initialize must not refuse.
    calls = []
    monkeypatch.setattr(
        jax.distributed, "initialize", lambda *a, **k: calls.append(a[:3])
    )
    monkeypatch.setenv("JAX_COORDINATOR_ADDRESS", "node0:1234")
    monkeypatch.delenv("JAX_NUM_PROCESSES", raising=False)
    monkeypatch.delenv("JAX_PROCESS_ID", raising=False)
    monkeypatch.setenv("SLURM_STEP_NODELIST", "node[0-1]")
    monkeypatch.setenv("SLURM_PROCID", "0")
    procs = pl.parallel.initialize()
    assert calls == [("node0:1234", None, None)]
    assert procs.source == "slurm"
