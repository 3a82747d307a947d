"""Plots of solutions and training histories (needs the optional `matplotlib`).

Importing this module does not import matplotlib; each function imports it when
called. Figures are built with `matplotlib.figure.Figure` directly, not through
`pyplot`: they work headless without choosing a backend, are not kept alive by
pyplot's figure registry, and display in notebooks when returned.
"""

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
from jaxtyping import ArrayLike

from ._errors import bad_argument
from ._metrics import relative_l2

if TYPE_CHECKING:
    import matplotlib.figure


def _new_figure(**kwargs):
    try:
        from matplotlib.figure import Figure
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "pinnlib.plot needs matplotlib, an optional dependency. Install it with "
            '`pip install "pinnlib[plot]"` (or `pip install matplotlib`).'
        ) from e
    return Figure(**kwargs)


def _as_grid(where: str, name: str, value, nx: int, nt: int) -> np.ndarray:
    """``value`` as an ``(nx, nt)`` array; flat x-major values are reshaped."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape == (nx, nt):
        return arr
    if arr.size == nx * nt and (arr.ndim == 1 or arr.shape == (nx * nt, 1)):
        return arr.reshape(nx, nt)
    raise bad_argument(
        f"{where}({name}=...)",
        f"values on the grid, shape ({nx}, {nt}) or ({nx * nt},) in x-major order",
        arr.shape,
        "Index the values as [i, j] for the i-th first and j-th second coordinate.",
    )


def _as_axis(where: str, name: str, value) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim != 1 or arr.size < 2:
        raise bad_argument(
            f"{where}({name}=...)",
            "a 1-d array of >= 2 coordinates",
            arr.shape,
            "Pass the grid's coordinates along that axis.",
        )
    return arr


def solution(
    x: ArrayLike,
    t: ArrayLike,
    prediction: ArrayLike,
    reference: ArrayLike,
    path: str | os.PathLike | None = None,
    *,
    title: str | None = None,
    labels: tuple[str, str] = ("x", "t"),
) -> "matplotlib.figure.Figure":
    r"""Prediction, reference and pointwise error side by side on a 2-d grid.

    Draws three color plots over the grid: the prediction, the reference (both on
    one color scale) and $|\text{prediction} - \text{reference}|$, each with a
    colorbar. The first grid coordinate runs along the horizontal axis and the
    second along the vertical one (for $(x, t)$, time goes up). The title reports
    the relative $L^2$ error.

    **Arguments:**

    - `x`: coordinates along the first grid axis, shape `(nx,)` (any monotonic grid).
    - `t`: coordinates along the second grid axis, shape `(nt,)`.
    - `prediction`: values of shape `(nx, nt)` indexed `[ix, it]`, or flat `(nx*nt,)`
        in x-major order (as `pinnlib.reference.burgers_grid` and `evaluate` give).
    - `reference`: reference values, same layout.
    - `path`: where to save a PNG (parent folders must exist), or `None`.
    - `title`: keyword-only title prefix, or `None`.
    - `labels`: keyword-only axis names of the two coordinates; default `("x", "t")`.

    **Returns:**

    The `matplotlib.figure.Figure`.

    **Raises:**

    `ImportError` without matplotlib; `ValueError` if the shapes disagree.

    !!! example

        ```python
        import jax.numpy as jnp
        from pinnlib import metrics, plot
        from pinnlib.reference import burgers_grid

        points, u = burgers_grid()  # 256 x 100 grid, x-major
        x, t = points[::100, 0], points[:100, 1]
        model = lambda p: -jnp.sin(jnp.pi * p[0])
        fig = plot.solution(x, t, metrics.evaluate(model, points), u, "burgers.png")
        ```
    """
    where = "pinnlib.plot.solution"
    x, t = _as_axis(where, "x", x), _as_axis(where, "t", t)
    pred = _as_grid(where, "prediction", prediction, x.size, t.size)
    ref = _as_grid(where, "reference", reference, x.size, t.size)
    err = relative_l2(pred, ref)
    lo, hi = min(pred.min(), ref.min()), max(pred.max(), ref.max())
    fig = _new_figure(figsize=(15, 4.2), layout="constrained")
    axes = fig.subplots(1, 3, sharex=True, sharey=True)
    panels = [
        ("prediction", pred, dict(cmap="RdBu_r", vmin=lo, vmax=hi)),
        ("reference", ref, dict(cmap="RdBu_r", vmin=lo, vmax=hi)),
        ("|prediction - reference|", np.abs(pred - ref), dict(cmap="magma")),
    ]
    for ax, (name, values, style) in zip(axes, panels):
        mesh = ax.pcolormesh(
            x, t, values.T, shading="nearest", rasterized=True, **style
        )
        fig.colorbar(mesh, ax=ax)
        ax.set_title(name)
        ax.set_xlabel(labels[0])
    axes[0].set_ylabel(labels[1])
    summary = f"relative L2 error = {err:.3e}"
    fig.suptitle(summary if title is None else f"{title}: {summary}")
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


# History entries that are not loss values (see pinnlib.make_step's metrics).
_NOT_LOSSES = ("grad_norm", "lr")


def loss_history(
    history: Mapping[str, ArrayLike],
    path: str | os.PathLike | None = None,
    *,
    title: str | None = None,
) -> "matplotlib.figure.Figure":
    r"""Every loss term against the training step, on a logarithmic scale.

    **Arguments:**

    - `history`: a mapping from term name to a 1-d array with one value per
        recorded step, e.g. `{"pde": ..., "bc": ..., "loss": ...}` or a whole
        `FitResult.history`. An optional `"step"` entry gives the x axis (default
        `0, 1, 2, ...`); the entries that are not losses (`"grad_norm"`, `"lr"`,
        `"weight:<term>"`) are left out. Non-positive values are not drawn on the
        log scale.
    - `path`: where to save a PNG, or `None`.
    - `title`: keyword-only figure title, or `None`.

    **Returns:**

    The `matplotlib.figure.Figure`, one line per term.

    **Raises:**

    `ImportError` without matplotlib; `ValueError` if the history is empty or the
    arrays are not 1-d of equal length.

    !!! example

        ```python
        import numpy as np
        from pinnlib import plot

        steps = np.arange(1, 101)
        fig = plot.loss_history({"step": steps, "pde": 1 / steps, "bc": 0.1 / steps})
        ```
    """
    where = "pinnlib.plot.loss_history(history=...)"
    terms = {
        k: np.asarray(v, dtype=np.float64)
        for k, v in history.items()
        if k not in _NOT_LOSSES and not k.startswith("weight:")
    }
    step = terms.pop("step", None)
    if not terms:
        raise bad_argument(
            where,
            "at least one loss term",
            list(history),
            "Pass a mapping such as {'pde': losses, 'bc': losses}.",
        )
    lengths = {k: v.shape for k, v in terms.items()}
    n = next(iter(terms.values())).size
    if step is not None:
        lengths["step"] = step.shape
    if any(shape != (n,) for shape in lengths.values()):
        raise bad_argument(
            where,
            "1-d arrays of equal length",
            lengths,
            "Record one value per step for every term.",
        )
    step = np.arange(n) if step is None else step
    fig = _new_figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.subplots()
    for name, values in terms.items():
        ax.plot(step, np.where(values > 0, values, np.nan), label=name, lw=1.2)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    if title is not None:
        ax.set_title(title)
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


__all__ = ["loss_history", "solution"]
