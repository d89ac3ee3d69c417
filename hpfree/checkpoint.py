"""Checkpoints of the training state at chunk boundaries, written atomically.

The state is saved as the flat list of its pytree leaves (``np.savez``) plus a JSON blob of
host-side progress (curve rows, accumulated seconds).  Restoring unflattens into the tree
structure of a freshly initialised state, so no pickling of optax/Flax classes is needed and
a resumed run continues bit-identically.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, Optional

import jax
import numpy as np

from hpfree.io import atomic_write

CHECKPOINT = "checkpoint.npz"


def save(run_dir: str | Path, state: Any, progress: dict[str, Any]) -> Path:
    leaves = [np.asarray(x) for x in jax.tree.leaves(state)]
    arrays = {f"leaf_{i:05d}": leaf for i, leaf in enumerate(leaves)}
    arrays["progress"] = np.frombuffer(json.dumps(progress).encode(), dtype=np.uint8)

    def write(f):
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        f.write(buf.getvalue())

    return atomic_write(Path(run_dir) / CHECKPOINT, write, mode="wb")


def load(run_dir: str | Path, template: Any) -> Optional[tuple[Any, dict[str, Any]]]:
    """(state, progress) from ``run_dir``, or None when there is no checkpoint."""
    path = Path(run_dir) / CHECKPOINT
    if not path.exists():
        return None
    with np.load(path) as z:
        progress = json.loads(z["progress"].tobytes().decode())
        treedef = jax.tree.structure(template)
        n = treedef.num_leaves
        leaves = [z[f"leaf_{i:05d}"] for i in range(n)]
    tmpl_leaves = jax.tree.leaves(template)
    leaves = [np.asarray(a, dtype=np.asarray(t).dtype).reshape(np.shape(t))
              for a, t in zip(leaves, tmpl_leaves)]
    return jax.tree.unflatten(treedef, leaves), progress


def remove(run_dir: str | Path) -> None:
    path = Path(run_dir) / CHECKPOINT
    if path.exists():
        path.unlink()
