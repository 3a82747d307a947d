r"""Exact boundary and initial conditions as field transforms: $u = g + \phi\,N$.

Sukumar & Srivastava (2022), "Exact imposition of boundary conditions with distance
functions in physics-informed deep neural networks", CMAME 389:114333.
"""

from collections.abc import Callable, Sequence
from typing import Any, cast

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from .._custom_types import Point, PointFn
from .._errors import (
    bad_argument,
    check_components,
    check_output_value,
    check_point_function,
)
from ..diff import taylor
from ..diff._taylor import _push


def _distance_function(where: str, distance) -> Callable[[Point], Any]:
    """`distance` itself, or a domain's `distance` method."""
    method = getattr(distance, "distance", None)
    if callable(method):
        return method
    if callable(distance):
        return distance
    raise bad_argument(
        where,
        "a distance function phi(x) -> () that vanishes on the boundary, or a domain "
        "with a distance method",
        type(distance).__name__,
        "Pass a shape of pinnlib.domains (e.g. Disk, Polygon, Box), its `distance`, "
        "or your own `lambda x: ...`.",
    )


class ExactDirichlet(eqx.Module):
    r"""A field that satisfies $u = g$ exactly where $\phi = 0$: $u = g + \phi\,N$.

    With $\phi$ an approximate distance function of the boundary (zero on it,
    positive inside, normalised so that $\nabla\phi$ is the inward unit normal there)
    and $N$ any network, $u(x) = g(x) + \phi(x)\,N(x)$ meets the Dirichlet condition
    $u = g$ on the boundary for every value of the parameters, so the loss needs no
    boundary term (Sukumar & Srivastava 2022, eq. (7); Lagaris et al. 1998). Every
    shape of `pinnlib.domains` has such a `distance` method (R-functions for
    composed shapes); pass the shape itself. Any function that vanishes where the
    condition is imposed works: $\phi(x, t) = t - t_0$ imposes an initial condition
    (that is [`exact_initial`][]), and a product
    $\phi(x)\,(t - t_0)$ both, with a $g$ that meets both conditions.

    For a vector field, `components` restricts the transform to some outputs (e.g.
    the velocity of a velocity–pressure field): $u_c = g_c + \phi N_c$ for $c$ in
    `components`, $u_c = N_c$ otherwise.

    The transform is a field like any other: it works wherever a field does
    (losses, `pinnlib.fit`, ensembles), and its `taylor_streams` method keeps the
    fused derivative path of `pinnlib.diff` (the network's streams are fused,
    $\phi$'s and $g$'s are pushed by nested `jax.jvp`).

    **Arguments:**

    - `net`: the network $N$, a point function `x -> ()` or `(m,)`.
    - `distance`: $\phi$, a domain with a `distance` method (e.g.
      `pinnlib.domains.Disk`) or a point function `x -> ()`.
    - `g`: the boundary values, a point function `x -> ()`/`(m,)` (`(c,)` with
      `components`) or a number (default 0). Only its values where $\phi = 0$
      matter for the condition; elsewhere it is a lifting, any smooth extension.
    - `components`: output indices of a vector field to impose (keyword-only).

    **Raises:** `ValueError` for a `distance` that is neither a function nor a
    domain, a `g` that is neither a function nor a number, or bad `components`;
    at trace time for `components` on a scalar field or out of range.

    !!! example

        ```python
        disk = pl.domains.Disk((0.0, 0.0), 1.0)
        net = pl.nn.mlp(2, width=32, depth=3, key=jax.random.key(0))
        u = pl.nn.ExactDirichlet(net, disk, g=lambda x: x[0] ** 2)
        u(jnp.array([1.0, 0.0]))       # exactly g = 1 on the circle
        ```
    """

    net: PointFn
    distance: Callable[[Point], Any] = eqx.field(static=True)
    g: Callable[[Point], Any] = eqx.field(static=True)
    components: tuple[int, ...] | None = eqx.field(static=True)

    def __init__(
        self,
        net: Any,
        distance: Any,
        g: Any = 0.0,
        *,
        components: Any = None,
    ):
        where = "pinnlib.nn.ExactDirichlet"
        if not callable(net):
            raise bad_argument(
                f"{where}(net=...)",
                "a network, a point function x -> value",
                type(net).__name__,
                "Pass the network to constrain, e.g. pl.nn.mlp(...).",
            )
        self.net = cast(PointFn, net)
        self.distance = _distance_function(f"{where}(distance=...)", distance)
        self.g = check_point_function(f"{where}(g=...)", g)
        self.components = check_components(f"{where}(components=...)", components)

    def _index(self, shape: tuple[int, ...]) -> np.ndarray:
        assert self.components is not None
        if len(shape) != 1 or not all(
            -shape[0] <= i < shape[0] for i in self.components
        ):
            raise bad_argument(
                "pinnlib.nn.ExactDirichlet(components=...)",
                f"indices of the outputs of a vector network (its output shape is "
                f"{shape})",
                self.components,
                "Use components only with a network x -> (m,), indices in range(m).",
            )
        return np.asarray(self.components) % shape[0]

    def _targets(self, x: Point, shape: tuple[int, ...], dtype) -> Array:
        """$g(x)$ broadcast to the imposed outputs' shape, or an error."""
        value = jnp.asarray(self.g(x))
        check_output_value(
            "pinnlib.nn.ExactDirichlet(g=...)",
            jax.ShapeDtypeStruct(shape, dtype),
            value,
            what="g's value",
            expected=f"values of shape {shape} (or a scalar) per point",
            fix="Return one value per imposed output of the network.",
            floats_only=False,
        )
        return jnp.broadcast_to(value, shape).astype(dtype)

    def __call__(self, x: Float[Array, " d"], *, key=None) -> Float[Array, "*m"]:
        """$g(x) + \\phi(x) N(x)$ on the imposed outputs, $N(x)$ on the others."""
        n = self.net(x)
        phi = self.distance(x)
        if self.components is None:
            return self._targets(x, n.shape, n.dtype) + phi * n
        index = self._index(n.shape)
        lifted = self._targets(x, index.shape, n.dtype) + phi * n[index]
        return n.at[index].set(lifted)

    def taylor_streams(
        self,
        value: Float[Array, " d"],
        first: dict[int, Float[Array, " d"]],
        second: dict[tuple[int, int], Float[Array, " d"]],
    ) -> taylor.Streams:
        r"""`__call__` on second-order Taylor streams (see `pinnlib.diff.taylor`).

        The network's streams come from its own fused path; $\phi$ and $g$ are
        pushed by `pinnlib.diff.taylor.apply`, and the Leibniz rule
        (`pinnlib.diff.taylor.product`) gives those of $\phi N$.
        """
        streams = (value, first, second)
        net = _push(self.net, streams)
        shape = net[0].shape
        index = None if self.components is None else self._index(shape)
        kept = shape if index is None else index.shape
        part = net if index is None else taylor.linear(lambda a: a[index], net)
        phi = taylor.apply(lambda x: jnp.broadcast_to(self.distance(x), kept), streams)
        g = taylor.apply(lambda x: self._targets(x, kept, net[0].dtype), streams)
        lifted = taylor.add(g, taylor.product(phi, part))
        if index is None:
            return lifted
        others = taylor.linear(lambda a: a.at[index].set(0), net)
        placed = taylor.linear(
            lambda a: jnp.zeros(shape, a.dtype).at[index].set(a), lifted
        )
        return taylor.add(others, placed)


class _TimeSince(eqx.Module):
    """$\\phi(x, t) = t - t_0$ (time is the last coordinate)."""

    t0: float = eqx.field(static=True)

    def __call__(self, x: Float[Array, " d"]) -> Float[Array, ""]:
        return x[-1] - jnp.asarray(self.t0, x.dtype)


def exact_initial(
    net: Any,
    u0: Any,
    *,
    t0: Any = 0.0,
    components: Sequence[int] | None = None,
) -> ExactDirichlet:
    r"""A field that meets the initial condition exactly: $u = u_0(x) + (t - t_0)\,N$.

    The [`ExactDirichlet`][] transform with $\phi(x, t) = t - t_0$ and $g = u_0$
    (Lagaris et al. 1998; Sukumar & Srivastava 2022): $u(x, t_0) = u_0(x)$ for every
    value of the parameters, so the loss needs no initial term. Compose it with an
    exactly periodic network (a `pinnlib.nn.PeriodicEmbedding` in front) to impose
    periodicity and the initial condition together, as for Allen–Cahn.

    **Arguments:**

    - `net`: the network $N$ on space-time points $(x_1, \dots, x_d, t)$.
    - `u0`: the initial values, a point function of the whole point (its time
      coordinate is $t_0$ where it matters) or a number.
    - `t0`: the initial time (keyword-only, default 0).
    - `components`: output indices to impose, for a vector field (keyword-only).

    **Returns:** an [`ExactDirichlet`][] field.

    !!! example

        ```python
        emb = pl.nn.PeriodicEmbedding(2, axes=(0,), periods=(2.0,))
        net = eqx.nn.Sequential([emb, pl.nn.mlp(emb.out_size, key=jax.random.key(0))])
        u = pl.nn.exact_initial(net, lambda p: p[0] ** 2 * jnp.cos(jnp.pi * p[0]))
        u(jnp.array([0.5, 0.0]))       # exactly u0(0.5) at t = 0
        ```
    """
    try:
        start = float(t0)
    except (TypeError, ValueError):
        raise bad_argument(
            "pinnlib.nn.exact_initial(t0=...)",
            "the initial time, a float",
            t0,
            "Pass a Python float such as 0.0.",
        ) from None
    return ExactDirichlet(net, _TimeSince(start), u0, components=components)
