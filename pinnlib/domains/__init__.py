"""Domains (intervals, boxes, space-time cylinders) and point samplers."""

from ._geometry import (
    AbstractDomain as AbstractDomain,
)
from ._geometry import (
    Box as Box,
)
from ._geometry import (
    Interval as Interval,
)
from ._geometry import (
    SpaceTime as SpaceTime,
)
from ._sample import (
    contains as contains,
)
from ._sample import (
    sample_boundary as sample_boundary,
)
from ._sample import (
    sample_initial as sample_initial,
)
from ._sample import (
    sample_interior as sample_interior,
)
from ._sampler import PointSampler as PointSampler
from ._sampler import sampler as sampler
from ._sequences import (
    SEQUENCES as SEQUENCES,
)
from ._sequences import (
    grid as grid,
)
from ._sequences import (
    halton as halton,
)
from ._sequences import (
    latin_hypercube as latin_hypercube,
)
from ._sequences import (
    sobol as sobol,
)
from ._sequences import (
    uniform as uniform,
)
