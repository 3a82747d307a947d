"""Accuracy of pinnlib's Allen–Cahn recipes: relative L2 against the spectral reference.

Runs `examples/allen_cahn.py`'s `main` with its default recipe (periodic embedding
and a tanh MLP 3-30-30-30-30-1; 2000 float32 Adam steps with the causal residual on
fresh points; then 10 000 float64 SSBroyden steps on 16 000 + 1024 fixed Sobol
points) and prints one JSON line with `rel_l2` (on the 201 x 512 grid of
`pinnlib.reference.allen_cahn_grid`) and `wall_s` (process wall time, imports and
compilation included). With `--predict-out FILE.npy` it saves the prediction
u[t, x], shape (201, 512), on t = linspace(0, 1, 201), x = -1 + 2 arange(512) / 512.
`--recipe adaptive` runs `examples/allen_cahn_adaptive.py` instead (Adam alone on a
47 000-parameter network with every adaptive ingredient; 115 000 steps).

    python benchmarks/allen_cahn.py [--seed S] [--recipe quasi-newton|adaptive]
                                    [--steps N] [--predict-out u.npy] [--verbose]
"""

import time

PROCESS_START = time.perf_counter()

import argparse  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
# Imported on demand: the quasi-Newton recipe switches float64 on at import.
RECIPES = {"quasi-newton": "allen_cahn", "adaptive": "allen_cahn_adaptive"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="quasi-newton")
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="default: the recipe's (quasi-newton: its quasi-Newton steps)",
    )
    parser.add_argument("--predict-out", default=None)
    parser.add_argument("--verbose", action="store_true", help="a line per stage")
    cli = parser.parse_args()
    options = {"seed": cli.seed, "out": None, "progress": False}
    if cli.steps is not None:
        options["qn_steps" if cli.recipe == "quasi-newton" else "steps"] = cli.steps
    if cli.verbose:
        options["log"] = lambda line: print(line, file=sys.stderr, flush=True)
    result = importlib.import_module(RECIPES[cli.recipe]).main(**options)
    prediction = result.pop("prediction")
    if cli.predict_out:
        np.save(cli.predict_out, prediction)
    result.update(
        recipe=cli.recipe,
        seed=cli.seed,
        wall_s=round(time.perf_counter() - PROCESS_START, 2),
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
