"""The public types of pinnlib, for annotating code that builds on it.

A library that depends on pinnlib annotates against these names, never against
private modules:

```python
from pinnlib.typing import Args, Batch, PointFn, Step, TrainState

def my_runner(step: Step, state: TrainState, batch: Batch, args: Args) -> TrainState:
    ...
```

- `Point`, `Points`, `Value`: one point `(d,)`, a set of points `(n, d)`, a field's
  value at a point (`()` or `(m,)`).
- `PointFn`: a field or residual, `u(x) -> value` on one point.
- `Args`: the coefficients handed to residuals and losses (a dict, usually).
- `Batch`: the points of every loss term, `{term: (n, d)}` (or `(x, y)` for data).
- `Metrics`: what a step reports, `{name: scalar}`.
- `LossTerm`: `term(model, points, args) -> scalar`.
- `Step`: `step(state, batch, args) -> (state, metrics)`.
- `Sampler`: `sampler(key) -> batch`.
- The values: `TrainState`, `Training`, `Run`, `Coefficient`, `CompositeLoss`,
  `WeightingStrategy`, `WeightingContext`, `SamplingStrategy`, `SamplingContext`.
"""

from collections.abc import Callable, Mapping
from typing import TypeAlias

from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from ._custom_types import (
    Args as Args,
    LossTerm as LossTerm,
    Point as Point,
    PointFn as PointFn,
    Points as Points,
    Value as Value,
)
from .losses import CompositeLoss as CompositeLoss
from .sampling import (
    SamplingContext as SamplingContext,
    SamplingStrategy as SamplingStrategy,
)
from .train import (
    Coefficient as Coefficient,
    Run as Run,
    Training as Training,
    TrainState as TrainState,
)
from .train._step import Step as Step
from .weighting import (
    WeightingContext as WeightingContext,
    WeightingStrategy as WeightingStrategy,
)

#: The points of every loss term: `{term: (n, d) points}`, or `(x, y)` for data terms.
Batch: TypeAlias = Mapping[str, PyTree[Array]]
#: What a step reports: `{"loss": ..., "grad_norm": ..., term: ..., ...}`.
Metrics: TypeAlias = dict[str, Float[Array, ""]]
#: A sampler: `sampler(key) -> batch`, e.g. from `pinnlib.domains.sampler`.
Sampler: TypeAlias = Callable[[PRNGKeyArray], Batch]
