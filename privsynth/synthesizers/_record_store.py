"""DP-SGD's records when they are not in memory: encoded once into a private file, read a batch
at a time.

One pass over the table (``Table.batches``) encodes every record to its ``float32`` vector and
appends it to a file in a fresh private temporary folder (mode 0700, removed when the store is
closed or collected). Each step then reads only the rows of its Poisson sample (``pread`` of
each row), so memory is bounded by the batch, never by the table; the page cache may hold the
file, which the kernel reclaims and which is not the process's memory. The sampling and the
accounting are those of the in-memory path: a Poisson sample of positions ``0 .. n-1``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from typing import Any

import numpy as np

__all__ = ["RecordStore"]


class RecordStore:
    """Encoded records on disk, gathered by index.

    Args:
        table: The records (a :class:`privsynth.data.Table`).
        encode: ``DataFrame -> float32 array`` (the synthesizer's encoder).
        batch_rows: Records encoded at a time.

    Example:
        >>> import privsynth as ps
        >>> df, domain = ps.datasets.make_census(50, random_state=0)
        >>> store = RecordStore(ps.data.FrameTable(df, domain), lambda f: f[["age"]].to_numpy("float32"))
        >>> len(store), store.gather(np.array([0, 3])).shape
        (50, (2, 1))
    """

    def __init__(self, table: Any, encode: Any, *, batch_rows: int = 100_000) -> None:
        self._folder = tempfile.mkdtemp(prefix="privsynth-records-")
        weakref.finalize(self, shutil.rmtree, self._folder, True)
        self._path = os.path.join(self._folder, "records.f32")
        self.width, self.rows = 0, 0
        with open(self._path, "wb") as out:
            for frame in table.batches(batch_rows):
                block = np.ascontiguousarray(encode(frame), dtype=np.float32)
                self.width = block.shape[1] if block.ndim == 2 else self.width
                out.write(block.tobytes())
                self.rows += len(block)
        self._fd = os.open(self._path, os.O_RDONLY)
        weakref.finalize(self, os.close, self._fd)

    def __len__(self) -> int:
        return self.rows

    def gather(self, index: np.ndarray) -> np.ndarray:
        """The encoded records at ``index`` (``(len(index), width)``, ``float32``)."""
        size = 4 * self.width
        out = np.empty((len(index), self.width), dtype=np.float32)
        for i, row in enumerate(np.asarray(index, dtype=np.int64)):
            out[i] = np.frombuffer(os.pread(self._fd, size, int(row) * size), dtype=np.float32)
        return out

    def close(self) -> None:
        """Remove the file now (it is removed at exit otherwise)."""
        shutil.rmtree(self._folder, ignore_errors=True)
