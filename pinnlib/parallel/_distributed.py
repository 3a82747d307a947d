"""Many processes (hosts): one call to `jax.distributed.initialize`, resolved."""

import os
from typing import NamedTuple

import jax

from .._errors import bad_argument

_ENV = {
    "coordinator_address": "JAX_COORDINATOR_ADDRESS",
    "num_processes": "JAX_NUM_PROCESSES",
    "process_id": "JAX_PROCESS_ID",
}
_SLURM = ("SLURM_JOB_ID", "SLURM_STEP_NODELIST", "SLURM_NTASKS", "SLURM_PROCID")
# Variables that say a process was started by a cluster launcher (SLURM, Open MPI).
_CLUSTER_MARKERS = ("SLURM_STEP_NODELIST", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK")


def _backend_started() -> bool:
    """Whether JAX has started its devices (then it is too late to initialise)."""
    from jax._src import xla_bridge  # JAX's own test of the same, not exported

    return xla_bridge.backends_are_initialized()


class Processes(NamedTuple):
    """What `initialize` found: this process among the others, and the devices.

    **Fields:** `process_id`, `num_processes`, `local_devices` (this process's
    device count), `devices` (the global device count), `source` (`"arguments"`,
    `"environment"`, `"slurm"`, `"cluster"` for another cluster JAX detects, or
    `"single"` when there is only this process).

    !!! example

        ```python
        procs = pl.parallel.initialize()
        procs.process_id, procs.num_processes, procs.devices  # (0, 1, 1) alone
        ```
    """

    process_id: int
    num_processes: int
    local_devices: int
    devices: int
    source: str


def _from_environment(name: str, given: int | None) -> int | None:
    """`given`, else the integer in the environment variable of `name`."""
    if given is not None:
        return given
    value = os.environ.get(_ENV[name])
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise bad_argument(
            f"pinnlib.parallel.initialize({name}=...)",
            f"an integer in the environment variable {_ENV[name]}",
            value,
            f"Set {_ENV[name]} to an integer, or pass {name}= explicitly.",
        ) from None


def _describe() -> Processes:
    return Processes(
        jax.process_index(),
        jax.process_count(),
        jax.local_device_count(),
        jax.device_count(),
        "single" if jax.process_count() == 1 else "cluster",
    )


def initialize(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    local_device_ids: list[int] | None = None,
    timeout: int = 300,
) -> Processes:
    r"""Join this process to a multi-process JAX run (`jax.distributed.initialize`).

    Call it first in a script, before any other JAX call. Afterwards
    `jax.devices()` lists the devices of every process, a mesh built from them spans
    the hosts, and everything in `pinnlib.parallel` works across them unchanged.
    Every process runs the same script; each draws and computes only the points on
    its own devices.

    Where the settings come from, in this order:

    1. the arguments;
    2. the environment variables `JAX_COORDINATOR_ADDRESS` (`host:port` of process
       0), `JAX_NUM_PROCESSES` and `JAX_PROCESS_ID`;
    3. the cluster JAX detects: SLURM (`srun`: `SLURM_NTASKS`, `SLURM_PROCID`, the
       first node of `SLURM_STEP_NODELIST` as coordinator), Open MPI, Kubernetes.

    With none of these, and no cluster, there is one process: nothing is
    initialised and the `Processes` returned says `source="single"`, so one script
    runs on a laptop and on a cluster.

    On CPU, processes exchange data through the Gloo collectives (JAX's
    `jax_cpu_collectives_implementation`); on GPUs through NCCL.

    **Arguments:**

    - `coordinator_address`: `"host:port"` of process 0, reachable by all.
    - `num_processes`: the number of processes.
    - `process_id`: this process's index, in `[0, num_processes)`.
    - `local_device_ids`: the local devices this process uses (one process per
      GPU: `[local_rank]`); default all (keyword-only).
    - `timeout`: seconds to wait for the other processes (keyword-only).

    **Returns:** a `Processes` record.

    Settings can also be mixed: in a cluster job, those not given by the arguments
    or the environment come from the cluster (e.g. `JAX_COORDINATOR_ADDRESS` set,
    the process count and index from SLURM).

    **Raises:** `ValueError` if some settings are given and others are missing
    outside a cluster job (naming them and where they may come from), or if
    `process_id` is not in `[0, num_processes)`; `RuntimeError` when called in a
    cluster job (SLURM or Open MPI variables set) after JAX has started its
    devices: call it first.

    !!! example

        ```python
        import pinnlib as pl

        procs = pl.parallel.initialize()  # arguments, environment or SLURM
        mesh = jax.make_mesh((jax.device_count(),), ("data",))
        if procs.process_id == 0:
            print(f"{procs.num_processes} processes, {procs.devices} devices")
        ```
    """
    where = "pinnlib.parallel.initialize"
    if jax.distributed.is_initialized():
        return _describe()._replace(source="cluster")
    address = coordinator_address or os.environ.get(_ENV["coordinator_address"])
    count = _from_environment("num_processes", num_processes)
    index = _from_environment("process_id", process_id)

    def start(address=None, count=None, index=None) -> None:
        jax.distributed.initialize(
            address,
            count,
            index,
            local_device_ids=local_device_ids,
            initialization_timeout=timeout,
        )

    if address is None and count is None and index is None:
        # JAX's cluster detection (SLURM, Open MPI, Kubernetes, ...), if any.
        source = "slurm" if all(v in os.environ for v in _SLURM) else "cluster"
        if _backend_started():
            # Too late to join a cluster; alone, there is nothing to join.
            if any(v in os.environ for v in _CLUSTER_MARKERS):
                raise RuntimeError(
                    f"{where}(): this process is in a cluster job "
                    f"({sorted(v for v in _CLUSTER_MARKERS if v in os.environ)} "
                    "are set) but JAX has already started its devices. Call "
                    "pl.parallel.initialize() first in the script, before any "
                    "other JAX call (jax.devices(), an array, a computation)."
                )
            return _describe()._replace(source="single")
        try:
            start()
        except ValueError:  # no cluster found: a single process
            if source == "slurm":
                raise
            return _describe()._replace(source="single")
        return _describe()._replace(source=source)
    given = {"coordinator_address": address, "num_processes": count,
             "process_id": index}  # fmt: skip
    in_cluster = [v for v in _CLUSTER_MARKERS if v in os.environ]
    if (address is None or count is None or index is None) and in_cluster:
        # A cluster job: JAX takes the settings not given from the cluster.
        start(address, count, index)
        source = "slurm" if "SLURM_PROCID" in os.environ else "cluster"
        return _describe()._replace(source=source)
    if address is None or count is None or index is None:
        missing = [name for name, value in given.items() if value is None]
        raise bad_argument(
            f"{where}({', '.join(f'{k}=...' for k in missing)})",
            "all of coordinator_address, num_processes and process_id",
            f"only {[k for k, v in given.items() if v is not None]}",
            "Pass the missing ones, or set "
            + ", ".join(_ENV[k] for k in missing)
            + " in the environment of every process.",
        )
    if not 0 <= index < count:
        raise bad_argument(
            f"{where}(process_id=...)",
            f"an index in [0, {count}) (num_processes={count})",
            index,
            "Give each process its own index, from 0 to num_processes - 1.",
        )
    start(address, count, index)
    explicit = (coordinator_address, num_processes, process_id)
    source = "arguments" if None not in explicit else "environment"
    return _describe()._replace(source=source)
