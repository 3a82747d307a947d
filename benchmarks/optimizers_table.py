"""Optimizers on Burgers at equal wall time: relative L2 error against time, per row.

    u_t + u u_x = nu u_xx,  x in [-1, 1], t in [0, 1],  nu = 0.01 / pi,
    u(x, 0) = -sin(pi x),   u(-1, t) = u(1, t) = 0    (as in examples/burgers.py).

One shared warm start (Adam in float32, `--adam-steps`, timed on its own and not
charged to any row), then every row continues from it with one optimizer for the
same wall-clock budget (`--budget-s` per row, counted from the start of the row's
training, its compilation included):

- `adam`: Adam continued in float32 (its optimizer state kept);
- `lbfgs-f32`, `lbfgs-f64`: `optax.lbfgs(memory_size=50)`, zoom line search;
- `bfgs-f64`, `ssbfgs-f64`, `ssbroyden-f64`, `ssbroyden-f32`: the dense
  quasi-Newton methods of `pinnlib.optim.quasi_newton`;
- `lm-dense-f64`, `lm-cg-f64`: `pinnlib.optim.levenberg_marquardt`, Cholesky on the
  normal equations, or matrix-free CG (rtol = atol = 1e-10, at most 100 iterations).

The line-search rows reuse the value and gradient of the accepted point
(`reuse_value=True`). All rows train on the same fixed Sobol points (drawn from the
warm start's key, in the row's dtype). After every chunk the relative L2 error
against Cole–Hopf on the standard 256 x 100 grid is recorded (evaluated in the
model's dtype), with the seconds since the row's start: the error-vs-time curve.
Chunk sizes aim at about 40 points per curve from a rough steps/s per row (scaled
by the number of points); `--chunk ROW=N,...` overrides them.

Default set-up: the points of the Burgers example (8000 interior, 200 boundary and
400 initial Sobol points: with fewer, the float64 quasi-Newton rows drive the loss
far below what the point set can tell apart, and the error rises again) and a network
small enough that a dense Levenberg–Marquardt step (an 8600 x 921 Jacobian) takes a
fraction of a second: MLP 2-20-20-20-1 tanh (921 parameters); Adam lr 1e-3 for
2000 warm-start steps; 90 s per row.

Writes a markdown table (row, steps, steps/s with compilation included, final loss,
final and best rel. L2, budget) to `--table-out`, everything (set-up, warm start,
per-row curves) to `--json-out`, and with `--plot FILE.png` the curves (log error against
seconds). The last line printed is one JSON object: the set-up, the warm start and
the per-row summary.

    python benchmarks/optimizers_table.py [--budget-s S] [--adam-steps N]
        [--rows adam,lbfgs-f64,...] [--width W] [--depth D] [--interior N]
        [--boundary N] [--initial N] [--chunk ROW=N,...] [--seed S]
        [--table-out optimizers_table.md] [--json-out optimizers_table.json]
        [--plot optimizers_table.png]
"""

import argparse
import json
import textwrap
import time
from pathlib import Path
from typing import NamedTuple

import jax

jax.config.update("jax_enable_x64", True)

import equinox as eqx  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import lineax as lx  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import pinnlib as pl  # noqa: E402

NU = 0.01 / np.pi
MAX_STEPS = 10**9  # the budget ends every row
CURVE_POINTS = 40  # validations per curve the default chunk sizes aim at
DEFAULT_POINTS = 2300  # the collocation points the rates below were guessed for


class Row(NamedTuple):
    """One row: its optimizer (None: continue the warm start's Adam), dtype, rate."""

    make: object
    reuse_value: bool
    dtype: object
    rate: float  # guessed steps/s at the default set-up; sets only the chunk size


def _lm_cg():
    cg = lx.CG(rtol=1e-10, atol=1e-10, max_steps=100)
    return pl.optim.levenberg_marquardt(solver=cg)


def _lbfgs():
    return optax.lbfgs(memory_size=50)


def _qn(method):
    return lambda: pl.optim.quasi_newton(method)


F32, F64 = jnp.float32, jnp.float64
ROWS = {
    "adam": Row(None, False, F32, 300.0),
    "lbfgs-f32": Row(_lbfgs, True, F32, 150.0),
    "lbfgs-f64": Row(_lbfgs, True, F64, 100.0),
    "bfgs-f64": Row(_qn("bfgs"), True, F64, 100.0),
    "ssbfgs-f64": Row(_qn("ssbfgs"), True, F64, 100.0),
    "ssbroyden-f64": Row(_qn("ssbroyden"), True, F64, 100.0),
    "ssbroyden-f32": Row(_qn("ssbroyden"), True, F32, 150.0),
    "lm-dense-f64": Row(pl.optim.levenberg_marquardt, False, F64, 5.0),
    "lm-cg-f64": Row(_lm_cg, False, F64, 2.0),
}


class Setup(NamedTuple):
    loss: object
    sampler: object  # dtype -> sampler
    grids: dict  # dtype -> (points, reference)


class Warm(NamedTuple):
    training: pl.Training
    state: object
    seconds: float
    errors: dict  # dtype -> rel. L2 of the warm-started model in that dtype
    loss: float


def problem(*, interior, boundary, initial):
    domain = pl.domains.SpaceTime(pl.domains.Interval(-1.0, 1.0), 0.0, 1.0)
    loss = pl.losses.combine(
        pde=pl.losses.residual(pl.pdes.burgers),
        bc=pl.losses.dirichlet(0.0),
        ic=pl.losses.initial(lambda p: -jnp.sin(jnp.pi * p[0])),
    )

    def sampler(dtype):
        return pl.domains.sampler(
            domain,
            method="sobol",
            dtype=dtype,
            pde=("interior", interior),
            bc=("boundary", boundary),
            ic=("initial", initial),
        )

    grids = {d: pl.reference.burgers_grid(nu=NU, dtype=d) for d in (F32, F64)}
    return Setup(loss, sampler, grids)


def error(setup, model, dtype):
    points, reference = setup.grids[dtype]
    return pl.metrics.rel_l2(model, points, reference)


def warm_start(setup, model, *, key, steps, lr):
    """Adam in float32 on the fixed points, timed (compilation included)."""
    start = time.perf_counter()
    adam = pl.training(setup.loss, optax.adam(lr))
    state = adam.init(model, key=key)
    batch = pl.draw_batch(setup.sampler(F32), state, None)
    result = pl.fit(adam, state, batch, steps, args={"nu": NU}, progress=False)
    state = result.state
    seconds = time.perf_counter() - start
    errors = {d: error(setup, adam.switch(state, dtype=d).model, d) for d in (F32, F64)}
    return Warm(adam, state, seconds, errors, float(result.history["loss"][-1]))


def run_row(setup, warm, row, *, budget_s, chunk):
    """Train one row for `budget_s` seconds; its summary and error-vs-time curve."""
    start = time.perf_counter()
    if row.make is None:
        training, state = warm.training, warm.state
    else:
        training = pl.training(setup.loss, row.make(), reuse_value=row.reuse_value)
        state = training.switch(warm.state, dtype=row.dtype)
    batch = pl.draw_batch(setup.sampler(row.dtype), state, None)
    first = int(state.step)
    curve = [[0.0, 0, warm.errors[row.dtype]]]  # [seconds, step, rel. L2]

    def record(s):
        value = error(setup, s.model, row.dtype)
        curve.append([time.perf_counter() - start, int(s.step) - first, value])
        return value

    result = pl.fit(
        training,
        state,
        batch,
        MAX_STEPS,
        args={"nu": NU},
        chunk_size=chunk,
        progress=pl.Progress(bar=False, seconds=min(2.0, max(0.2, budget_s / 60))),
        validation=pl.Validation(record),
        time_limit=max(budget_s - (time.perf_counter() - start), 1e-3),
        throw=False,
    )
    seconds = time.perf_counter() - start
    steps = int(result.state.step) - first
    if curve[-1][1] != steps:  # the budget ran out inside a chunk
        curve.append([seconds, steps, error(setup, result.state.model, row.dtype)])
    return _summary(curve, seconds, steps, chunk, row, result)


def _summary(curve, seconds, steps, chunk, row, result):
    t0, s0, _ = curve[1] if len(curve) > 2 else curve[0]
    t1, s1, _ = curve[-1]
    losses = result.history["loss"]
    return {
        "dtype": jnp.dtype(row.dtype).name,
        "steps": steps,
        "seconds": round(seconds, 2),
        "steps_per_s": round(steps / seconds, 2),
        # After the first validation: without compilation.
        "steady_steps_per_s": round((s1 - s0) / (t1 - t0), 2) if t1 > t0 else None,
        "final_rel_l2": float(f"{curve[-1][2]:.4e}"),
        "best_rel_l2": float(f"{min(c[2] for c in curve):.4e}"),
        "final_loss": float(losses[-1]) if len(losses) else None,
        "stopped": result.result.name,
        "chunk": chunk,
        "curve": [[round(t, 2), s, float(f"{e:.4e}")] for t, s, e in curve],
    }


def chunk_sizes(names, overrides, *, budget_s, points):
    """Steps per chunk for about CURVE_POINTS validations per row, or as overridden."""
    scale = DEFAULT_POINTS / points
    sizes = {
        name: max(1, round(ROWS[name].rate * scale * budget_s / CURVE_POINTS))
        for name in names
    }
    return sizes | overrides


def table(setup_line, warm_line, rows, budget_s):
    lines = [
        setup_line,
        "",
        warm_line,
        "",
        "| row | steps | steps/s | final loss | final rel. L2 | best rel. L2 | "
        "budget (s) | used (s) | stopped |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['steps']} | {r['steps_per_s']:.1f} | "
            f"{r['final_loss']:.2e} | "
            f"{r['final_rel_l2']:.3e} | {r['best_rel_l2']:.3e} | {budget_s:g} | "
            f"{r['seconds']:.1f} | {r['stopped']} |"
        )
    return "\n".join(lines) + "\n"


def plot(rows, path, title):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 5), layout="constrained")
    ax = fig.add_subplot()
    for name, r in rows.items():
        t, _, e = zip(*r["curve"], strict=True)
        style = "--" if r["dtype"] == "float32" else "-"
        ax.semilogy(t, e, style, marker=".", markersize=3, label=name)
    ax.set_xlabel("seconds since the row's start (compilation included)")
    ax.set_ylabel("relative L2 error vs Cole–Hopf")
    ax.set_title(textwrap.fill(title, 110), fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=130)


def _chunk_option(text):
    overrides = {}
    for item in filter(None, text.split(",")):
        name, _, size = item.partition("=")
        if name not in ROWS or not size.isdigit() or int(size) < 1:
            raise argparse.ArgumentTypeError(f"expected ROW=N (N >= 1), got {item!r}")
        overrides[name] = int(size)
    return overrides


def _rows_option(text):
    names = [n for n in text.split(",") if n]
    unknown = [n for n in names if n not in ROWS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown rows {unknown}; choose from {','.join(ROWS)}"
        )
    return names


def parse():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-s", type=float, default=90.0, help="per row")
    parser.add_argument("--adam-steps", type=int, default=2000)
    parser.add_argument("--adam-lr", type=float, default=1e-3)
    parser.add_argument("--rows", type=_rows_option, default=list(ROWS))
    parser.add_argument("--width", type=int, default=20)
    parser.add_argument("--depth", type=int, default=3, help="hidden layers")
    parser.add_argument("--interior", type=int, default=8000)
    parser.add_argument("--boundary", type=int, default=200)
    parser.add_argument("--initial", type=int, default=400)
    parser.add_argument("--chunk", type=_chunk_option, default={}, help="ROW=N,...")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--table-out", default="optimizers_table.md")
    parser.add_argument("--json-out", default="optimizers_table.json")
    parser.add_argument("--plot", default=None, help="PNG of error against time")
    cli = parser.parse_args()
    if cli.budget_s <= 0 or cli.adam_steps < 1:
        parser.error("--budget-s and --adam-steps must be positive")
    return cli


def main():
    cli = parse()
    model_key, state_key = jax.random.split(jax.random.key(cli.seed))
    setup = problem(interior=cli.interior, boundary=cli.boundary, initial=cli.initial)
    u = pl.nn.mlp(2, width=cli.width, depth=cli.depth, key=model_key, dtype=F32)
    params = sum(x.size for x in jax.tree.leaves(eqx.filter(u, eqx.is_array)))
    warm = warm_start(setup, u, key=state_key, steps=cli.adam_steps, lr=cli.adam_lr)
    points = cli.interior + cli.boundary + cli.initial
    chunks = chunk_sizes(cli.rows, cli.chunk, budget_s=cli.budget_s, points=points)
    rows = {
        name: run_row(
            setup, warm, ROWS[name], budget_s=cli.budget_s, chunk=chunks[name]
        )
        for name in cli.rows
    }
    arch = "-".join(["2", *[str(cli.width)] * cli.depth, "1"])
    setup_info = {
        "problem": "burgers",
        "nu": NU,
        "mlp": f"{arch} tanh",
        "params": params,
        "points": {
            "interior": cli.interior,
            "boundary": cli.boundary,
            "initial": cli.initial,
        },
        "budget_s": cli.budget_s,
        "seed": cli.seed,
    }
    warm_info = {
        "optimizer": f"adam lr {cli.adam_lr:g}, float32",
        "steps": cli.adam_steps,
        "seconds": round(warm.seconds, 2),
        "rel_l2": float(f"{warm.errors[F32]:.4e}"),
        "loss": warm.loss,
    }
    setup_line = (
        f"Burgers, nu = 0.01/pi; MLP {arch} tanh ({params} parameters); "
        f"{cli.interior} interior / {cli.boundary} boundary / {cli.initial} initial "
        f"Sobol points, fixed; {cli.budget_s:g} s per row, compilation included."
    )
    warm_line = (
        f"Shared warm start (not in the budget): Adam float32, {cli.adam_steps} "
        f"steps, {warm.seconds:.1f} s, rel. L2 {warm.errors[F32]:.3e}."
    )
    Path(cli.table_out).write_text(table(setup_line, warm_line, rows, cli.budget_s))
    everything = {"setup": setup_info, "warm_start": warm_info, "rows": rows}
    Path(cli.json_out).write_text(json.dumps(everything, indent=1) + "\n")
    if cli.plot:
        plot(rows, cli.plot, f"{setup_line} {warm_line}")
    summary = {
        name: {k: v for k, v in r.items() if k != "curve"} for name, r in rows.items()
    }
    print(json.dumps({"setup": setup_info, "warm_start": warm_info, "rows": summary}))


if __name__ == "__main__":
    main()
