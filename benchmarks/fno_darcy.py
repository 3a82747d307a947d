"""FNO on 2-d Darcy flow, a ↦ u with −∇·(a∇u) = 1, with data made by pinnlib.data.

The data follow one convention: u = 0 on the boundary of [0, 1]²; a = 12 where f ≥ 0 and
3 where f < 0, f ~ N(0, (−Δ + 9I)⁻²) in zero-Neumann cosine modes; fields on the 64 × 64
node grid x_i = i/63; u the five-point finite-difference solution on that grid with face
coefficients the mean of their two nodes (`pl.data.darcy_pairs`, lineax). 1000 training
and 200 test pairs from separate keys; an FNO (Li et al., ICLR 2021: 12 modes, width 32,
padding) trained on minibatches with the relative-L2 loss, inputs and outputs normalised
pointwise by the training set's mean and standard deviation as in the paper's code. The
test relative L2 is the mean over the 200 test pairs of ‖pred − u‖₂ / ‖u‖₂ on the grid.

With `--eval-inputs A.npy` (an array (N, 64, 64) of coefficient fields with values 3 and
12) it writes the predictions, shape (N, 64, 64), to `--predict-out`; with `--plot
FILE.png` it draws one test prediction. Prints one JSON line last: `rel_l2`, `wall_s`
(the whole process, data generation included), `data_s`, and the training figures.

    python benchmarks/fno_darcy.py [--eval-inputs A.npy --predict-out U.npy]
"""

import time

PROCESS_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from _fno_training import (  # noqa: E402
    as_inputs,
    count_params,
    plot_fields,
    predict,
    relative_error,
    train,
    validation_trace,
)
from _operator_data import darcy_data  # noqa: E402

import pinnlib as pl  # noqa: E402


class Normalized(eqx.Module):
    """`fno` between pointwise-normalised inputs and outputs (fixed statistics)."""

    fno: pl.nn.FNO
    a_mean: jax.Array
    a_std: jax.Array
    u_mean: jax.Array
    u_std: jax.Array

    def __call__(self, a):
        stats = jax.lax.stop_gradient(
            (self.a_mean, self.a_std, self.u_mean, self.u_std)
        )
        a_mean, a_std, u_mean, u_std = stats
        return self.fno((a - a_mean) / a_std) * u_std + u_mean


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-inputs", default=None, help="(N, 64, 64) a fields")
    parser.add_argument("--predict-out", default=None, help="(N, 64, 64) predictions")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train", type=int, default=1000)
    parser.add_argument("--test", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--schedule", default="cosine", choices=("cosine", "step"))
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--modes", type=int, default=12)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--projection", type=int, default=128)
    parser.add_argument("--padding", type=int, default=8)
    parser.add_argument("--activation", default="relu", help="as in the paper's code")
    parser.add_argument("--time-limit", type=float, default=None, help="training s")
    parser.add_argument("--cache", default=None, help="directory for the data (.npz)")
    parser.add_argument("--plot", default=None, help="PNG of a test prediction")
    parser.add_argument("--progress", action="store_true")
    options = parser.parse_args()
    if (options.eval_inputs is None) != (options.predict_out is None):
        parser.error("--eval-inputs and --predict-out go together")

    (train_a, train_u, test_a, test_u), data_s = darcy_data(
        options.train, options.test, seed=options.seed, cache=options.cache
    )
    train_a, train_u, test_a, test_u = map(
        as_inputs, (train_a, train_u, test_a, test_u)
    )
    model = Normalized(
        pl.nn.FNO(
            1,
            1,
            modes=(options.modes, options.modes),
            width=options.width,
            depth=options.depth,
            projection=options.projection,
            padding=options.padding,
            activation=options.activation,
            key=jax.random.key(options.seed),
        ),
        jnp.mean(train_a, axis=0),
        jnp.std(train_a, axis=0),
        jnp.mean(train_u, axis=0),
        jnp.std(train_u, axis=0) + 1e-6,
    )
    model, result, train_s = train(
        model,
        {"data": (train_a, train_u)},
        pl.losses.combine(data=pl.losses.relative_l2()),
        epochs=options.epochs,
        batch_size=options.batch_size,
        lr=options.lr,
        kind=options.schedule,
        validate=lambda m: relative_error(m, test_a, test_u),
        seed=options.seed,
        time_limit=options.time_limit,
        chunk_epochs=5,
        progress=options.progress,
    )
    rel_l2 = relative_error(model, test_a, test_u)
    if options.eval_inputs is not None:
        inputs = np.load(options.eval_inputs)
        if inputs.ndim != 3 or inputs.shape[1:] != (64, 64):
            raise SystemExit(f"--eval-inputs: expected (N, 64, 64), got {inputs.shape}")
        np.save(options.predict_out, predict(model, as_inputs(inputs))[:, 0])
    if options.plot:
        prediction = predict(model, test_a[:1])[0, 0]
        plot_fields(
            options.plot,
            {
                "coefficient a": test_a[0, 0],
                "reference u": test_u[0, 0],
                "FNO": prediction,
                "|FNO − reference|": np.abs(prediction - np.asarray(test_u[0, 0])),
            },
            title=f"FNO on Darcy flow: test relative L2 {rel_l2:.2e} (mean of 200)",
        )
    steps = int(result.state.step)
    print(
        json.dumps(
            {
                "problem": "fno-darcy",
                "rel_l2": rel_l2,
                "train_rel_l2": relative_error(model, train_a, train_u),
                "wall_s": round(time.perf_counter() - PROCESS_START, 2),
                "data_s": round(data_s, 2),
                "train_s": round(train_s, 2),
                "epochs": steps * options.batch_size // options.train,
                "steps": steps,
                "params": count_params(model.fno),
                "test_trace": validation_trace(result),
                "seed": options.seed,
                "width": options.width,
                "modes": options.modes,
            }
        )
    )


if __name__ == "__main__":
    main()
