"""Ablation of the adaptive Allen–Cahn recipe: each ingredient switched off in turn.

Trains, with the same number of steps each (the same budget), the full recipe of
`examples/allen_cahn_adaptive.py`, the recipe with one ingredient switched off, and
a vanilla PINN (plain tanh MLP, fixed loss weights, uniform points, a periodic boundary loss
term instead of the exact embedding, no Fourier features, no causal weighting).
Every run uses fresh uniform points at every step. Prints one JSON line per run as
it finishes and, at the end, a markdown table; `--out FILE` also writes the table
to FILE.md and the runs to FILE.json after each run. Runs already in FILE.json with
the same steps and seed are kept and not run again, so an interrupted table (or
one built with `--only` over several sessions) resumes where it stopped.

    python benchmarks/ablation_allen_cahn.py [--steps N] [--seed S] [--out FILE]

With the default 115 000 steps a run takes about 19 minutes on a 2-core CPU, so
the whole table takes a few hours; run it in the background.
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import allen_cahn_adaptive as allen_cahn  # noqa: E402

OFF = {
    "full recipe": {},
    "no causal weighting": {"causal": False},
    "fixed causal schedule (no balancing)": {"causal_balance": None},
    "no gradient-norm annealing": {"annealing": False},
    "no Fourier features": {"fourier": 0},
    "no weight factorization": {"factorized": False},
    "plain MLP instead of modified MLP": {"modified": False},
    "no periodic embedding (periodic loss term)": {"periodic": False},
    "vanilla PINN": {
        "causal": False,
        "annealing": False,
        "fourier": 0,
        "factorized": False,
        "modified": False,
        "periodic": False,
    },
}


def table(rows: list[dict], steps: int) -> str:
    lines = [
        f"| run ({steps} steps each) | rel. L2 error | final loss | train s |",
        "| --- | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row['run']} | {row['rel_l2']:.3e} | {row['final_loss']:.3e} "
            f"| {row['train_s']:.0f} |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=115_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="write FILE.md and FILE.json")
    parser.add_argument(
        "--only", nargs="*", default=None, help="run only these rows (by name)"
    )
    cli = parser.parse_args()
    found, others = {}, []  # rows of this budget and seed; rows of other ones
    if cli.out and Path(f"{cli.out}.json").exists():
        for row in json.loads(Path(f"{cli.out}.json").read_text()):
            if row["steps"] == cli.steps and row["seed"] == cli.seed:
                found[row["run"]] = row
            else:
                others.append(row)
    results = dict(found)  # by name: the kept rows and those run now

    def rows() -> list[dict]:  # in the table's order; rows of unknown names last
        return [results[n] for n in OFF if n in results] + [
            row for name, row in results.items() if name not in OFF
        ]

    def save():  # the kept rows too, so that an interrupted run loses none
        if cli.out:
            Path(f"{cli.out}.json").write_text(json.dumps(others + rows(), indent=1))
            Path(f"{cli.out}.md").write_text(table(rows(), cli.steps) + "\n")

    for name, off in OFF.items():
        if name in found:
            print(f"kept from {cli.out}.json: {name}", file=sys.stderr)
            continue
        if cli.only and name not in cli.only:
            continue
        began = time.perf_counter()
        result = allen_cahn.main(
            steps=cli.steps, seed=cli.seed, out=None, progress=False, **off
        )
        result.pop("prediction")
        row = {"run": name, **result, "off": off, "seed": cli.seed}
        row["wall_s"] = round(time.perf_counter() - began, 2)
        results[name] = row
        print(json.dumps(row), flush=True)
        save()
    save()
    print(table(rows(), cli.steps))


if __name__ == "__main__":
    main()
