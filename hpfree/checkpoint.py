"""Checkpoints of the training state at chunk boundaries, written atomically.

The state is saved as the flat list of its pytree leaves (``np.savez``) plus a JSON blob of
host-side progress (curve rows, accumulated seconds).  Restoring unflattens into the tree
structure of a freshly initialised state, so no pickling of optax/Flax classes is needed and
a resumed run continues bit-identically.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import jax
import numpy as np

from hpfree.io import atomic_write, set_aside

CHECKPOINT = "checkpoint.npz"


def _warn(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def save(run_dir: str | Path, state: Any, progress: dict[str, Any]) -> Path:
    leaves = [np.asarray(x) for x in jax.tree.leaves(state)]
    arrays = {f"leaf_{i:05d}": leaf for i, leaf in enumerate(leaves)}
    arrays["progress"] = np.frombuffer(json.dumps(progress).encode(), dtype=np.uint8)

    def write(f):
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        f.write(buf.getvalue())

    return atomic_write(Path(run_dir) / CHECKPOINT, write, mode="wb")


def load(run_dir: str | Path, template: Any,
         warn: Callable[[str], None] = _warn) -> Optional[tuple[Any, dict[str, Any]]]:
    """(state, progress) from ``run_dir``, or None when there is no usable checkpoint.

    A checkpoint that cannot be read back into ``template``'s structure (truncated, not a
    checkpoint, another model's) is moved aside (``checkpoint.npz.corrupt-<time>``) with a
    one-line warning and the run starts again from step 0: it never fails forever.
    """
    path = Path(run_dir) / CHECKPOINT
    if not path.exists():
        return None
    try:
        return _read(path, template)
    except Exception as exc:  # any way an .npz can be broken: zip, pickle, key, shape errors
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        aside = set_aside(path)
        warn(f"[hpfree] warning: checkpoint {path} is unreadable ({type(exc).__name__}: "
             f"{reason}); moved aside to {aside.name}; the run restarts from step 0")
        return None


def _read(path: Path, template: Any) -> tuple[Any, dict[str, Any]]:
    with np.load(path) as z:
        progress = json.loads(z["progress"].tobytes().decode())
        treedef = jax.tree.structure(template)
        n = treedef.num_leaves
        if len(z.files) != n + 1:
            raise ValueError(f"{len(z.files) - 1} arrays, the run's state has {n}")
        leaves = [z[f"leaf_{i:05d}"] for i in range(n)]
    if not isinstance(progress, dict) or not isinstance(progress.get("rows"), list):
        raise ValueError("its progress is not a run's")
    tmpl_leaves = jax.tree.leaves(template)
    for a, t in zip(leaves, tmpl_leaves):
        if np.size(a) != np.size(t):
            raise ValueError(f"an array of shape {np.shape(a)} where the state has {np.shape(t)}")
    leaves = [np.asarray(a, dtype=np.asarray(t).dtype).reshape(np.shape(t))
              for a, t in zip(leaves, tmpl_leaves)]
    return jax.tree.unflatten(treedef, leaves), progress


def remove(run_dir: str | Path) -> None:
    path = Path(run_dir) / CHECKPOINT
    if path.exists():
        path.unlink()
