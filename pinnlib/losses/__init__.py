"""Loss builders: residual and condition terms, and their weighted combination."""

from ._combine import (
    CompositeLoss as CompositeLoss,
)
from ._combine import (
    combine as combine,
)
from ._combine import (
    weighted_sum as weighted_sum,
)
from ._terms import (
    data as data,
)
from ._terms import (
    dirichlet as dirichlet,
)
from ._terms import (
    initial as initial,
)
from ._terms import (
    mean_squared as mean_squared,
)
from ._terms import (
    neumann as neumann,
)
from ._terms import (
    periodic as periodic,
)
from ._terms import (
    residual as residual,
)
