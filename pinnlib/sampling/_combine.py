"""Several sampling strategies, each owning its own loss terms, as one."""

import jax

from .._errors import bad_argument
from ._base import SamplingContext, SamplingStrategy


def combine(*strategies: SamplingStrategy) -> SamplingStrategy:
    r"""One strategy from several that own disjoint sets of loss terms.

    Each strategy gets its own key (split from the context's), sees only its own
    points and keeps its own state; the combined state is the tuple of states.

    **Arguments:** `*strategies`: `SamplingStrategy`s, at least one, whose point sets
    have distinct names.

    **Returns:** a `SamplingStrategy` owning the union of their point sets.

    **Raises:** `ValueError` if two strategies own a set of the same name.

    !!! example

        ```python
        rad = pl.sampling.rad(pool, num_points=2000)                  # owns "pde"
        ics = pl.sampling.time_marching(draw_ic, num_windows=1, steps_per_window=1,
                                        term="ic")
        strategy = pl.sampling.combine(rad, ics)
        ```
    """
    where = "pinnlib.sampling.combine"
    if not strategies or not all(isinstance(s, SamplingStrategy) for s in strategies):
        raise bad_argument(
            where,
            "one or more SamplingStrategy",
            [type(s).__name__ for s in strategies],
            "Pass strategies built by pl.sampling (rad, rar_d, time_marching, ...).",
        )
    owned = [
        tuple(jax.eval_shape(lambda k, s=s: s.init(k)[0], jax.random.key(0)))
        for s in strategies
    ]
    names = [n for names in owned for n in names]
    if len(set(names)) != len(names):
        raise bad_argument(
            where,
            "strategies owning distinct point sets",
            owned,
            "Give each loss term's points to one strategy only.",
        )

    def init(key):
        keys = jax.random.split(key, len(strategies))
        points, states = {}, []
        for strategy, k in zip(strategies, keys):
            own, state = strategy.init(k)
            points.update(own)
            states.append(state)
        return points, tuple(states)

    def update(states, context: SamplingContext):
        keys = jax.random.split(context.key, len(strategies))
        points, new_states = {}, []
        for strategy, names, state, k in zip(strategies, owned, states, keys):
            own = {n: context.points[n] for n in names}
            new, state = strategy.update(state, context._replace(key=k, points=own))
            points.update(new)
            new_states.append(state)
        return points, tuple(new_states)

    return SamplingStrategy(init, update)
