"""Data-parallel scaling of pinnlib's training step on 1, 2, 4 and 8 devices.

Measures training steps per second of `pl.run` with the state replicated
(`pl.parallel.shard_state`) and the points split over a mesh axis `"data"`
(`pl.parallel.shard` for a fixed batch, `pl.parallel.shard_sampler` for points drawn
in the loop): sharded `jit`, one compiled program that XLA partitions. Four set-ups,
each at every device count D:

- `burgers-fixed-total`: the set-up of `burgers_speed.py` exactly (MLP 2-32-32-32-1
  tanh with the weights of `init_weights(0)`, the points of `make_points(0)`:
  2540/80/160, Adam 1e-3, float32, weights 1, a fixed batch). 2540 does not divide
  among 8 devices: there the fixed batch goes in as a sampler returning it, through
  `pl.parallel.shard_sampler`, which pads (`placement` in the JSON says which).
- `burgers-fixed-per-device`: the same per device: 2540·D / 80·D / 160·D fixed
  points, the points of `make_points(0)` and D - 1 more blocks drawn with NumPy's
  `default_rng` in the same boxes.
- `large-fixed-total`: the same network and loss on 2^17 = 131072 interior, 1024
  boundary and 1024 initial points, redrawn every step inside the compiled loop by
  a `pl.domains.sampler` (`pl.parallel.shard_sampler`, `resample_every=1`).
- `large-fixed-per-device`: 2^14 = 16384 interior, 128 boundary and 128 initial
  points per device, redrawn every step: at D = 8 that is the 131072 points per step
  of `large-fixed-total` (kept smaller per device so that D = 8 stays affordable).

Each run is compiled by one call, then `--repeats` calls of `--steps` steps
(`--large-steps` for the large set-ups) are timed with `jax.block_until_ready` and
the median is reported. For a fixed total, speed-up = steps/s(D) / steps/s(1); for a
fixed amount per device it is the throughput ratio steps/s(D) · D / steps/s(1)
(points per second against one device). Efficiency = speed-up / D in both cases
(ideal 1).

Agreement: every run records its loss trajectory L_D(t) and compares it with the
same points on one device, `rel = max_t |L_D(t) - L_1(t)| / |L_1(t)|` (for the
per-device set-ups the one-device reference is an untimed run of the same D-fold
points on the first device, in the same process). `max_rel_diff_vs_1_device` is the
largest over all set-ups and D.

Every set-up is also run with `pl.parallel.data_parallel(loss, mesh)`, the same
training with its statistics and gradient computed per device and summed with two
`psum`s (a count that does not divide among the devices, e.g. 2540 points on 8,
is padded per device and the padding's statistics taken off again).

For comparison, the two Burgers set-ups are also run as a hand-written `shard_map`
step (`jax.shard_map`): the plain-JAX MLP and residual of `burgers_speed.py`, points
padded to a multiple of D with a 0/1 mask, each device summing its squared
residuals and counting its real points per term, `psum` of sums, counts and
gradients (loss = sum over terms of psum(sum) / psum(count)), Adam outside the
`shard_map` on replicated parameters, the loop a `lax.scan` in one `jit`. Reported:
its steps/s, the ratio shard_map steps/s / pinnlib steps/s at the same D, and the
relative difference of its loss trajectory from pinnlib's one-device run.

On CPU, device count D means D XLA *host devices sharing the machine's CPU cores*
(`--xla_force_host_platform_device_count=D`): the script re-runs itself, one child
process per D, one after another, with that flag added to `XLA_FLAGS` and
`JAX_PLATFORMS=cpu`. There is no more compute at larger D, so the numbers show what
partitioning and the collectives cost, not a real speed-up. `--real-devices` uses
the machine's own devices (GPUs) in this process instead, meshing over the first D of
`jax.devices()` for D = 1, 2, 4, 8 up to the device count.

The output is a markdown table and, as the last line, one JSON object.

    python benchmarks/scaling.py                       # host devices, D = 1, 2, 4, 8
    python benchmarks/scaling.py --real-devices        # GPUs
    python benchmarks/scaling.py --steps 3 --large-steps 2 --repeats 1 --devices 1,2

Options: `--steps` (Burgers, default 200), `--large-steps` (default 10),
`--repeats` (default 3), `--devices` (default 1,2,4,8; 1 is always added, as the
reference), `--setups` (a comma-separated subset), `--real-devices`,
`--json-out FILE`, `--markdown-out FILE`.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from _burgers_setup import (
    _MARGIN,
    N_BOUNDARY,
    N_INITIAL,
    N_INTERIOR,
    NU,
    _redraw,
    init_weights,
    make_points,
)
from burgers_speed import _mlp, _residual_rev, burgers_loss, pinnlib_model
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec as P

import pinnlib as pl

SETUPS = (
    "burgers-fixed-total",
    "burgers-fixed-per-device",
    "large-fixed-total",
    "large-fixed-per-device",
)
LARGE_TOTAL = (2**17, 1024, 1024)
LARGE_PER_DEVICE = (2**14, 128, 128)
_FORCE = "--xla_force_host_platform_device_count"

# ---------------------------------------------------------------- problems


def _block(seed: int) -> dict[str, np.ndarray]:
    """2540/80/160 more points in the boxes of `make_points`, from `default_rng`."""
    rng = np.random.default_rng([0, 3, seed])
    draw = lambda lo, n: rng.uniform(lo, 1.0, n)  # noqa: E731
    near_edge = lambda a: 1.0 - np.abs(a) < _MARGIN  # noqa: E731
    near_zero = lambda a: a < _MARGIN  # noqa: E731
    x = _redraw(draw(-1.0, N_INTERIOR), near_edge, lambda n: draw(-1.0, n))
    t = _redraw(draw(0.0, N_INTERIOR), near_zero, lambda n: draw(0.0, n))
    half = N_BOUNDARY // 2
    tb = _redraw(draw(0.0, half), near_zero, lambda n: draw(0.0, n))
    xi = _redraw(draw(-1.0, N_INITIAL), near_edge, lambda n: draw(-1.0, n))
    side = lambda s: np.stack([np.full(half, s), tb], 1)  # noqa: E731
    return {
        "pde": np.stack([x, t], 1).astype(np.float32),
        "bc": np.concatenate([side(-1.0), side(1.0)]).astype(np.float32),
        "ic": np.stack([xi, np.zeros(N_INITIAL)], 1).astype(np.float32),
    }


def burgers_points(copies: int) -> dict[str, np.ndarray]:
    """`make_points(0)` and `copies - 1` further blocks, concatenated per term."""
    blocks = [make_points(0)] + [_block(b) for b in range(1, copies)]
    return {k: np.concatenate([b[k] for b in blocks]) for k in blocks[0]}


def large_sampler(counts: tuple[int, int, int]):
    domain = pl.domains.SpaceTime(pl.domains.Interval(-1.0, 1.0), 0.0, 1.0)
    interior, boundary, initial = counts
    return pl.domains.sampler(
        domain,
        dtype=jnp.float32,
        pde=("interior", interior),
        bc=("boundary", boundary),
        ic=("initial", initial),
    )


class FixedBatch(eqx.Module):
    """A fixed batch as a sampler `key -> batch`: its arrays are inputs, not constants."""

    batch: dict

    def __call__(self, key):
        del key
        return self.batch


def place_fixed(batch: dict, mesh: Mesh):
    """The batch split over `mesh`: `shard` if every count divides, else a sampler."""
    if all(v.shape[0] % mesh.size == 0 for v in batch.values()):
        return pl.parallel.shard(batch, mesh), "shard"
    fixed = FixedBatch(pl.parallel.replicate(batch, mesh))
    return pl.parallel.shard_sampler(fixed, mesh), "shard_sampler(fixed batch)"


# ---------------------------------------------------------------- shard_map


def _padded(points: dict[str, np.ndarray], devices: int):
    """Points (with the initial targets) padded to a multiple of D, and 0/1 masks."""
    ic_u = np.asarray(-jnp.sin(jnp.pi * jnp.asarray(points["ic"][:, 0])))
    arrays = dict(points, ic_u=ic_u)

    def pad(a):
        return np.concatenate([a, np.zeros((-len(a) % devices, *a.shape[1:]), a.dtype)])

    masks = {k: pad(np.ones(len(points[k]), np.float32)) for k in ("pde", "bc", "ic")}
    return {k: pad(a) for k, a in arrays.items()}, masks


def _local_loss_and_grads(params, pts, masks):
    """One device: its sums and counts, psum'd; the gradient of its share, psum'd."""
    counts = {k: jax.lax.psum(jnp.sum(m), "data") for k, m in masks.items()}

    def share(params):
        r = jax.vmap(_residual_rev, (None, 0))(params, pts["pde"])
        ub = jax.vmap(_mlp, (None, 0))(params, pts["bc"])
        ui = jax.vmap(_mlp, (None, 0))(params, pts["ic"])
        squares = {"pde": r**2, "bc": ub**2, "ic": (ui - pts["ic_u"]) ** 2}
        sums = {k: jnp.sum(masks[k] * v) for k, v in squares.items()}
        return sum(sums[k] / counts[k] for k in sums), sums

    # Differentiate the device's own copy, so that the gradient stays local.
    local = jax.lax.pcast(params, "data", to="varying")
    (_, sums), grads = jax.value_and_grad(share, has_aux=True)(local)
    loss = sum(jax.lax.psum(sums[k], "data") / counts[k] for k in sums)
    return loss, jax.lax.psum(grads, "data")


def shard_map_runner(mesh: Mesh, num_steps: int):
    """`train(params, pts, masks) -> ((params, opt_state), losses)`, one jit."""
    opt = optax.adam(1e-3)
    grads_of = jax.shard_map(
        _local_loss_and_grads,
        mesh=mesh,
        in_specs=(P(), P("data"), P("data")),
        out_specs=(P(), P()),
    )

    @jax.jit
    def train(params, pts, masks):
        def step(carry, _):
            params, opt_state = carry
            loss, grads = grads_of(params, pts, masks)
            updates, opt_state = opt.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        init = (params, opt.init(params))
        return jax.lax.scan(step, init, None, length=num_steps)

    return train


def shard_map_call(points: dict[str, np.ndarray], mesh: Mesh, num_steps: int):
    auto = Mesh(mesh.devices, mesh.axis_names, axis_types=(AxisType.Auto,))
    split, whole = NamedSharding(auto, P("data")), NamedSharding(auto, P())
    pts, masks = _padded(points, mesh.size)
    pts, masks = jax.device_put((pts, masks), split)
    params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in init_weights(0)]
    params = jax.device_put(params, whole)
    train = shard_map_runner(auto, num_steps)
    return lambda: train(params, pts, masks)


# ---------------------------------------------------------------- timing


def _timed(calls: dict, repeats: int):
    """Compile by one call each, then time `repeats` calls, alternating; medians."""
    first, outs = {}, {}
    for name, call in calls.items():
        start = time.perf_counter()
        outs[name] = jax.block_until_ready(call())
        first[name] = time.perf_counter() - start
    times = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            outs[name] = jax.block_until_ready(call())
            times[name].append(time.perf_counter() - start)
    return {k: statistics.median(t) for k, t in times.items()}, first, outs


def _losses(run: pl.Run) -> list[float]:
    if int(run.result) != 0:
        raise RuntimeError(f"the run ended with {pl.RESULTS(int(run.result))!r}")
    return np.asarray(run.metrics["loss"], np.float64).tolist()


def _problem(setup: str, devices: int):
    """(points or sampler, before placement; counts per term; resample_every)."""
    if setup == "burgers-fixed-total":
        points = burgers_points(1)
    elif setup == "burgers-fixed-per-device":
        points = burgers_points(devices)
    else:
        if setup == "large-fixed-total":
            counts = LARGE_TOTAL
        else:
            counts = tuple(devices * c for c in LARGE_PER_DEVICE)
        return large_sampler(counts), dict(zip(("pde", "bc", "ic"), counts)), 1
    counts = {k: len(v) for k, v in points.items()}
    return points, counts, None


def measure_setup(setup: str, mesh: Mesh, args) -> dict:
    devices = mesh.size
    problem, counts, every = _problem(setup, devices)
    steps = args.large_steps if every else args.steps
    training = pl.training(burgers_loss(), optax.adam(1e-3))
    state = training.init(pinnlib_model(init_weights(0)), key=jax.random.key(0))
    kw = dict(args={"nu": NU}, resample_every=every)
    if every:
        batch, placement = pl.parallel.shard_sampler(problem, mesh), "shard_sampler"
    else:
        problem = {k: jnp.asarray(v) for k, v in problem.items()}
        batch, placement = place_fixed(problem, mesh)
    sharded = pl.parallel.shard_state(state, mesh)
    per_device = pl.training(
        pl.parallel.data_parallel(burgers_loss(), mesh), optax.adam(1e-3)
    )
    calls = {
        "pinnlib": lambda: pl.run(training, sharded, batch, steps, **kw),
        "per_device": lambda: pl.run(per_device, sharded, batch, steps, **kw),
    }
    if setup.startswith("burgers"):
        points = burgers_points(devices if "per-device" in setup else 1)
        calls["shard_map"] = shard_map_call(points, mesh, steps)
    seconds, first, outs = _timed(calls, args.repeats)
    entry = {
        "steps": steps,
        "points_per_step": counts,
        "placement": placement,
        "seconds": seconds["pinnlib"],
        "steps_per_s": steps / seconds["pinnlib"],
        "first_call_s": first["pinnlib"],
        "losses": _losses(outs["pinnlib"]),
    }
    entry["per_device_steps_per_s"] = steps / seconds["per_device"]
    entry["per_device_losses"] = _losses(outs["per_device"])
    if "shard_map" in calls:
        entry["shard_map_steps_per_s"] = steps / seconds["shard_map"]
        entry["shard_map_losses"] = np.asarray(outs["shard_map"][1]).tolist()
    if "per-device" in setup:  # the same points on one device, untimed
        entry["reference_losses"] = (
            entry["losses"]
            if devices == 1
            else _losses(pl.run(training, state, problem, steps, **kw))
        )
    return entry


def data_mesh(devices: list) -> Mesh:
    if len(devices) == jax.device_count():
        return jax.make_mesh((len(devices),), ("data",))
    return Mesh(np.array(devices), ("data",))


def versions() -> dict:
    import jaxlib

    return {
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "pinnlib": pl.__version__,
        "numpy": np.__version__,
        "optax": optax.__version__,
        "equinox": eqx.__version__,
    }


def measure(devices: list, args) -> dict:
    """Every chosen set-up on a mesh over `devices`."""
    mesh = data_mesh(devices)
    out = {}
    for setup in args.setups:
        start = time.perf_counter()
        out[setup] = entry = measure_setup(setup, mesh, args)
        extra = ""
        if "shard_map_steps_per_s" in entry:
            extra = f", shard_map {entry['shard_map_steps_per_s']:.3g} steps/s"
        print(
            f"[D={len(devices)}] {setup}: {entry['steps_per_s']:.3g} steps/s{extra} "
            f"({time.perf_counter() - start:.0f} s)",
            file=sys.stderr,
            flush=True,
        )
    return {
        "devices": len(devices),
        "platform": devices[0].platform,
        "device_kind": devices[0].device_kind,
        "setups": out,
    }


# ---------------------------------------------------------------- the parent


def child_env(devices: int) -> dict:
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    flags = [f for f in env.get("XLA_FLAGS", "").split() if not f.startswith(_FORCE)]
    env["XLA_FLAGS"] = " ".join([*flags, f"{_FORCE}={devices}"])
    return env


def run_child(devices: int, args) -> dict:
    """This script with `--child D` in a fresh process; its last JSON line."""
    command = [sys.executable, os.path.abspath(__file__), "--child", str(devices)]
    command += ["--steps", str(args.steps), "--large-steps", str(args.large_steps)]
    command += ["--repeats", str(args.repeats), "--setups", ",".join(args.setups)]
    proc = subprocess.run(
        command, env=child_env(devices), stdout=subprocess.PIPE, text=True
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"child D={devices} failed (exit {proc.returncode})")
    return json.loads(lines[-1])


def rel_diff(values, reference) -> float:
    a, b = np.asarray(values), np.asarray(reference)
    return float(np.max(np.abs(a - b) / np.abs(b)))


def summarise_setup(setup: str, runs: dict[int, dict]) -> dict:
    base = runs[1]["setups"][setup]
    per_device = "per-device" in setup
    out = {}
    for devices, run in sorted(runs.items()):
        entry = run["setups"][setup]
        reference = entry["reference_losses"] if per_device else base["losses"]
        speedup = entry["steps_per_s"] / base["steps_per_s"]
        speedup *= devices if per_device else 1
        row = {k: entry[k] for k in ("steps", "points_per_step", "placement")}
        row |= {
            "steps_per_s": round(entry["steps_per_s"], 4),
            "seconds_per_call": round(entry["seconds"], 4),
            "first_call_s": round(entry["first_call_s"], 2),
            "speedup": round(speedup, 4),
            "efficiency": round(speedup / devices, 4),
            "final_loss": entry["losses"][-1],
            "rel_diff_vs_1_device": rel_diff(entry["losses"], reference),
        }
        pd = entry["per_device_steps_per_s"]
        row["per_device_steps_per_s"] = round(pd, 4)
        row["per_device_vs_sharded_jit"] = round(pd / entry["steps_per_s"], 4)
        row["per_device_rel_diff_vs_1_device"] = rel_diff(
            entry["per_device_losses"], reference
        )
        if "shard_map_steps_per_s" in entry:
            sm = entry["shard_map_steps_per_s"]
            row["shard_map_steps_per_s"] = round(sm, 4)
            row["shard_map_vs_sharded_jit"] = round(sm / entry["steps_per_s"], 4)
            row["shard_map_rel_diff_vs_pinnlib_1_device"] = rel_diff(
                entry["shard_map_losses"], reference
            )
        out[str(devices)] = row
    return out


def _fmt(value, spec: str) -> str:
    return "" if value is None else format(value, spec)


def markdown(results: dict, label: str) -> str:
    lines = [
        f"Devices: {label}.",
        "Speed-up: steps/s(D) / steps/s(1) for a fixed total; the throughput ratio "
        "steps/s(D) · D / steps/s(1) for a fixed amount per device. "
        "Efficiency = speed-up / D. data_parallel: pinnlib with "
        "pl.parallel.data_parallel(loss, mesh) (statistics and gradient per device, "
        "two psums). "
        "shard_map ratio = shard_map steps/s / pinnlib steps/s. Rel diff: "
        "max_t |L_D(t) - L_1(t)| / |L_1(t)| against the same points on one device "
        "(pinnlib).",
        "",
        "| set-up | D | steps/s | speed-up | efficiency | data_parallel steps/s "
        "| shard_map steps/s | shard_map ratio | rel diff vs 1 device "
        "| data_parallel rel diff | shard_map rel diff |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for setup, rows in results.items():
        for devices, row in rows.items():
            cells = [
                setup,
                devices,
                _fmt(row["steps_per_s"], ".4g"),
                _fmt(row["speedup"], ".3f"),
                _fmt(row["efficiency"], ".3f"),
                _fmt(row["per_device_steps_per_s"], ".4g"),
                _fmt(row.get("shard_map_steps_per_s"), ".4g"),
                _fmt(row.get("shard_map_vs_sharded_jit"), ".3f"),
                _fmt(row["rel_diff_vs_1_device"], ".1e"),
                _fmt(row["per_device_rel_diff_vs_1_device"], ".1e"),
                _fmt(row.get("shard_map_rel_diff_vs_pinnlib_1_device"), ".1e"),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(runs: dict[int, dict], label: str, kind: str, args) -> tuple[str, dict]:
    results = {s: summarise_setup(s, runs) for s in args.setups}
    per_setup = {
        s: max(r["rel_diff_vs_1_device"] for r in rows.values())
        for s, rows in results.items()
    }
    ratios = {
        s: {d: r["shard_map_vs_sharded_jit"] for d, r in rows.items()}
        for s, rows in results.items()
        if s.startswith("burgers")
    }
    per_device = {
        s: {d: r["per_device_vs_sharded_jit"] for d, r in rows.items()}
        for s, rows in results.items()
    }
    shard_map_rel = [
        r["shard_map_rel_diff_vs_pinnlib_1_device"]
        for rows in results.values()
        for r in rows.values()
        if "shard_map_rel_diff_vs_pinnlib_1_device" in r
    ]
    summary = {
        "benchmark": "scaling",
        "devices": kind,
        "cpu_count": os.cpu_count(),
        "platform": runs[1]["platform"],
        "steps": args.steps,
        "large_steps": args.large_steps,
        "repeats": args.repeats,
        "results": results,
        "max_rel_diff_vs_1_device": max(per_setup.values()),
        "max_rel_diff_vs_1_device_per_setup": per_setup,
        "shard_map_vs_sharded_jit": ratios,
        "data_parallel_vs_sharded_jit": per_device,
        "data_parallel_max_rel_diff_vs_1_device": max(
            r["per_device_rel_diff_vs_1_device"]
            for rows in results.values()
            for r in rows.values()
        ),
        "shard_map_max_rel_diff_vs_pinnlib_1_device": (
            max(shard_map_rel) if shard_map_rel else None
        ),
        "versions": runs[1]["versions"],
    }
    return markdown(results, label), summary


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="Burgers steps")
    parser.add_argument("--large-steps", type=int, default=10, help="large steps")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--devices", default="1,2,4,8", help="device counts D")
    parser.add_argument("--setups", default=",".join(SETUPS), help="a subset")
    parser.add_argument("--real-devices", action="store_true")
    parser.add_argument("--json-out")
    parser.add_argument("--markdown-out")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.setups = [s for s in args.setups.split(",") if s]
    unknown = sorted(set(args.setups) - set(SETUPS))
    if unknown:
        parser.error(f"unknown set-ups {unknown}; choose from {list(SETUPS)}")
    counts = {int(d) for d in args.devices.split(",") if d}
    if min(counts) < 1:
        parser.error("--devices takes positive counts, e.g. 1,2,4,8")
    args.devices = sorted(counts | {1})
    return args


def main():
    args = parse_args()
    if args.child is not None:  # one device count, in this (child) process
        assert jax.device_count() == args.child, jax.devices()
        run = measure(jax.devices(), args) | {"versions": versions()}
        print(json.dumps(run))
        return
    if args.real_devices:
        available = jax.devices()
        skipped = [d for d in args.devices if d > len(available)]
        if skipped:
            print(
                f"only {len(available)} devices: D = {skipped} skipped", file=sys.stderr
            )
        runs = {
            d: measure(available[:d], args) for d in args.devices if d <= len(available)
        }
        runs[1]["versions"] = versions()
        kind = available[0].device_kind
        label = f"real devices, {kind} ({len(available)} available)"
    else:
        runs = {d: run_child(d, args) for d in args.devices}
        kind = f"host devices sharing {os.cpu_count()} CPU cores"
        label = (
            f"D XLA {kind} (os.cpu_count() = {os.cpu_count()}; "
            f"{_FORCE}=D, one process per D)"
        )
    table, summary = report(runs, label, kind, args)
    print(table)
    if args.markdown_out:
        with open(args.markdown_out, "w") as file:
            file.write(table + "\n")
    if args.json_out:
        with open(args.json_out, "w") as file:
            json.dump(summary, file, indent=1)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
