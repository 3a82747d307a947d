"""Helpers that build the library's error messages: argument, what came, how to fix."""

import equinox as eqx
import jax
import jax.core
import jax.numpy as jnp
import numpy as np


def bad_argument(where: str, what: str, received, fix: str) -> ValueError:
    """A ``ValueError`` naming ``where`` (call syntax), what was expected and the fix."""
    return ValueError(f"{where}: expected {what}, got {received!r}. {fix}")


def check_points(where: str, points) -> None:
    """Raise at trace time unless ``points`` is a non-empty ``(n, d)`` float array."""
    shape = getattr(points, "shape", None)
    if shape is None or len(shape) != 2:
        raise bad_argument(
            where,
            "a 2-d array of points of shape (n, d)",
            shape if shape else points,
            "Stack the points as rows, one point per row.",
        )
    if shape[0] == 0:
        raise bad_argument(
            where, "at least one point", shape, "Sample a positive number of points."
        )
    if not np.issubdtype(points.dtype, np.floating):
        raise bad_argument(
            where,
            "floating-point points",
            points.dtype,
            "Convert the points with jnp.asarray(points, jnp.float32) (or float64).",
        )


def is_traced(value) -> bool:
    """Whether `value` is a tracer (inside `jit`/`vmap`), so not checkable now."""
    return isinstance(value, jax.core.Tracer)


def check_finite(where: str, value) -> None:
    """Raise if a concrete (non-traced) coefficient is NaN or infinite."""
    if is_traced(value):
        return
    arr = np.asarray(value)
    if np.issubdtype(arr.dtype, np.number) and not np.all(np.isfinite(arr)):
        raise bad_argument(
            where,
            "a finite value",
            value if arr.size < 8 else "array with non-finite entries",
            "Pass finite coefficients (check for NaN or inf upstream).",
        )


def check_positive_int(where: str, value) -> int:
    """Return ``value`` as an int, raising unless it is a positive Python integer."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise bad_argument(
            where, "a positive integer", value, "Pass a Python int greater than zero."
        )
    return int(value)


def check_components(where: str, components) -> tuple[int, ...] | None:
    """``None``, or ``components`` as a tuple of ints (output indices of a field)."""
    if components is None:
        return None
    try:
        indices = tuple(components)
    except TypeError:
        indices = ()
    if not indices or not all(
        isinstance(i, int | np.integer) and not isinstance(i, bool) for i in indices
    ):
        raise bad_argument(
            where,
            "a non-empty sequence of int output indices",
            components,
            "Pass e.g. components=(0, 1) for the first two outputs of the field.",
        )
    return tuple(int(i) for i in indices)


def check_point_function(where: str, value):
    """``value`` if callable, else a number as the constant point function.

    The constant is weakly typed, so it takes the dtype of the field it meets.
    """
    if callable(value):
        return value
    try:
        constant = float(value)
    except (TypeError, ValueError):
        raise bad_argument(
            where,
            "a point function of x or a number",
            value,
            "Pass e.g. `lambda x: -jnp.sin(jnp.pi * x[0])` or 0.0.",
        ) from None
    return lambda x: jnp.asarray(constant)


def recast(output, value, *, floats_only: bool = True) -> bool:
    """Whether `value`, not weakly typed, has another dtype than `output`.

    With `floats_only` (the default) only a float value against a float output
    counts; otherwise any dtype (an integer value too).
    """
    floating = all(jnp.issubdtype(v.dtype, jnp.floating) for v in (output, value))
    weak = getattr(value, "weak_type", False)
    compared = floating or not floats_only
    return compared and not weak and value.dtype != output.dtype


def check_output_value(
    where: str,
    output,
    value,
    *,
    what: str,
    expected: str,
    fix: str,
    floats_only: bool = True,
) -> None:
    """Raise unless `value` fits a field's `output` at one point.

    `output` and `value` are arrays or shape structs. The value must broadcast to the
    output's shape (else a `ValueError` from `expected` and `fix`), and a value that
    is not weakly typed must have the output's dtype (else a `TypeError` that names
    `what`, e.g. "the target"): a float value, or with `floats_only=False` any.
    """
    try:
        fits = jnp.broadcast_shapes(output.shape, value.shape) == tuple(output.shape)
    except ValueError:
        fits = False
    if not fits:
        raise bad_argument(where, expected, value.shape, fix)
    if recast(output, value, floats_only=floats_only):
        raise TypeError(
            f"{where}: {what} is {value.dtype} but the field's output is "
            f"{output.dtype}. Compute it from the point x (it has the model's dtype) "
            "or convert it with .astype(x.dtype); pinnlib never casts silently."
        )


def check_samples(where: str, samples) -> int:
    """The number of samples in `samples`: arrays `(n, ...)` (an array, or a tuple or
    other pytree of them) with the same positive leading size n.

    Raises a `ValueError` naming `where` otherwise.
    """
    leaves = jax.tree.leaves(samples)
    sizes = set()
    for leaf in leaves:
        shape = getattr(leaf, "shape", None)
        if shape is None or len(shape) == 0:
            raise bad_argument(
                where,
                "an array (n, ...) of samples, or a tuple of such arrays",
                type(leaf).__name__ if shape is None else f"shape {shape}",
                "Stack the samples along the first axis, one sample per row.",
            )
        sizes.add(shape[0])
    if len(sizes) != 1 or 0 in sizes:
        raise bad_argument(
            where,
            "a positive number of samples, the same in every array",
            [getattr(leaf, "shape", None) for leaf in leaves],
            "Give every array the same leading (sample) axis.",
        )
    return sizes.pop()


def check_time_range(where: str, value) -> tuple[float, float]:
    """Return `value` as floats `(t0, t1)` with `t0 < t1`; raise naming `where`."""
    try:
        t0, t1 = (float(v) for v in value)
    except (TypeError, ValueError):
        t0, t1 = float("nan"), float("nan")
    if not t0 < t1:
        raise bad_argument(
            where,
            "a pair (t0, t1) with t0 < t1",
            value,
            "Pass the time interval of the domain, e.g. (0.0, 1.0).",
        )
    return t0, t1


def error_unless(array, ok, message: str):
    """``array``, with a runtime error (``eqx.error_if``) carrying ``message`` unless ``ok``.

    The check is made on the scalar ``ok``, not on ``array``: ``eqx.error_if`` passes
    its argument through a host callback, which would pin a sharded ``array`` to one
    device. ``array`` then depends on the checked flag (NaN where it is false, as
    ``EQX_ON_ERROR=nan`` asks), so the check is never dropped from the program.
    """
    ok = eqx.error_if(ok, ~ok, message)
    return jnp.where(ok, array, jnp.nan)


__all__ = [
    "bad_argument",
    "check_components",
    "check_finite",
    "check_output_value",
    "check_point_function",
    "check_points",
    "check_positive_int",
    "check_samples",
    "check_time_range",
    "error_unless",
    "is_traced",
    "recast",
]
