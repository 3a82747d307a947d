"""Training an operator on paired data, shared by the FNO and PINO benchmarks.

Minibatches reshuffled every epoch inside the compiled loop (`pl.data.minibatches`),
the relative-L2 loss, Adam with a cosine or step-decay schedule, and the held-out
relative L2 recorded by `pl.fit`'s validation after every chunk.
"""

import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import pinnlib as pl


def schedule(kind: str, lr: float, steps: int, steps_per_epoch: int):
    """Cosine decay to 0 over `steps`, or halving every tenth of the run ("step")."""
    if kind == "cosine":
        return optax.cosine_decay_schedule(lr, steps)
    if kind == "step":  # Li et al.: halve every 100 of 500 epochs; here every 10%
        every = max(steps // 10 // steps_per_epoch, 1) * steps_per_epoch
        return optax.exponential_decay(lr, every, 0.5, staircase=True)
    raise ValueError(f"--schedule: expected 'cosine' or 'step', got {kind!r}")


def relative_error(model, inputs, targets, chunk=200) -> float:
    """Mean relative L2 over samples, evaluated in chunks of `chunk` samples."""
    term = eqx.filter_jit(pl.losses.relative_l2())
    total = 0.0
    for start in range(0, len(inputs), chunk):
        part = slice(start, start + chunk)
        n = len(inputs[part])
        total += n * float(term(model, (inputs[part], targets[part])))
    return total / len(inputs)


def predict(model, inputs, chunk=200) -> np.ndarray:
    run = eqx.filter_jit(jax.vmap(model))
    return np.concatenate(
        [np.asarray(run(inputs[i : i + chunk])) for i in range(0, len(inputs), chunk)]
    )


def train(
    model,
    data: dict,
    loss,
    *,
    epochs: int,
    batch_size: int | dict,
    lr: float,
    kind: str,
    validate,
    seed: int,
    epoch_of: str = "data",
    weights: dict | None = None,
    args: dict | None = None,
    time_limit: float | None = None,
    chunk_epochs: int = 10,
    progress: bool = False,
):
    """Train `model` on `data` (`{term: entry}`) for `epochs` epochs of `epoch_of`.

    Returns `(model, fit result, train seconds)`; `validate(model)` is recorded
    after every `chunk_epochs` epochs (the history's validation record).
    """
    batches = pl.data.minibatches(data, batch_size)
    per_epoch = batches.steps_per_epoch[epoch_of]
    steps = epochs * per_epoch
    optimizer = optax.adam(schedule(kind, lr, steps, per_epoch))
    training = pl.training(loss, optimizer)
    state = training.init(model, key=jax.random.key(seed), weights=weights)
    start = time.perf_counter()
    result = pl.fit(
        training,
        state,
        batches,
        steps,
        args=args,
        resample_every=1,
        chunk_size=chunk_epochs * per_epoch,
        validation=pl.Validation(lambda s: validate(s.model)),
        progress=progress,
        time_limit=time_limit,
    )
    jax.block_until_ready(result.state)
    return result.state.model, result, time.perf_counter() - start


def validation_trace(result) -> list[list]:
    """`[[step, held-out error], ...]`: the fit's validation record, for the JSON line."""
    record = result.validation
    return [
        [int(s), round(float(v), 6)] for s, v in zip(record["step"], record["value"])
    ]


def count_params(model) -> int:
    return sum(x.size for x in jax.tree.leaves(eqx.filter(model, eqx.is_array)))


def as_inputs(array: np.ndarray, dtype=jnp.float32) -> jax.Array:
    """Fields `(n, *grid)` as one-channel FNO inputs `(n, 1, *grid)`."""
    return jnp.asarray(array, dtype)[:, None]


def plot_curves(path: str, x, inputs, curves: dict, *, title: str, count: int = 3):
    """Line plots of `count` test samples: the input and every named curve on x.

    `curves` maps a label to an array (samples, points); the first is the reference.
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4 * count, 3.2), layout="constrained")
    axes = figure.subplots(1, count, sharey=True)
    styles = ["k-", "C3--", "C0:"]
    for index, ax in enumerate(axes):
        ax.plot(x, inputs[index], color="0.7", lw=1, label="input u0")
        for (label, values), style in zip(curves.items(), styles):
            ax.plot(x, values[index], style, lw=1.5, label=label)
        ax.set_xlabel("x")
        ax.set_title(f"test sample {index}")
    axes[0].legend(fontsize=8)
    figure.suptitle(title)
    figure.savefig(path, dpi=110)


def plot_fields(path: str, fields: dict, *, title: str):
    """Images side by side: `{label: (n, n) array}` on [0, 1]², with colour bars."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(3.6 * len(fields), 3.2), layout="constrained")
    axes = figure.subplots(1, len(fields))
    for ax, (label, values) in zip(axes, fields.items()):
        image = ax.imshow(np.asarray(values).T, origin="lower", extent=(0, 1, 0, 1))
        figure.colorbar(image, ax=ax, shrink=0.8)
        ax.set_title(label)
    figure.suptitle(title)
    figure.savefig(path, dpi=110)
