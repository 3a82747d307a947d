r"""Building blocks for fused second-order Taylor streams through an architecture.

`pinnlib.diff.partials` (and every operator built on it) pushes the value and the
requested derivatives of orders $\le 2$ through a field in one pass when the field
opts in by defining a method

```python
def taylor_streams(self, value, first, second):
    ...
    return value, first, second
```

that maps the *streams* of its input $x$ to the streams of its output $u(x)$:
`value` is the array itself, `first` a dict `{i: ∂_i h}` and `second` a dict
`{(i, j): ∂_i ∂_j h}` (`i <= j`), each stream shaped like the value. The method must
return the keys it was given. `pinnlib.nn.ModifiedMLP`, `pinnlib.nn.FactorizedMLP`,
`pinnlib.nn.PirateNet`, `pinnlib.nn.FourierFeatures` and
`pinnlib.nn.PeriodicEmbedding` opt in this way, and so can any `eqx.Module`: write
the method with the functions below, one per operation of `__call__`. See
"Extending pinnlib" for a worked example.
"""

from ._streams import (
    Streams as Streams,
    activate as activate,
    add as add,
    apply as apply,
    dense as dense,
    linear as linear,
    product as product,
)

__all__ = ["Streams", "activate", "add", "apply", "dense", "linear", "product"]
