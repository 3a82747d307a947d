"""History export (JSON/CSV), the log hook, and continuing early stopping."""

import csv
import dataclasses
import json

import jax
import numpy as np
import optax
import pytest

import pinnlib as pl

NU = 0.01 / np.pi


def _problem():
    domain = pl.domains.SpaceTime(pl.domains.Interval(-1.0, 1.0), 0.0, 1.0)
    u = pl.nn.mlp(2, width=6, depth=2, key=jax.random.key(0))
    loss = pl.losses.combine(
        pde=pl.losses.residual(pl.pdes.burgers), bc=pl.losses.dirichlet(0.0)
    )
    sampler = pl.domains.sampler(domain, pde=("interior", 32), bc=("boundary", 8))
    adam = optax.adam(1e-2)
    state = pl.init_state(u, adam, loss, key=jax.random.key(1))
    return pl.make_step(loss, adam), state, sampler


def test_save_history_json_and_csv_round_trip(tmp_path):
    step, state, sampler = _problem()
    result = pl.fit(step, state, sampler, 6, args={"nu": NU}, progress=False)
    history = dict(result.history, lr=np.full(6, np.nan))
    pl.save_history(history, tmp_path / "h.json")
    loaded = json.loads((tmp_path / "h.json").read_text())
    assert set(loaded) == set(history) and loaded["lr"] == [None] * 6
    np.testing.assert_array_equal(loaded["loss"], history["loss"])  # exact floats
    assert loaded["step"] == list(range(6))
    pl.save_history(history, tmp_path / "sub" / "h.csv")
    with open(tmp_path / "sub" / "h.csv") as file:
        rows = list(csv.reader(file))
    assert rows[0] == list(history) and len(rows) == 7
    column = rows[0].index("loss")
    np.testing.assert_array_equal([float(r[column]) for r in rows[1:]], history["loss"])
    assert "weight:pde" in rows[0] and "grad_norm" in rows[0]
    with pytest.raises(ValueError, match=r"save_history\(path=...\)"):
        pl.save_history(history, tmp_path / "h.txt")
    with pytest.raises(ValueError, match=r"save_history\(history=...\)"):
        pl.save_history({"loss": np.ones(3)}, tmp_path / "h.csv")


def test_log_hook_gets_a_record_after_the_first_step_and_every_chunk():
    step, state, sampler = _problem()
    records = []
    result = pl.fit(
        step,
        state,
        sampler,
        10,
        args={"nu": NU},
        chunk_size=4,
        progress=pl.Progress(bar=False, log=records.append),
    )
    # The first call (which compiles) takes one step, to measure the step time;
    # calls then run to the end of each chunk at the latest (a short one more while
    # the compile time still counts as step time).
    steps = [r["step"] for r in records]
    assert steps[0] == 1 and steps == sorted(set(steps)) and {4, 8, 10} <= set(steps)
    last = records[-1]
    assert last["loss"] == result.history["loss"][-1]
    assert last["weight:pde"] == 1.0 and last["steps_per_s"] > 0
    assert {"grad_norm", "pde", "bc"} <= set(last)


def test_validation_record_continues_early_stopping_exactly():
    step, state, sampler = _problem()
    values = iter([5.0, 4.0, 3.99, 3.0, 2.0])
    validation = pl.Validation(
        lambda s: next(values), patience=1, min_rel_improvement=0.01
    )
    kw = dict(args={"nu": NU}, chunk_size=2, progress=False, validation=validation)
    # Uninterrupted: stops after the third validation (3.99 is < 1% better than 4).
    full = pl.fit(step, state, sampler, 10, **kw)
    assert full.stopped_early and int(full.state.step) == 6
    # Interrupted after two chunks, resumed from the first run's result.
    values = iter([5.0, 4.0, 3.99, 3.0, 2.0])
    first = pl.fit(step, state, sampler, 4, **kw)
    resumed = pl.fit(step, first.state, sampler, 6, resume=first, **kw)
    assert resumed.stopped_early and int(resumed.state.step) == 6
    np.testing.assert_array_equal(resumed.validation["value"], full.validation["value"])
    np.testing.assert_array_equal(resumed.history["step"], np.arange(6))
    with pytest.raises(ValueError, match=r"fit\(resume=...\)"):
        broken = dataclasses.replace(first, validation={"value": np.ones(1)})
        pl.fit(step, state, sampler, 2, resume=broken, progress=False, args={"nu": NU})
    with pytest.raises(ValueError, match=r"fit\(history=...\).*resume="):
        pl.fit(step, state, sampler, 2, resume=first, history=first.history)
