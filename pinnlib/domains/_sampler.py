"""A key -> dict of named point sets, for redrawing collocation points inside a loop."""

from collections.abc import Callable

import equinox as eqx
import jax
import numpy as np
from jaxtyping import Array, DTypeLike, Float, PRNGKeyArray

from .._dtypes import resolve_dtype
from .._errors import bad_argument, check_positive_int
from ._geometry import AbstractDomain
from ._sample import sample_boundary, sample_initial, sample_interior
from ._sequences import check_method


def _draw(domain, region: str, n: int, method, dtype, key) -> Array:
    if region == "interior":
        return sample_interior(domain, n, key=key, method=method, dtype=dtype)
    if region == "initial":
        return sample_initial(domain, n, key=key, method=method, dtype=dtype)
    face = None if region == "boundary" else region
    return sample_boundary(domain, n, key=key, face=face, method=method, dtype=dtype)


class PointSampler(eqx.Module):
    """Draws named point sets from a domain: `sampler(key) -> {name: (n, d) points}`.

    Built by [`sampler`][]; holds only static configuration, so it can be closed over or
    passed through `jax.jit` and `lax.scan`. Each set is drawn from its own key of
    `jax.random.split(key, len(counts))`, in the order the sets were given, so a key
    always gives the same batch.

    **Attributes:**

    - `domain`: the domain sampled.
    - `sets`: `((name, region, num_points, method), ...)`.
    - `dtype`: the float dtype (`None`: JAX's default float).
    - `counts`: `{name: num_points}` (a property).

    !!! example
        ```python
        draw = sampler(Interval(0.0, 1.0), pde=("interior", 64), bc=("boundary", 2))
        batch = jax.jit(draw)(jax.random.key(0))   # {"pde": (64, 1), "bc": (2, 1)}
        ```
    """

    domain: AbstractDomain = eqx.field(static=True)
    sets: tuple[tuple[str, str, int, str | Callable[..., Array]], ...] = eqx.field(
        static=True
    )
    dtype: np.dtype | None = eqx.field(static=True)

    @property
    def counts(self) -> dict[str, int]:
        """The number of points of each set, `{name: num_points}`."""
        return {name: n for name, _, n, _ in self.sets}

    def __call__(self, key: PRNGKeyArray) -> dict[str, Float[Array, "_n d"]]:
        """Draw every point set from `key`; returns `{name: (num_points, d) array}`."""
        keys = jax.random.split(key, len(self.sets))
        return {
            name: _draw(self.domain, region, n, method, self.dtype, keys[i])
            for i, (name, region, n, method) in enumerate(self.sets)
        }


_REGIONS = ("interior", "boundary", "initial")


def sampler(
    domain: AbstractDomain,
    *,
    method: str | Callable[..., Array] = "uniform",
    dtype: DTypeLike | None = None,
    **point_sets,
) -> PointSampler:
    r"""Build a [`PointSampler`][]: a function `key -> {name: points}` over named sets.

    Each keyword names a point set and maps to `(region, num_points)` or
    `(region, num_points, method)`. The region is `"interior"`, `"boundary"` (all
    faces of an Interval/Box, the spatial faces of a SpaceTime), `"initial"` (a
    SpaceTime, or any domain with a `sample_initial` method) or a face name from
    `domain.faces`. Each set is drawn by [`sample_interior`][], [`sample_boundary`][]
    or [`sample_initial`][], that is by the domain's own methods (the protocol of
    [`AbstractDomain`][]). Every specification is checked here, once, by tracing the
    draw, so a bad one (or a domain without the sampler a region needs) fails at
    construction and names its keyword.

    **Arguments:**

    - `domain`: an [`Interval`][], [`Box`][], [`SpaceTime`][] or your own domain.
    - `method`: the default point sequence for the sets, a name from [`SEQUENCES`][]
      or your own `fn(n, d, *, key, dtype) -> (n, d)` points of $[0, 1)^d$
      (keyword-only).
    - `dtype`: float dtype of all sets; `None` means JAX's default float (keyword-only).
    - `**point_sets`: `name=(region, num_points[, method])`, at least one.

    **Returns:** a [`PointSampler`][]; `draw(key)` is deterministic and jittable.

    **Raises:** `ValueError` for an unknown region or method, a bad count, a count
    that the method cannot produce (e.g. a grid), a sequence or domain method returning
    the wrong shape, or a domain lacking the sampler of a region, naming the keyword,
    as in `pinnlib.domains.sampler(bc=...)`.

    !!! example
        ```python
        domain = SpaceTime(Interval(-1.0, 1.0), 0.0, 1.0)
        draw = sampler(domain, pde=("interior", 2540), bc=("boundary", 80),
                       ic=("initial", 160))
        batch = draw(jax.random.key(0))
        # {"pde": (2540, 2), "bc": (80, 2), "ic": (160, 2)}
        ```
    """
    where = "pinnlib.domains.sampler"
    check_method(f"{where}(method=...)", method)
    dtype = None if dtype is None else resolve_dtype(where, dtype)
    if not point_sets:
        raise bad_argument(
            where,
            "at least one point set",
            point_sets,
            "Name each set with a keyword, e.g. "
            "sampler(domain, pde=('interior', 1000)).",
        )
    initial = callable(getattr(domain, "sample_initial", None))
    regions = _REGIONS[:2] + (("initial",) if initial else ())
    valid = list(dict.fromkeys(regions + domain.faces))
    sets = []
    for name, spec in point_sets.items():
        arg = f"{where}({name}=...)"
        if not isinstance(spec, tuple | list) or len(spec) not in (2, 3):
            raise bad_argument(
                arg,
                "a tuple (region, num_points) or (region, num_points, method)",
                spec,
                f"Write e.g. {name}=('interior', 1000).",
            )
        region, n, set_method = (*spec, method) if len(spec) == 2 else spec
        if not isinstance(region, str) or region not in valid:
            raise bad_argument(
                arg,
                f"a region in {valid}",
                region,
                "'initial' needs a domain with an initial slice (a SpaceTime, or one "
                "with a sample_initial method); faces are listed by domain.faces.",
            )
        n = check_positive_int(f"{arg} [num_points]", n)
        check_method(f"{arg} [method]", set_method)
        try:  # trace once: grid counts, Sobol dimensions, ...
            jax.eval_shape(
                lambda k, r=region, n=n, m=set_method: _draw(domain, r, n, m, dtype, k),
                jax.random.key(0),
            )
        except ValueError as err:
            raise ValueError(f"{arg}: {err}") from None
        sets.append((name, region, n, set_method))
    return PointSampler(domain, tuple(sets), dtype)
