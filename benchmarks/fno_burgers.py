"""FNO on the 1-d Burgers operator u(·, 0) ↦ u(·, 1), with data made by pinnlib.data.

The data follow one convention: u_t + (u²/2)_x = 0.01 u_xx on [0, 1) periodic, u0 ~ N(0,
625(−Δ + 25I)⁻²) with zero mean, inputs u0 and targets u(·, 1) on x_j = j/256
(`pl.data.burgers_pairs`: pseudo-spectral method of lines, diffrax). 1000 training and
200 test pairs from separate keys; an FNO (Li et al., ICLR 2021) trained on minibatches
with the relative-L2 loss; the test relative L2 is the mean over the 200 test pairs of
‖pred − u‖₂ / ‖u‖₂ on the grid. The same model evaluated on the test inputs subsampled
to 128 points (`rel_l2_128`) shows the resolution independence of the operator.

With `--eval-inputs U0.npy` (an array (N, 256) of initial conditions on the grid above)
it writes the trained model's predictions of u(·, 1), shape (N, 256), to `--predict-
out`; with `--plot FILE.png` it draws three test predictions. Prints one JSON line last:
`rel_l2`, `wall_s` (the whole process, data generation included), `data_s`, and the
training figures.

    python benchmarks/fno_burgers.py [--eval-inputs U0.npy --predict-out U1.npy]
        [--plot fno_burgers.png]
"""

import time

PROCESS_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402

import jax  # noqa: E402
import numpy as np  # noqa: E402
from _fno_training import (  # noqa: E402
    as_inputs,
    count_params,
    plot_curves,
    predict,
    relative_error,
    train,
    validation_trace,
)
from _operator_data import burgers_data  # noqa: E402

import pinnlib as pl  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-inputs", default=None, help="(N, 256) initial data")
    parser.add_argument("--predict-out", default=None, help="(N, 256) predictions")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train", type=int, default=1000)
    parser.add_argument("--test", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=250)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--schedule", default="cosine", choices=("cosine", "step"))
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--modes", type=int, default=16)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--time-limit", type=float, default=None, help="training s")
    parser.add_argument("--cache", default=None, help="directory for the data (.npz)")
    parser.add_argument("--plot", default=None, help="PNG of test predictions")
    parser.add_argument("--progress", action="store_true")
    options = parser.parse_args()
    if (options.eval_inputs is None) != (options.predict_out is None):
        parser.error("--eval-inputs and --predict-out go together")

    (train_in, train_out, test_in, test_out), data_s = burgers_data(
        options.train, options.test, seed=options.seed, cache=options.cache
    )
    train_in, train_out, test_in, test_out = map(
        as_inputs, (train_in, train_out, test_in, test_out)
    )
    # Periodic and translation-invariant: no coordinates, so the FNO is equivariant.
    fno = pl.nn.FNO(
        1,
        1,
        modes=options.modes,
        width=options.width,
        depth=options.depth,
        coordinates=None,
        key=jax.random.key(options.seed),
    )
    model, result, train_s = train(
        fno,
        {"data": (train_in, train_out)},
        pl.losses.combine(data=pl.losses.relative_l2()),
        epochs=options.epochs,
        batch_size=options.batch_size,
        lr=options.lr,
        kind=options.schedule,
        validate=lambda m: relative_error(m, test_in, test_out),
        seed=options.seed,
        time_limit=options.time_limit,
        progress=options.progress,
    )
    rel_l2 = relative_error(model, test_in, test_out)
    rel_l2_128 = relative_error(model, test_in[..., ::2], test_out[..., ::2])
    if options.eval_inputs is not None:
        inputs = np.load(options.eval_inputs)
        if inputs.ndim != 2 or inputs.shape[1] != 256:
            raise SystemExit(f"--eval-inputs: expected (N, 256), got {inputs.shape}")
        np.save(options.predict_out, predict(model, as_inputs(inputs))[:, 0])
    if options.plot:
        plot_curves(
            options.plot,
            np.arange(256) / 256,
            np.asarray(test_in[:, 0]),
            {
                "reference u(·, 1)": np.asarray(test_out[:, 0]),
                "FNO": predict(model, test_in[:3])[:, 0],
            },
            title=f"FNO on Burgers, ν = 0.01: test relative L2 {rel_l2:.2e}",
        )
    steps = int(result.state.step)
    print(
        json.dumps(
            {
                "problem": "fno-burgers",
                "rel_l2": rel_l2,
                "rel_l2_128": rel_l2_128,
                "train_rel_l2": relative_error(model, train_in, train_out),
                "wall_s": round(time.perf_counter() - PROCESS_START, 2),
                "data_s": round(data_s, 2),
                "train_s": round(train_s, 2),
                "epochs": steps * options.batch_size // options.train,
                "steps": steps,
                "params": count_params(model),
                "test_trace": validation_trace(result),
                "seed": options.seed,
                "width": options.width,
                "modes": options.modes,
            }
        )
    )


if __name__ == "__main__":
    main()
