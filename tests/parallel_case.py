"""One device against eight: the runs of the data-parallel tests, as a script.

    XLA_FLAGS=--xla_force_host_platform_device_count=8 \
        python tests/parallel_case.py OUT.json DIR

Every case trains the same state twice in this process, on one device (arrays left
where JAX puts them) and on a mesh of all eight (`pinnlib.parallel`), and records
how far apart the two runs end: `{case: {"loss": r, "params": r, ...}}` with
`r = |a - b| / |b|` over all entries (Euclidean norms). DIR is where checkpoints
are exchanged with the test process, which runs on a single device.
"""

import json
import re
import sys
import time

import jax

jax.config.update("jax_enable_x64", True)

import equinox as eqx  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from helpers import burgers_problem  # noqa: E402

import pinnlib as pl  # noqa: E402

NU = 0.05
# Point counts that do not divide among 8 devices (XLA pads them).
UNEVEN = (803, 50, 37)
EVEN = (800, 48, 32)


def flat(tree) -> np.ndarray:
    """The inexact arrays of `tree`, concatenated."""
    leaves = jax.tree.leaves(eqx.filter(tree, eqx.is_inexact_array))
    return np.concatenate([np.ravel(np.asarray(x, np.float64)) for x in leaves])


def rel(a, b) -> float:
    a, b = flat(a), flat(b)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def compare(one: pl.Run, many: pl.Run) -> dict:
    assert int(one.result) == int(many.result) == 0, (one.result, many.result)
    return {
        "loss": rel(many.metrics["loss"], one.metrics["loss"]),
        "params": rel(many.state.model, one.state.model),
        "weights": rel(many.state.weights, one.state.weights),
        "opt_state": rel(many.state.opt_state, one.state.opt_state),
    }


def data_mesh():
    return jax.make_mesh((8,), ("data",))


COLLECTIVES = (
    "all-gather",
    "all-reduce",
    "all-to-all",
    "collective-permute",
    "reduce-scatter",
)


def moved(compiled_text: str, kinds=COLLECTIVES) -> int:
    """Entries of the non-scalar arrays that collectives of `kinds` produce."""
    pattern = re.compile(r"= (.*?) (" + "|".join(kinds) + r")(?:-start)?\(")
    total = 0
    for line in compiled_text.splitlines():
        found = pattern.search(line)
        if found:
            for dims in re.findall(r"\w+\[([\d,]+)\]", found.group(1)):
                total += int(np.prod([int(n) for n in dims.split(",")]))
    return total


def problem(dtype, counts=UNEVEN, width=16, depth=2):
    return burgers_problem(width=width, depth=depth, counts=counts, dtype=dtype)


def sampled(training, dtype, steps, every, counts=UNEVEN, on_eight=None):
    """`steps` steps with points redrawn every `every`, on one device and on 8.

    `on_eight`: the training the 8 devices run, if not `training` (the same set-up
    with a per-device loss).
    """
    u, _, sampler = problem(dtype, counts)
    state = training.init(u, key=jax.random.key(1))
    kw = dict(args={"nu": NU}, resample_every=every)
    one = pl.run(training, state, sampler, steps, **kw)
    mesh = data_mesh()
    many = pl.run(
        on_eight or training,
        pl.parallel.shard_state(state, mesh),
        pl.parallel.shard_sampler(sampler, mesh),
        steps,
        **kw,
    )
    return compare(one, many)


def fixed(training, dtype, steps, reorder=False):
    """`steps` steps on one fixed batch, on one device and on 8.

    `reorder`: also train on one device with each term's points in two other orders
    (the same points, so the same loss up to the order of its additions), and record
    the largest difference to the first run as `reordered_loss` and
    `reordered_params`: how far float rounding alone moves this run.
    """
    u, _, sampler = problem(dtype, EVEN)
    state = training.init(u, key=jax.random.key(1))
    batch = sampler(jax.random.key(3))
    one = pl.run(training, state, batch, steps, args={"nu": NU})
    mesh = data_mesh()
    many = pl.run(
        training,
        pl.parallel.shard_state(state, mesh),
        pl.parallel.shard(batch, mesh),
        steps,
        args={"nu": NU},
    )
    out = compare(one, many)
    if reorder:
        loss, params = [], []
        for seed in (0, 1):
            key = jax.random.key(seed)
            other = {k: jax.random.permutation(key, x) for k, x in batch.items()}
            again = pl.run(training, state, other, steps, args={"nu": NU})
            loss.append(rel(again.metrics["loss"], one.metrics["loss"]))
            params.append(rel(again.state.model, one.state.model))
        out.update(reordered_loss=max(loss), reordered_params=max(params))
    return out


def loss_of(dtype):
    return problem(dtype)[1]


def adam_weighted(dtype):
    """Adam, gradient-norm annealing every 10 steps, points redrawn every 10."""
    training = pl.training(
        loss_of(dtype),
        optax.adam(1e-3),
        weighting=pl.weighting.gradient_norm_annealing(),
        update_every=10,
    )
    return sampled(training, dtype, 100, 10)


def adam_per_device(dtype, counts=EVEN):
    """As `adam_weighted`, with the gradient per device (`data_parallel`).

    With `UNEVEN` counts each term is padded on the devices (and the padding's
    statistics taken off again): `per_device` records that the per-device path
    ran rather than the partitioned step.
    """

    def training(loss):
        return pl.training(
            loss,
            optax.adam(1e-3),
            weighting=pl.weighting.gradient_norm_annealing(),
            update_every=10,
        )

    loss = loss_of(dtype)
    fast = pl.parallel.data_parallel(loss, data_mesh())
    out = sampled(training(loss), dtype, 100, 10, counts, training(fast))
    out.update(per_device_path(fast, dtype, counts))
    return out


def per_device_path(fast, dtype, counts, mesh=None, axis="data"):
    """`per_device` of `fast` on points drawn inside the compiled program.

    The points are interior points only (no boundary faces, which the sampler
    itself joins with small gathers), so that any gather is the loss's own.
    """
    u = problem(dtype, counts)[0]
    domain = pl.domains.SpaceTime(pl.domains.Interval(-1.0, 1.0), 0.0, 1.0)
    sets = {k: ("interior", n) for k, n in zip(("pde", "bc", "ic"), counts)}
    draw = pl.domains.sampler(domain, dtype=dtype, **sets)
    sharded = pl.parallel.shard_sampler(draw, mesh or data_mesh(), axis)
    params, static = eqx.partition(u, eqx.is_inexact_array)
    weights = fast.init_weights(dtype)

    def value_and_grad(params, key):
        rebuild = lambda p: (eqx.combine(p, static), {"nu": NU})  # noqa: E731
        return fast.value_and_grad(rebuild, params, sharded(key), weights)

    key = jax.random.key(0)
    if jax.eval_shape(value_and_grad, params, key) is None:
        return {"per_device": False}
    text = jax.jit(value_and_grad).lower(params, key).compile().as_text()
    return {"per_device": True, "gathered": moved(text, ("all-gather", "all-to-all"))}


def lbfgs(dtype):
    training = pl.training(loss_of(dtype), optax.lbfgs())
    return fixed(training, dtype, 20, reorder=True)


def ntk():
    training = pl.training(
        loss_of(jnp.float64),
        optax.adam(1e-3),
        weighting=pl.weighting.ntk(),
        update_every=5,
    )
    return sampled(training, jnp.float64, 10, 5)


def adaptive(strategy, pool_size, sample_every, steps):
    """A sampling strategy `strategy(pool)` on a pool of interior candidates."""
    domain = pl.domains.SpaceTime(pl.domains.Interval(-1.0, 1.0), 0.0, 1.0)
    pool = pl.domains.sampler(domain, dtype=jnp.float64, pde=("interior", pool_size))
    training = pl.training(
        loss_of(jnp.float64),
        optax.adam(1e-3),
        sampling=strategy(pool),
        sample_every=sample_every,
    )
    return sampled(training, jnp.float64, steps, 5)


def rad():
    """RAD: the points redrawn by residual every 5 steps."""
    return adaptive(lambda pool: pl.sampling.rad(pool, num_points=400), 2000, 5, 10)


def rar_d():
    """RAR-D: points added where the residual is large, every 5 steps."""
    add = lambda pool: pl.sampling.rar_d(pool, num_points=400, num_added=40)  # noqa: E731
    return adaptive(add, 2000, 5, 15)


def time_marching():
    """Time marching: fresh points on a window that grows every 5 steps."""
    march = lambda pool: pl.sampling.time_marching(  # noqa: E731
        pool, num_windows=3, steps_per_window=5
    )
    return adaptive(march, 400, 1, 15)


def causal(per_device=False):
    """The causal residual; `per_device`: on 8 devices with `data_parallel`."""
    loss = pl.losses.combine(
        pde=pl.losses.causal_residual(pl.pdes.burgers, num_chunks=8),
        bc=pl.losses.dirichlet(0.0),
        ic=pl.losses.initial(lambda p: -jnp.sin(jnp.pi * p[0])),
    )
    training = pl.training(loss, optax.adam(1e-3))
    if not per_device:
        return sampled(training, jnp.float64, 10, 5)
    per_device = pl.parallel.data_parallel(loss, data_mesh())
    fast = pl.training(per_device, optax.adam(1e-3))
    out = sampled(training, jnp.float64, 10, 5, UNEVEN, fast)
    out.update(per_device_path(per_device, jnp.float64, UNEVEN))
    return out


# Second-order steps amplify the reductions' rounding by the conditioning of their
# systems: Gauss-Newton with damping 1e-10 ends 2e-6 apart after 5 steps (1e-6:
# 2e-10; 1e-3: 3e-13), self-scaled Broyden 3e-12 after 10 steps (5: 4e-13).
def gauss_newton():
    training = pl.training(loss_of(jnp.float64), pl.optim.gauss_newton(damping=1e-3))
    return fixed(training, jnp.float64, 5)


def quasi_newton():
    training = pl.training(loss_of(jnp.float64), pl.optim.quasi_newton("ssbroyden"))
    return fixed(training, jnp.float64, 5)


def ensemble(mesh, data_axis, per_device=False):
    """8 members trained under vmap on one device, and split over `mesh`.

    `per_device`: the split members train with `data_parallel` over `data_axis`.
    """
    u, loss, sampler = problem(jnp.float32, EVEN, width=8)
    training = pl.training(loss, optax.adam(1e-3))
    split = training
    if per_device:
        fast = pl.parallel.data_parallel(loss, mesh, data_axis)
        split = pl.training(fast, optax.adam(1e-3))
    keys = jax.random.split(jax.random.key(0), 8)
    states = eqx.filter_vmap(
        lambda k: training.init(
            eqx.tree_at(
                lambda m: m.layers[0].weight,
                u,
                jax.random.normal(k, (8, 2), jnp.float32),
            ),
            key=k,
        )
    )(keys)

    def go(states, sampler, training=training):
        run = lambda s: pl.run(training, s, sampler, 20, args={"nu": NU},
                               resample_every=5)  # fmt: skip
        return eqx.filter_vmap(run)(states)

    one = go(states, sampler)
    many_sampler = sampler
    if data_axis is not None:
        many_sampler = pl.parallel.shard_sampler(sampler, mesh, data_axis)
    placed = pl.parallel.shard_members(states, mesh, data_axis=data_axis)
    many = go(placed, many_sampler, split)
    members = many.state.model.layers[0].weight.sharding
    out = compare(
        pl.Run(one.state, one.metrics, one.result.max(), one.failed_step),
        pl.Run(many.state, many.metrics, many.result.max(), many.failed_step),
    )
    out["equal"] = bool(np.array_equal(flat(one.state), flat(many.state)))
    out["spec"] = str(members.spec)
    if per_device:
        # The members stay split inside the per-device step: it gathers no more
        # than the partitioned step of the same ensemble.
        def gathered(training):
            dynamic, static = eqx.partition(placed, eqx.is_array)

            def step(dynamic):
                states = eqx.combine(dynamic, static)
                batch = many_sampler(jax.random.key(0))
                new, _ = eqx.filter_vmap(lambda s: training.step(s, batch, {"nu": NU}))(
                    states
                )
                return eqx.filter(new, eqx.is_array)

            text = jax.jit(step).lower(dynamic).compile().as_text()
            return moved(text, ("all-gather", "all-to-all"))

        out["gathered"] = gathered(split)
        out["gathered_partitioned"] = gathered(training)
        path = per_device_path(fast, jnp.float32, EVEN, mesh, data_axis)
        out["per_device"] = path["per_device"]
    return out


def sampler_placement() -> dict:
    """Where a sharded sampler draws: the collectives of its compiled program.

    `{name: {"equal": sharded draw == one device's draw, "gathered": entries of
    arrays moved between devices, "devices": devices holding the draw}}` for a
    space-time interior (drawn row by row where it lands) and a plate with a hole
    (a set operation, sampled by rejection).
    """
    domains = pl.domains
    plate = domains.Difference(
        domains.Box((-1.0, -1.0), (1.0, 1.0)), domains.Disk((0.0, 0.0), 0.3)
    )
    samplers = {
        "interior": pl.domains.sampler(
            domains.SpaceTime(domains.Interval(-1.0, 1.0), 0.0, 1.0),
            pde=("interior", 800),
        ),
        "plate": pl.domains.sampler(plate, pde=("interior", 800), bc=("boundary", 80)),
    }
    out = {}
    for name, sampler in samplers.items():
        sharded = jax.jit(pl.parallel.shard_sampler(sampler, data_mesh()))
        text = sharded.lower(jax.random.key(0)).compile().as_text()
        one, many = jax.jit(sampler)(jax.random.key(0)), sharded(jax.random.key(0))
        out[name] = {
            "equal": all(np.array_equal(one[k], many[k]) for k in one),
            "gathered": moved(text),
            "devices": min(len(x.sharding.device_set) for x in many.values()),
        }
    return out


def placement_errors() -> dict:
    """The messages of placements that do not divide among 8 devices."""
    u, loss, sampler = problem(jnp.float64, EVEN)
    domain = pl.domains.SpaceTime(pl.domains.Interval(-1.0, 1.0), 0.0, 1.0)
    pool = pl.domains.sampler(domain, dtype=jnp.float64, pde=("interior", 400))
    rad = pl.training(
        loss, optax.adam(1e-3), sampling=pl.sampling.rad(pool, num_points=100)
    )
    members = jax.make_mesh((8,), ("members",))
    attempts = {
        "batch": lambda: pl.parallel.shard({"pde": jnp.zeros((10, 2))}, data_mesh()),
        "strategy_points": lambda: pl.parallel.shard_state(
            rad.init(u, key=jax.random.key(0)), data_mesh()
        ),
        "unbatched_members": lambda: pl.parallel.shard_members(
            pl.training(loss, optax.adam(1e-3)).init(u, key=jax.random.key(0)),
            members,
        ),
    }
    out = {}
    for name, attempt in attempts.items():
        try:
            attempt()
            out[name] = None
        except ValueError as error:
            out[name] = str(error)
    return out


CHECKPOINT_RUN = dict(args={"nu": NU}, resample_every=5)


def checkpoint_problem(wrap=lambda loss: loss):
    """The model, training and sampler whose checkpoints cross device counts.

    `wrap`: applied to the loss (e.g. `pl.parallel.data_parallel`).
    """
    u, loss, sampler = problem(jnp.float64)
    training = pl.training(
        wrap(loss),
        optax.adam(1e-3),
        weighting=pl.weighting.gradient_norm_annealing(),
        update_every=5,
    )
    return u, training, sampler


def checkpoints(directory: str) -> dict:
    """8 -> 1 (written here, continued by the test) and 1 -> 8 (the reverse)."""
    u, training, sampler = checkpoint_problem()
    mesh = data_mesh()
    kw = CHECKPOINT_RUN
    sharded = pl.parallel.shard_sampler(sampler, mesh)
    start = pl.parallel.shard_state(training.init(u, key=jax.random.key(1)), mesh)
    first = pl.run(training, start, sharded, 10, **kw)
    pl.checkpoint.save(f"{directory}/eight", first.state)
    stayed = pl.run(training, first.state, sharded, 10, **kw)
    np.save(f"{directory}/eight-continued.npy", flat(stayed.state))
    # Restored onto the mesh from this very checkpoint: bit for bit.
    template = pl.parallel.shard_state(training.init(u, key=jax.random.key(1)), mesh)
    back = pl.checkpoint.load(f"{directory}/eight", template).state
    again = pl.run(training, back, sharded, 10, **kw)
    # 1 -> 8: the test process saved after 10 steps on one device.
    restored = pl.checkpoint.load(f"{directory}/one", template).state
    placed = restored.model.layers[0].weight.sharding
    continued = pl.run(training, restored, sharded, 10, **kw)
    np.save(f"{directory}/one-continued-on-eight.npy", flat(continued.state))
    return {
        "eight_to_eight_equal": bool(
            np.array_equal(flat(again.state), flat(stayed.state))
        ),
        "restored_devices": len(placed.device_set),
    }


CASES = {
    "adam-float32": lambda: adam_weighted(jnp.float32),
    "adam-float64": lambda: adam_weighted(jnp.float64),
    "per-device-float32": lambda: adam_per_device(jnp.float32),
    "per-device-uneven-float64": lambda: adam_per_device(jnp.float64, UNEVEN),
    "lbfgs-float32": lambda: lbfgs(jnp.float32),
    "lbfgs-float64": lambda: lbfgs(jnp.float64),
    "ntk-float64": ntk,
    "rad-float64": rad,
    "rar_d-float64": rar_d,
    "time_marching-float64": time_marching,
    "causal-float64": causal,
    "causal-per-device-float64": lambda: causal(per_device=True),
    "gauss_newton-float64": gauss_newton,
    "ssbroyden-float64": quasi_newton,
    "members": lambda: ensemble(jax.make_mesh((8,), ("members",)), None),
    "members-data": lambda: ensemble(
        jax.make_mesh((4, 2), ("members", "data")), "data"
    ),
    "members-data-per-device": lambda: ensemble(
        jax.make_mesh((4, 2), ("members", "data")), "data", per_device=True
    ),
}


if __name__ == "__main__":
    out, directory = sys.argv[1], sys.argv[2]
    assert jax.device_count() == 8, jax.devices()
    results = {}
    for name, case in CASES.items():
        start = time.perf_counter()
        results[name] = case()
        print(f"{name}: {time.perf_counter() - start:.1f} s", file=sys.stderr)
    results["checkpoints"] = checkpoints(directory)
    results["sampler_placement"] = sampler_placement()
    results["placement_errors"] = placement_errors()
    with open(out, "w") as file:
        json.dump(results, file, indent=1)
