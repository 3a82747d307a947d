"""Accuracy of pinnlib's Burgers recipe: relative L2 against Cole–Hopf, wall time.

Runs `examples/burgers.py`'s `main` with the recipe below (Adam on Sobol points, then
L-BFGS with the zoom line search on fixed points) and prints one JSON line with
`rel_l2` (on the standard 256 x 100 grid) and `wall_s` (process wall time, imports
and compilation included). With `--predict-out FILE.npy` it saves the prediction
u[x, t], shape (256, 100), on x = linspace(-1, 1, 256), t = 0, 0.01, ..., 0.99.

    python benchmarks/burgers_accuracy.py [--predict-out u.npy]
"""

import time

PROCESS_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import burgers  # noqa: E402

RECIPE = dict(
    width=32,
    depth=4,
    interior=8000,
    boundary=200,
    initial=400,
    method="sobol",
    adam_steps=5000,
    adam_lr=1e-3,
    lbfgs_steps=8000,
    lbfgs_memory=20,
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--predict-out", default=None)
    for name, default in RECIPE.items():
        parser.add_argument(
            f"--{name.replace('_', '-')}", type=type(default), default=default
        )
    cli = vars(parser.parse_args())
    predict_out = cli.pop("predict_out")
    result = burgers.main(**cli, out=None, progress=False)
    prediction = result.pop("prediction")
    if predict_out:
        np.save(predict_out, prediction)
    result.update(recipe=cli, wall_s=round(time.perf_counter() - PROCESS_START, 2))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
