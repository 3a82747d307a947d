"""The mesh pinnlib places arrays on: the user's devices and names, in Auto mode."""

from jax.sharding import AxisType, Mesh

from .._errors import bad_argument


def auto_mesh(where: str, mesh) -> Mesh:
    """`mesh` with every axis in `AxisType.Auto` (XLA's sharding propagation).

    `jax.make_mesh` gives Explicit axes by default, whose sharding rules refuse some
    operations (an axis split unevenly, a sort over a split axis). In Auto mode XLA
    partitions every operation of the step and pads uneven splits itself, so the
    program computes what it computes on one device. The devices and the axis names
    are the user's.
    """
    if not isinstance(mesh, Mesh):
        raise bad_argument(
            f"{where}(mesh=...)",
            "a jax.sharding.Mesh",
            type(mesh).__name__,
            'Make one with jax.make_mesh((jax.device_count(),), ("data",)).',
        )
    if all(t == AxisType.Auto for t in mesh.axis_types):
        return mesh
    auto = (AxisType.Auto,) * len(mesh.axis_names)
    return Mesh(mesh.devices, mesh.axis_names, axis_types=auto)


def check_axis(where: str, mesh: Mesh, axis, name: str = "axis") -> str:
    """`axis` if it names an axis of `mesh`; raise otherwise."""
    if axis not in mesh.axis_names:
        raise bad_argument(
            f"{where}({name}=...)",
            f"one of the mesh's axis names {list(mesh.axis_names)}",
            axis,
            f"Pass {name}= one of those names, or build the mesh with it: "
            f'jax.make_mesh((jax.device_count(),), ("{axis}",)).',
        )
    return axis


def axis_size(mesh: Mesh, *axes: str | None) -> int:
    """The number of devices along `axes` of `mesh` together (None counts 1)."""
    size = 1
    for axis in axes:
        if axis is not None:
            size *= dict(mesh.shape)[axis]
    return size
