"""fastMRI single-coil knee volumes in the HDF5 layout AlgoPerf's ``fastmri/input_pipeline.py``
reads.

Each ``.h5`` file is one volume: ``kspace`` (slices, 640, W) complex64, ``reconstruction_esc``
(slices, 320, 320) float32 and the attribute ``max``, in ``knee_singlecoil_train/`` and
``knee_singlecoil_val/`` (AlgoPerf's validation split is the first 100 files of the latter
in sorted order, its test split the rest).  Images are seeded ellipse phantoms on the
640 × W grid; k-space is their centred 2-D FFT scaled by 1/√(640·W) — the inverse of the
pipeline's ``fftshift(ifft2(ifftshift(k))) · √(640·W)`` — and the target is the magnitude of
the central 320 × 320 crop, so the masked-k-space → image task is the real one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

ROWS, TARGET = 640, 320
NUM_VALIDATION_FILES = 100  # AlgoPerf: sorted(val files)[:100] validate, the rest test


def phantom(rs: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    y, x = np.mgrid[-1:1:rows * 1j, -1:1:cols * 1j]
    img = np.zeros((rows, cols), np.float64)
    for _ in range(int(rs.integers(4, 9))):
        cy, cx = rs.uniform(-0.35, 0.35, 2)
        ay, ax = rs.uniform(0.05, 0.4, 2)
        t = rs.uniform(0, np.pi)
        yy, xx = (y - cy), (x - cx) * 2.0
        u = (xx * np.cos(t) + yy * np.sin(t)) / ax
        v = (-xx * np.sin(t) + yy * np.cos(t)) / ay
        img += rs.uniform(0.2, 1.0) * (u**2 + v**2 <= 1.0)
    phase = np.exp(1j * rs.uniform(-0.3, 0.3))
    return (img * 1e-4) * phase


def _volume(rs: np.random.Generator, slices: int, cols: int):
    kspace = np.empty((slices, ROWS, cols), np.complex64)
    target = np.empty((slices, TARGET, TARGET), np.float32)
    w0, h0 = (ROWS - TARGET) // 2, (cols - TARGET) // 2
    for s in range(slices):
        img = phantom(rs, ROWS, cols)
        k = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(img))) / np.sqrt(ROWS * cols)
        kspace[s] = k.astype(np.complex64)
        target[s] = np.abs(img[w0:w0 + TARGET, h0:h0 + TARGET]).astype(np.float32)
    return kspace, target


def write(root: Path, *, train_files: int = 4, slices_per_train_file: int = 4,
          test_files: int = 2, cols: int = 320, seed: int = 0) -> None:
    """Write ``train_files`` training volumes and 100 + ``test_files`` one-slice validation
    volumes (deterministic in ``seed``)."""
    import h5py

    rs = np.random.default_rng(seed)
    for folder, n_files, n_slices in (
            ("knee_singlecoil_train", train_files, slices_per_train_file),
            ("knee_singlecoil_val", NUM_VALIDATION_FILES + test_files, 1)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(n_files):
            kspace, target = _volume(rs, n_slices, cols)
            with h5py.File(root / folder / f"file{i:04d}.h5", "w") as f:
                f.create_dataset("kspace", data=kspace)
                f.create_dataset("reconstruction_esc", data=target)
                f.attrs["max"] = float(target.max())
                f.attrs["acquisition"] = "CORPD_FBK"
