"""DeepONet (Lu, Jin, Pang, Zhang & Karniadakis 2021): a branch net times a trunk net."""

from collections.abc import Callable
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from .._dtypes import resolve_dtype
from .._errors import bad_argument, check_positive_int
from ._mlp import activation_fn, mlp


def _pair(where: str, value) -> tuple[int, int]:
    """`(branch, trunk)` from one positive int or a pair of them."""
    values = tuple(value) if isinstance(value, tuple | list) else (value, value)
    if len(values) != 2:
        raise bad_argument(
            where,
            "a positive int, or a pair (branch, trunk) of them",
            value,
            "Pass e.g. 100 for both nets, or (40, 100).",
        )
    branch, trunk = (check_positive_int(where, v) for v in values)
    return branch, trunk


class DeepONet(eqx.Module):
    r"""The deep operator network of Lu et al. (2021): $G(u)(y) = \sum_k b_k(u)\,t_k(y) + b_0$.

    An operator $G$ maps an input function $u$ to an output function $G(u)$. The
    **branch** net reads $u$ at $m$ fixed sensors $x_1, \dots, x_m$, the **trunk**
    net reads a query point $y \in \mathbb{R}^d$, and their $p$ latent features are
    contracted:

    $$
    G_\theta(u)(y) = \sum_{k=1}^{p} b_k\big(u(x_1), \dots, u(x_m)\big)\,
    \sigma\big(t_k(y)\big) + b_0 ,
    $$

    with the activation $\sigma$ on the trunk's last layer too, as in the paper
    (Lu, Jin, Pang, Zhang & Karniadakis, "Learning nonlinear operators via DeepONet
    based on the universal approximation theorem of operators", Nat. Mach. Intell.
    3, 218–229, 2021, eq. (2)). For $n$ outputs the nets have $n p$ features and
    output $j$ contracts its own block of $p$: $G_j = \sum_k b_{jk} t_{jk} + b_{0j}$
    (the "split branch and trunk" form of Lu et al., Comput. Methods Appl. Mech. Eng.
    393, 114778, 2022). Both nets are `pinnlib.nn.mlp`s (Glorot-normal weights, zero
    biases), $b_0 = 0$ at initialisation.

    **Calling it.** `net(u, y)` with `u` of shape `(m,)`, the sensor values of **one**
    input function, and `y` of shape `(..., d)`, any number of query points (or one
    point of shape `(d,)`), returns $G(u)(y)$ of shape `y.shape[:-1]` (a scalar for
    one point), plus a trailing axis `(n,)` for vector outputs. The branch runs once
    per call and the trunk over the query points with `jax.vmap`. Batch over input
    functions with `jax.vmap(net)`; when all functions share the query points,
    `net.aligned(us, y)` gives the same values with the trunk evaluated once per
    point instead of once per function and point. For a fixed `u`, `lambda y: net(u, y)` is a
    field (a point function), so `pinnlib.diff` operators and the residuals of
    `pinnlib.pdes` apply to it: this is how a physics-informed DeepONet (Wang, Wang &
    Perdikaris, Sci. Adv. 7, eabi8605, 2021) differentiates through the trunk
    coordinates.

    **Arguments:**

    - `num_sensors`: $m$, the number of sensor values the branch net reads.
    - `coord_size`: $d$, the dimension of a query point (default 1).
    - `out_size`: `"scalar"` (default) or an int $n$ for vector outputs (shape `(n,)`
      per query point).
    - `latent`: $p$, the latent features per output (keyword-only; default 100).
    - `width`, `depth`: hidden width and number of hidden layers of the two nets,
      an int for both or a pair `(branch, trunk)` (keyword-only; defaults 100, 3).
    - `activation`: a name from `pinnlib.nn.ACTIVATIONS` or an elementwise callable,
      for both nets (keyword-only; default `"tanh"`).
    - `key`: a PRNG key (keyword-only).
    - `dtype`: parameter dtype; `None` means JAX's default float dtype.

    **Attributes:** `branch` and `trunk` (`eqx.nn.MLP`s with $np$ outputs), `bias`
    ($b_0$, shape `()` or `(n,)`), `activation`, and the static sizes `num_sensors`,
    `coord_size`, `out_size`, `latent`.

    **Raises:** `ValueError` for non-positive sizes, an unknown activation or a bad
    dtype; when called, `ValueError` for `u` not of shape `(m,)` or `y` whose last
    axis is not `d`.

    !!! example

        ```python
        net = pl.nn.DeepONet(100, latent=40, width=40, depth=2, key=jax.random.key(0))
        u = jnp.sin(jnp.linspace(0.0, 1.0, 100))     # one input function at 100 sensors
        net(u, jnp.array([0.5]))                       # shape (): G(u)(0.5)
        net(u, jnp.linspace(0.0, 1.0, 7)[:, None])     # shape (7,)
        jax.vmap(net)(jnp.stack([u, 2 * u]), jnp.zeros((2, 7, 1)))   # shape (2, 7)
        s_y = pl.diff.partial(lambda y: net(u, y), 0)  # dG(u)/dy, a point function
        s_y(jnp.array([0.5]))                          # shape ()
        ```
    """

    branch: eqx.nn.MLP
    trunk: eqx.nn.MLP
    bias: Float[Array, "*n"]
    activation: Callable
    num_sensors: int = eqx.field(static=True)
    coord_size: int = eqx.field(static=True)
    out_size: int | Literal["scalar"] = eqx.field(static=True)
    latent: int = eqx.field(static=True)

    def __init__(
        self,
        num_sensors: int,
        coord_size: int = 1,
        out_size: int | Literal["scalar"] = "scalar",
        *,
        latent: int = 100,
        width: int | tuple[int, ...] = 100,
        depth: int | tuple[int, ...] = 3,
        activation: str | Callable = "tanh",
        key: PRNGKeyArray,
        dtype=None,
    ):
        where = "pinnlib.nn.DeepONet"
        self.num_sensors = check_positive_int(f"{where}(num_sensors=...)", num_sensors)
        self.coord_size = check_positive_int(f"{where}(coord_size=...)", coord_size)
        if out_size != "scalar":
            out_size = check_positive_int(f"{where}(out_size=...)", out_size)
        self.out_size = out_size
        self.latent = check_positive_int(f"{where}(latent=...)", latent)
        widths = _pair(f"{where}(width=...)", width)
        depths = _pair(f"{where}(depth=...)", depth)
        self.activation = activation_fn(where, activation)
        dtype = resolve_dtype(where, dtype)
        outputs = 1 if out_size == "scalar" else out_size
        keys = jax.random.split(key)
        inputs = (self.num_sensors, self.coord_size)
        self.branch, self.trunk = (
            mlp(
                n,
                outputs * self.latent,
                width=w,
                depth=d,
                key=k,
                dtype=dtype,
                activation=self.activation,
            )  # fmt: skip
            for n, w, d, k in zip(inputs, widths, depths, keys)
        )
        self.bias = jnp.zeros(() if out_size == "scalar" else (out_size,), dtype)

    def _check(self, u, y, name: str = "u", batch: tuple[str, ...] = ()) -> None:
        where = "pinnlib.nn.DeepONet(...)" + (".aligned" if batch else "")
        shape = getattr(u, "shape", None)
        expected = (*batch, self.num_sensors)
        if shape is None or len(shape) != len(expected) or shape[-1:] != expected[-1:]:
            raise bad_argument(
                f"{where}({name}=...)",
                f"sensor values of shape {expected}".replace("'", ""),
                shape if shape is not None else type(u).__name__,
                "Pass one function to net(u, y) (batch over functions with "
                "jax.vmap(net)), or stack n functions as rows for net.aligned(us, y).",
            )
        if batch and shape[0] == 0:
            raise bad_argument(
                f"{where}({name}=...)",
                "at least one function",
                shape,
                "Pass a non-empty stack of functions.",
            )
        shape = getattr(y, "shape", None)
        if shape is None or len(shape) == 0 or shape[-1] != self.coord_size:
            raise bad_argument(
                f"{where}(y=...)",
                f"query points of shape (..., {self.coord_size})",
                shape if shape is not None else type(y).__name__,
                "Put the coordinates of each query point on the last axis, e.g. "
                "y[:, None] for 1-d points.",
            )

    @property
    def _outputs(self) -> int:
        return 1 if self.out_size == "scalar" else self.out_size

    def _branch(self, u: Array) -> Array:
        """$b(u)$, shape `(n_out, p)`, for the sensor values `u (m,)`."""
        return self.branch(u).reshape(self._outputs, self.latent)

    def _trunk(self, y: Array) -> Array:
        r"""$\sigma(t(y))$, shape `(..., n_out, p)`, over the points `y (..., d)`."""
        points = y.reshape(-1, self.coord_size)
        t = self.activation(jax.vmap(self.trunk)(points))
        return t.reshape(y.shape[:-1] + (self._outputs, self.latent))

    def _plus_bias(self, g: Array) -> Array:
        return g + self.bias.reshape((1,) * (g.ndim - 1) + (-1,))

    def _tail(self) -> tuple[int, ...]:
        return () if self.out_size == "scalar" else (self._outputs,)

    def __call__(
        self, u: Float[Array, " m"], y: Float[Array, "*q d"], *, key=None
    ) -> Float[Array, "..."]:
        self._check(u, y)
        g = jnp.einsum("...kp,kp->...k", self._trunk(y), self._branch(u))
        return self._plus_bias(g).reshape(y.shape[:-1] + self._tail())

    def aligned(
        self, us: Float[Array, "n m"], y: Float[Array, "*q d"]
    ) -> Float[Array, "..."]:
        r"""$G(u_i)(y_j)$ for $n$ functions at the **same** query points.

        The "aligned data" form of Lu et al. (Comput. Methods Appl. Mech. Eng. 393,
        114778, 2022): the branch runs on each function
        and the trunk once per query point, and one matrix product contracts them,
        so the trunk costs $q$ evaluations instead of $n q$ for
        `jax.vmap(net)(us, ys)`. Equal to `jax.vmap(net, (0, None))(us, y)`.

        **Arguments:** `us`: the sensor values of $n$ functions, shape `(n, m)`;
        `y`: query points `(..., d)` (or one point `(d,)`).

        **Returns:** shape `(n,) + y.shape[:-1]`, plus `(n_out,)` for vector
        outputs. For a point `y` of shape `(d,)`, `lambda y: net.aligned(us, y)` is
        a field with $n$ outputs, so `pinnlib.diff` differentiates all functions at
        once through the trunk coordinates.

        **Raises:** `ValueError` for `us` not of shape `(n, m)` with $n \ge 1$, or
        `y` whose last axis is not `d`.

        !!! example

            ```python
            net = pl.nn.DeepONet(100, key=jax.random.key(0))
            us = jnp.zeros((8, 100))
            net.aligned(us, jnp.linspace(0.0, 1.0, 50)[:, None])      # (8, 50)
            s_y = pl.diff.partial(lambda y: net.aligned(us, y), 0)    # (d,) -> (8,)
            ```
        """
        self._check(us, y, "us", ("n",))
        b = jax.vmap(self._branch)(us)
        g = jnp.einsum("...kp,nkp->n...k", self._trunk(y), b)
        return self._plus_bias(g).reshape(us.shape[:1] + y.shape[:-1] + self._tail())
