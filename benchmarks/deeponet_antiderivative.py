"""DeepONet on the antiderivative operator: trained on paired data, and physics-informed.

The operator is $G(u)(y) = s(y) = \\int_0^y u(\\tau) d\\tau$ on $[0, 1]$, with inputs $u$
from a mean-zero Gaussian random field with the RBF kernel, length scale 0.2, read at
m = 100 equispaced sensors (Lu, Jin, Pang, Zhang & Karniadakis, "Learning nonlinear
operators via DeepONet", Nat. Mach. Intell. 3, 218, 2021). The data are exact
(`pinnlib.data.antiderivative_pairs`: a spectral expansion of the field, integrated in
closed form). Two `pinnlib.nn.DeepONet`s (tanh, branch and trunk 3 x 64, p = 64) are
trained in float32 by `pinnlib.fit` with Adam and an exponentially decaying learning
rate (1e-3, times 0.9 every 5000 steps), on minibatches of 100 input functions
reshuffled every epoch inside the compiled loop (`pinnlib.data.minibatches`):

(a) **paired data**: the relative L2 misfit to $s$ at the 100 sensor locations of
    every function, averaged over the functions (`relative_l2`, the loss of
    `pl.losses.relative_l2()` and the test metric; `--data-loss mse` for the mean
    squared misfit `data_misfit`, which needs more steps: 3.8e-3 against 2.4e-3
    after 150 000 steps with 2000 training functions);
(b) **physics-informed, no output data** (Wang, Wang & Perdikaris, "Learning the
    solution operator of parametric partial differential equations with
    physics-informed DeepONets", Sci. Adv. 7, eabi8605, 2021): the residual
    $\\partial_y G(u)(y) - u(y)$ at the sensor locations, where $u$ is known
    (`residual_misfit`, differentiated through the trunk coordinates with
    `pinnlib.diff.partial`), plus the condition $G(u)(0) = 0$ (`initial_misfit`).

The terms are terms of `pl.losses.combine` (the relative error a plain function, the
others `pl.losses.least_squares` terms). Every function is queried at the same
points (the sensors, passed as `args["queries"]`), so they evaluate the network in
its aligned form, `DeepONet.aligned`: the trunk runs once per query point instead of
once per (function, point) pair, as it would through `pl.losses.data()` with
per-sample query points. That makes a step about ten times cheaper, and the 150 000
steps at which the errors go well below the targets fit the time budget. The training set
is 1000 functions.

Both are evaluated on a held-out test set (1000 new functions, all 100 query
points) by the relative L2 error: the mean over test functions of
$\\|s_\\text{pred} - s\\|_2 / \\|s\\|_2$ over the query points
(`pl.losses.relative_l2()`). Prints progress, then as its last line one JSON
object: `rel_l2` (paired data) and `physics_rel_l2` (physics-informed), the wall
time of the whole process (`wall_s`, imports, data and compilation included), each
variant's training seconds and steps, and the sizes.

    python benchmarks/deeponet_antiderivative.py [--seed 0] [--steps 150000]

Measured on two CPU cores (seed 0, defaults): rel_l2 2.7e-3 (42 s of training),
physics_rel_l2 2.0e-3 (64 s), 111 s for the whole process.
"""

import time

PROCESS_START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402

import pinnlib as pl  # noqa: E402


def data_misfit(model, entry, args):
    r"""$G(u_k)(y_q) - s_k(y_q)$, shape `(n, Q)`: entry `((u,), s)`, `args["queries"]`.

    `u (n, m)` are the sensor values, `s (n, Q)` the antiderivatives at the query
    points `args["queries"] (Q, 1)`, shared by all functions.
    """
    (sensors,), targets = entry
    return model.aligned(sensors, args["queries"]) - targets


def relative_l2(model, entry, args):
    r"""$\frac1n \sum_k \|G(u_k) - s_k\|_2 / \|s_k\|_2$ over the query points.

    The loss of `pl.losses.relative_l2()` (and the test metric) on aligned data:
    entry `((u,), s)` and `args["queries"]` as for `data_misfit`.
    """
    _, targets = entry
    error = jnp.linalg.norm(data_misfit(model, entry, args), axis=1)
    return jnp.mean(error / jnp.linalg.norm(targets, axis=1))


def residual_misfit(model, entry, args):
    r"""$\partial_y G(u_k)(y_q) - u_k(y_q)$, flattened to `(n Q,)`: entry `((u,), v)`.

    `v (n, Q)` are the values of $u_k$ at the collocation points
    `args["queries"] (Q, 1)` (here the sensors, so `v = u`). For all functions
    together, $y \mapsto G(u_\cdot)(y)$ is a field with $n$ outputs
    (`model.aligned(u, y)`); `pl.diff.partial` differentiates it through the trunk
    coordinates and `jax.vmap` maps it over the points. Flattened, so that the term is
    the mean square over all collocation points.
    """
    (sensors,), source = entry

    def field(y):
        return model.aligned(sensors, y)

    slope = jax.vmap(pl.diff.partial(field, 0))(args["queries"])  # (Q, n)
    return (slope.T - source).reshape(-1)


def initial_misfit(model, entry, args):
    """$G(u_k)(0)$, shape `(n,)`: the condition $s(0) = 0$; entry `((u,), ...)`."""
    (sensors,), _ = entry
    origin = jnp.zeros(args["queries"].shape[-1:], sensors.dtype)
    return model.aligned(sensors, origin)


def data_loss(kind: str = "relative") -> pl.losses.CompositeLoss:
    """Paired data: `{"data": relative L2 error}`, or the mean squared misfit."""
    if kind == "relative":
        return pl.losses.combine(data=relative_l2)
    term = pl.losses.least_squares(data_misfit, accepts=("queries",))
    return pl.losses.combine(data=term)


def physics_loss() -> pl.losses.CompositeLoss:
    """No output data: `{"pde": s' - u at the sensors, "ic": s(0)}`."""
    return pl.losses.combine(
        pde=pl.losses.least_squares(residual_misfit, accepts=("queries",)),
        ic=pl.losses.least_squares(initial_misfit, accepts=("queries",)),
    )


def train(loss, data, net, cli, key, queries, test, label):
    """Adam with exponential decay on minibatches; prints the test error per chunk."""
    schedule = optax.exponential_decay(cli.lr, cli.decay_every, cli.decay_rate)
    training = pl.training(loss, optax.adam(schedule))
    state = training.init(net, key=key)
    batches = pl.data.minibatches(data, cli.batch)
    error = eqx.filter_jit(pl.losses.relative_l2())
    start = time.perf_counter()
    while int(state.step) < cli.steps:
        n = min(cli.chunk, cli.steps - int(state.step))
        result = pl.fit(
            training,
            state,
            batches,
            n,
            args={"queries": queries},
            resample_every=1,
            chunk_size=cli.chunk,
            progress=False,
        )
        state = result.state
        print(
            f"{label}: step {int(state.step):7d}  "
            f"loss {float(result.history['loss'][-1]):.3e}  "
            f"test rel_l2 {float(error(state.model, test, None)):.3e}  "
            f"{time.perf_counter() - start:6.1f} s",
            flush=True,
        )
    return state.model, time.perf_counter() - start


def plot(path, y, inputs, curves, count=3):
    """Three test functions: the input u, the exact s and each model's prediction."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4 * count, 3.2), layout="constrained")
    styles = ["k-", "C3--", "C0:"]
    for index, ax in enumerate(figure.subplots(1, count, sharey=True)):
        ax.plot(y, inputs[index], color="0.7", lw=1, label="input u")
        for (label, values), style in zip(curves.items(), styles):
            ax.plot(y, values[index], style, lw=1.5, label=label)
        ax.set_xlabel("y")
        ax.set_title(f"test function {index}")
        if index == 0:
            ax.legend(fontsize=8)
    figure.suptitle("DeepONet on the antiderivative s(y) = ∫₀ʸ u")
    figure.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train", type=int, default=1000, help="input functions")
    parser.add_argument("--test", type=int, default=1000, help="test functions")
    parser.add_argument("--steps", type=int, default=150_000, help="paired data")
    parser.add_argument(
        "--physics-steps", type=int, default=None, help="default --steps"
    )
    parser.add_argument("--batch", type=int, default=100, help="functions per step")
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--latent", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--decay-every", type=int, default=5000)
    parser.add_argument("--decay-rate", type=float, default=0.9)
    parser.add_argument("--chunk", type=int, default=15_000)
    parser.add_argument("--data-loss", choices=("relative", "mse"), default="relative")
    parser.add_argument("--skip-data", action="store_true")
    parser.add_argument("--skip-physics", action="store_true")
    parser.add_argument("--plot", default=None, help="PNG of three test predictions")
    cli = parser.parse_args()

    m = 100
    keys = jax.random.split(jax.random.key(cli.seed), 5)
    (sensors, points), targets = pl.data.antiderivative_pairs(
        keys[0], cli.train, sensors=m, dtype=jnp.float32
    )
    test = pl.data.antiderivative_pairs(keys[1], cli.test, sensors=m, dtype=jnp.float32)
    queries = points[0]  # (m, 1): the sensors, the same for every function

    def network(key):
        return pl.nn.DeepONet(
            m,
            latent=cli.latent,
            width=cli.width,
            depth=cli.depth,
            key=key,
            dtype=jnp.float32,
        )

    error = eqx.filter_jit(pl.losses.relative_l2())
    out = {"problem": "deeponet_antiderivative"}
    net = network(keys[2])
    curves = {"reference s": test[1]}
    if not cli.skip_data:
        data = {"data": ((sensors,), targets)}
        net, seconds = train(
            data_loss(cli.data_loss), data, net, cli, keys[4], queries, test, "data"
        )
        curves["DeepONet, paired data"] = jax.vmap(net)(*test[0])
        out |= {
            "rel_l2": float(error(net, test, None)),
            "data_s": round(seconds, 2),
            "data_steps": cli.steps,
            "data_loss": cli.data_loss,
        }
    if not cli.skip_physics:
        physics = argparse.Namespace(**vars(cli))
        physics.steps = cli.physics_steps or cli.steps
        data = {"pde": ((sensors,), sensors), "ic": ((sensors,), sensors)}
        net, seconds = train(
            physics_loss(),
            data,
            network(keys[3]),
            physics,
            keys[4],
            queries,
            test,
            "pi",
        )
        curves["physics-informed, no output data"] = jax.vmap(net)(*test[0])
        out |= {
            "physics_rel_l2": float(error(net, test, None)),
            "physics_s": round(seconds, 2),
            "physics_steps": physics.steps,
        }
    if cli.plot:
        plot(cli.plot, queries[:, 0], test[0][0], curves)
    params = sum(x.size for x in jax.tree.leaves(eqx.filter(net, eqx.is_array)))
    out |= {
        "wall_s": round(time.perf_counter() - PROCESS_START, 2),
        "batch_functions": cli.batch,
        "train_functions": cli.train,
        "test_functions": cli.test,
        "sensors": m,
        "queries": m,
        "params": int(params),
        "width": cli.width,
        "depth": cli.depth,
        "latent": cli.latent,
        "dtype": "float32",
        "seed": cli.seed,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
