"""Accuracy of pinnlib's Burgers recipe: relative L2 against Cole–Hopf, wall time.

Runs `examples/burgers.py`'s `main` with its default recipe (Adam in float32 on Sobol
points, then SSBroyden — dense self-scaled quasi-Newton with a strong-Wolfe line
search — in float64 on fixed points) and prints
one JSON line with `rel_l2` (on the standard 256 x 100 grid) and `wall_s` (process
wall time, imports and compilation included). With `--predict-out FILE.npy` it
saves the prediction u[x, t], shape (256, 100), on x = linspace(-1, 1, 256),
t = 0, 0.01, ..., 0.99.

    python benchmarks/burgers_accuracy.py [--predict-out u.npy]
"""

import time

PROCESS_START = time.perf_counter()

import argparse  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import burgers  # noqa: E402

# The recipe is the example's defaults (MLP 2-32x4-1 tanh, 8000/200/400 Sobol points,
# 4000 Adam steps, then 14 000 SSBroyden steps); any of them can be overridden.
RECIPE = {
    name: p.default
    for name, p in inspect.signature(burgers.main).parameters.items()
    if name not in ("out", "progress", "nu", "checkpoint_every", "resume")
    and p.default is not None
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--predict-out", default=None)
    for name, default in RECIPE.items():
        kind = float if isinstance(default, float) else type(default)
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=default)
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
