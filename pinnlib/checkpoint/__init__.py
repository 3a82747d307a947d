"""Full-state checkpoints with exact resume: `save`, `latest`, `load`.

A checkpoint is a directory `ckpt-{step:09d}/` holding the state's leaves
(`state.eqx`, via `equinox.tree_serialise_leaves`), the history (`history.npz`)
and a readable sidecar (`meta.json`). Loading needs a template of the same
structure, as in equinox; any mismatch or corruption is reported by leaf or file.
"""

from ._layout import latest as latest
from ._load import Checkpoint as Checkpoint, load as load, read_info as read_info
from ._save import save as save
