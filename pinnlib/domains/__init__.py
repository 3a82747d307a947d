"""Domains (intervals, boxes, shapes, set operations, space-time) and point samplers."""

from ._csg import (
    Difference as Difference,
    Intersection as Intersection,
    Union as Union,
)
from ._distance import r_conjunction as r_conjunction, r_disjunction as r_disjunction
from ._geometry import (
    AbstractDomain as AbstractDomain,
    Box as Box,
    Interval as Interval,
    SpaceTime as SpaceTime,
)
from ._polygon import Polygon as Polygon
from ._sample import (
    contains as contains,
    distance as distance,
    normals as normals,
    sample_boundary as sample_boundary,
    sample_initial as sample_initial,
    sample_interior as sample_interior,
)
from ._sampler import PointSampler as PointSampler, sampler as sampler
from ._sequences import (
    SEQUENCES as SEQUENCES,
    grid as grid,
    halton as halton,
    latin_hypercube as latin_hypercube,
    uniform as uniform,
)
from ._shapes import Annulus as Annulus, Disk as Disk, Ellipse as Ellipse
from ._sobol import sobol as sobol
