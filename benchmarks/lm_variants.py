"""Where each form of Levenberg–Marquardt wins: dense, matrix-free CG or sketched.

The 2-d Poisson problem of `poisson_ngd.py` (-Δu = 2π² sin(πx) sin(πy) on [0, 1]^2,
u = 0 on the boundary, exact u = sin(πx) sin(πy)), in float64, on fixed Sobol points,
for a grid of cells: tanh MLPs of depth `--depth` and width in `--widths` (P
parameters; depth 2 and widths 16/32/64 give 337/1185/4417) × interior points in
`--points` (N residual rows = interior + `--boundary`). In every cell one Adam warm
start (`--adam-steps`, lr 1e-3; not charged to any variant) is shared by the three
forms of `pinnlib.optim.levenberg_marquardt` (initial damping 1e-3, identity scaling):

- `dense`: the default, `solver=lx.Cholesky()`: the per-point Jacobian J (N × P) is
  formed and the normal equations of the smaller side are solved;
- `cg`: matrix-free, `solver=lx.CG(rtol=1e-10, atol=1e-10, max_steps=--cg-steps)`:
  each CG iteration is one JVP and one VJP, J is never formed;
- `sketched`: Cholesky on the doubly-sketched model, `parameter_sketch=k` with
  k = ceil(`--parameter-sketch` × P) and `residual_sketch=s` with
  s = ceil(`--residual-sketch` × k) (a side whose sketch would not be smaller than
  the full dimension is left unsketched), a fresh sketch every step from `--seed`.

Every variant then runs for the same wall-time budget, `--budget-s` per variant and
cell, with compilation excluded: one warm-up step compiles the step (its result is
discarded), then steps run one at a time (each waited for) from the warm start until
the budget is spent (at least one step). Recorded per variant: the median seconds
per step, steps done, accepted fraction, final loss and final relative L2 error
against the exact solution on a 101 × 101 grid. The winner of a cell is the
variant with the lowest final error. A variant whose formed matrices (dense: J and
the normal matrix of the smaller side, (N·P + min(N, P)²) × 8 bytes; sketched: J
and its transform, 2·N·P × 8 bytes) would exceed `--max-dense-gb` gets a "skipped"
entry; one that raises gets a "failed" entry with the error message, and the grid
goes on.

Prints a progress line per variant to stderr, then to stdout a markdown table (rows:
cells P × N; columns: per variant "rel. L2 / ms per step", winner) and, as the last
line, one JSON object: the set-up and, per cell, the warm start, the per-variant
figures and the winner. With `--out FILE`, writes the table to FILE.md and
everything to FILE.json.

    python benchmarks/lm_variants.py [--widths 16,32,64] [--points 500,2000,8000]
        [--budget-s 20] [--adam-steps 1000] [--seed 0] [--max-dense-gb 4]
        [--out lm_variants]

Duration: the default grid took about 11 minutes on a 2-core CPU (the budgets
alone are 9 cells × 3 variants × 20 s = 9 minutes).
"""

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import equinox as eqx  # noqa: E402
import lineax as lx  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import pinnlib as pl  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import poisson_ngd  # noqa: E402

VARIANTS = ("dense", "cg", "sketched")
TITLES = {"dense": "dense (Cholesky)", "cg": "matrix-free (CG)", "sketched": "sketched"}


def sketch_sizes(params, rows, cli):
    """`(residual_sketch, parameter_sketch)`; None for a side left whole."""
    k = math.ceil(cli.parameter_sketch * params)
    s = math.ceil(cli.residual_sketch * min(k, params))
    return (s if s < rows else None), (k if k < params else None)


def optimizer(name, params, rows, cli):
    """The Levenberg–Marquardt form `name` and its settings (for the record)."""
    if name == "dense":
        return pl.optim.levenberg_marquardt(), {"solver": "Cholesky"}
    if name == "cg":
        cg = lx.CG(rtol=1e-10, atol=1e-10, max_steps=cli.cg_steps)
        return pl.optim.levenberg_marquardt(solver=cg), {"cg_max_steps": cli.cg_steps}
    s, k = sketch_sizes(params, rows, cli)
    opt = pl.optim.levenberg_marquardt(
        residual_sketch=s, parameter_sketch=k, key=jax.random.key(cli.seed)
    )
    return opt, {"residual_sketch": s, "parameter_sketch": k}


def matrix_gb(name, params, rows):
    """Gigabytes of the matrices the form `name` builds (0 for matrix-free)."""
    if name == "dense":
        return (rows * params + min(rows, params) ** 2) * 8 / 1e9
    if name == "sketched":
        return 2 * rows * params * 8 / 1e9
    return 0.0


def warm_start(u, loss, batch, key, steps, lr):
    """Adam from the initialisation on the fixed points; the state and its seconds."""
    start = time.perf_counter()
    adam = pl.training(loss, optax.adam(lr))
    result = pl.fit(adam, adam.init(u, key=key), batch, steps, progress=False)
    return result.state, time.perf_counter() - start


def compiled(step, state):
    """`step` jitted on the state's arrays (the rest closed over): fast to call."""
    arrays, static = eqx.partition(state, eqx.is_array)

    @jax.jit
    def run(arrays, batch):
        new, metrics = step(eqx.combine(arrays, static), batch, None)
        return eqx.partition(new, eqx.is_array)[0], metrics

    return run, arrays, static


def timed_steps(run, arrays, batch, budget_s):
    """Steps until `budget_s` is spent (at least one); the arrays, seconds per step."""
    seconds, accepted = [], []
    start = time.perf_counter()
    while not seconds or time.perf_counter() - start < budget_s:
        t = time.perf_counter()
        arrays, metrics = run(arrays, batch)
        jax.block_until_ready(metrics)
        seconds.append(time.perf_counter() - t)
        accepted.append(float(metrics.get("lr", np.nan)))
    return arrays, seconds, accepted


def run_variant(loss, batch, warm, opt, budget_s, grid):
    """One form for `budget_s` seconds from the warm start (compilation excluded)."""
    training = pl.training(loss, opt)
    run, arrays, static = compiled(training.step, training.switch(warm))
    start = time.perf_counter()
    jax.block_until_ready(run(arrays, batch))  # compiles; result discarded
    compile_s = time.perf_counter() - start
    arrays, seconds, accepted = timed_steps(run, arrays, batch, budget_s)
    compiles = getattr(run, "_cache_size", lambda: 1)()
    if compiles != 1:  # the timed steps must not have recompiled
        log(f"warning: the step compiled {compiles} times")
    state = eqx.combine(arrays, static)
    final_loss = float(loss(state.model, batch, state.weights)[0])
    return {
        "status": "ok",
        "ms_per_step": round(1e3 * statistics.median(seconds), 3),
        "steps": len(seconds),
        "seconds": round(sum(seconds), 2),
        "accepted": round(float(np.nanmean(accepted)), 3),
        "final_loss": float(f"{final_loss:.4e}"),
        "rel_l2": float(f"{pl.metrics.rel_l2(state.model, *grid):.4e}"),
        "warmup_s": round(compile_s, 2),
    }


def safe_variant(name, loss, batch, warm, sizes, cli, grid):
    """`run_variant`, or a "skipped" / "failed" entry saying why."""
    params, rows = sizes
    gb = matrix_gb(name, params, rows)
    if gb > cli.max_dense_gb:
        limit = f"--max-dense-gb {cli.max_dense_gb:g}"
        why = f"needs {gb:.3g} GB of formed matrices > {limit}"
        return {"status": "skipped", "reason": why}
    opt, settings = optimizer(name, params, rows, cli)
    try:
        entry = run_variant(loss, batch, warm, opt, cli.budget_s, grid)
    except Exception as error:  # a benchmark row: record it, go on
        message = f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"
        return {"status": "failed", "reason": message, **settings}
    return {**entry, **settings}


def winner(variants):
    ok = {
        name: v["rel_l2"]
        for name, v in variants.items()
        if v["status"] == "ok" and np.isfinite(v["rel_l2"])
    }
    return min(ok, key=ok.__getitem__) if ok else None


def run_cell(width, interior, cli, grid):
    u, loss, batch, key = poisson_ngd.problem(
        width=width,
        depth=cli.depth,
        interior=interior,
        boundary=cli.boundary,
        seed=cli.seed,
    )
    params = sum(x.size for x in jax.tree.leaves(eqx.filter(u, eqx.is_array)))
    rows = interior + cli.boundary
    warm, warm_s = warm_start(u, loss, batch, key, cli.adam_steps, cli.adam_lr)
    cell = {
        "width": width,
        "params": params,
        "interior": interior,
        "rows": rows,
        "adam": {
            "steps": cli.adam_steps,
            "seconds": round(warm_s, 2),
            "rel_l2": float(f"{pl.metrics.rel_l2(warm.model, *grid):.4e}"),
        },
        "variants": {},
    }
    for name in cli.variants:
        entry = safe_variant(name, loss, batch, warm, (params, rows), cli, grid)
        cell["variants"][name] = entry
        log(f"P={params} N={rows} {name}: {json.dumps(entry)}")
    cell["winner"] = winner(cell["variants"])
    return cell


def log(line):
    print(line, file=sys.stderr, flush=True)


def figure(entry):
    if entry["status"] != "ok":
        return entry["status"]
    return f"{entry['rel_l2']:.2e} / {entry['ms_per_step']:.3g} ms"


def table(setup_line, cells, variants):
    head = "| width | P | N (rows) | " + " | ".join(TITLES[v] for v in variants)
    lines = [
        setup_line,
        "",
        "Each entry: final relative L2 error / median ms per step.",
        "",
        head + " | winner |",
        "|---:|---:|---:|" + "---|" * len(variants) + "---|",
    ]
    for c in cells:
        figures = " | ".join(figure(c["variants"][v]) for v in variants)
        lines.append(
            f"| {c['width']} | {c['params']} | {c['rows']} | {figures} | "
            f"{c['winner'] or '-'} |"
        )
    notes = [
        f"- P={c['params']} N={c['rows']} {v}: {e['reason']}"
        for c in cells
        for v, e in c["variants"].items()
        if e["status"] != "ok"
    ]
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


def _ints(text):
    try:
        values = [int(x) for x in text.split(",") if x]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(
            f"expected positive ints a,b,..., got {text!r}"
        )
    return values


def _variants(text):
    names = [n for n in text.split(",") if n]
    if not names or any(n not in VARIANTS for n in names):
        raise argparse.ArgumentTypeError(f"choose from {','.join(VARIANTS)}")
    return names


def parse():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=_ints, default=[16, 32, 64])
    parser.add_argument("--points", type=_ints, default=[500, 2000, 8000])
    parser.add_argument("--budget-s", type=float, default=20.0, help="per variant")
    parser.add_argument("--adam-steps", type=int, default=1000)
    parser.add_argument("--adam-lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="writes OUT.md and OUT.json")
    parser.add_argument("--max-dense-gb", type=float, default=4.0)
    parser.add_argument("--depth", type=int, default=2, help="hidden layers")
    parser.add_argument("--boundary", type=int, default=200)
    parser.add_argument("--cg-steps", type=int, default=100, help="CG iterations")
    parser.add_argument(
        "--parameter-sketch", type=float, default=0.25, help="k as a fraction of P"
    )
    parser.add_argument(
        "--residual-sketch", type=float, default=4.0, help="s as a multiple of k"
    )
    parser.add_argument("--variants", type=_variants, default=list(VARIANTS))
    cli = parser.parse_args()
    if cli.budget_s <= 0 or cli.adam_steps < 1 or cli.cg_steps < 1:
        parser.error("--budget-s, --adam-steps and --cg-steps must be positive")
    if not (0 < cli.parameter_sketch and 0 < cli.residual_sketch):
        parser.error("--parameter-sketch and --residual-sketch must be positive")
    return cli


def main():
    cli = parse()
    grid = poisson_ngd.grid()
    cells = [run_cell(w, n, cli, grid) for w in cli.widths for n in cli.points]
    arch = "-".join(["2", *["W"] * cli.depth, "1"])
    setup = {
        "problem": "poisson-2d",
        "dtype": "float64",
        "mlp": f"{arch} tanh",
        "widths": cli.widths,
        "interior": cli.points,
        "boundary": cli.boundary,
        "budget_s": cli.budget_s,
        "compile": "excluded (one warm-up step per variant)",
        "adam": {"steps": cli.adam_steps, "lr": cli.adam_lr},
        "damping": 1e-3,
        "cg": {"rtol": 1e-10, "atol": 1e-10, "max_steps": cli.cg_steps},
        "sketch": {"k_over_P": cli.parameter_sketch, "s_over_k": cli.residual_sketch},
        "max_dense_gb": cli.max_dense_gb,
        "seed": cli.seed,
    }
    setup_line = (
        f"Poisson 2-d, float64; MLP {arch} tanh, W in {cli.widths}; interior points "
        f"in {cli.points} + {cli.boundary} boundary (Sobol, fixed); Adam warm start "
        f"{cli.adam_steps} steps per cell; {cli.budget_s:g} s per variant and cell, "
        "compilation excluded."
    )
    text = table(setup_line, cells, cli.variants)
    everything = {"setup": setup, "cells": cells}
    if cli.out:
        base = Path(cli.out)
        base = base.with_suffix("") if base.suffix in (".md", ".json") else base
        Path(f"{base}.md").write_text(text)
        Path(f"{base}.json").write_text(json.dumps(everything, indent=1) + "\n")
    print(text)
    print(json.dumps(everything))


if __name__ == "__main__":
    main()
