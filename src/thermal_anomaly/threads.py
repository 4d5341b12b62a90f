"""Thread pools of the native libraries under the per-image work."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """numpy's BLAS (OpenBLAS) on one thread while images are analysed, fitted or scored. The per-image work
    makes many small matrix products; OpenBLAS hands each to its thread pool, whose threads then spin beside
    the analysis thread, the backbone and the other worker processes. Measured on 2 cores, 106 T1 pictures
    (53 twice), no pictures, per image in the batch: ``--workers 1`` 206 -> 150 ms, ``--workers 2`` 158 ->
    115 ms; a 500-image batch with two worker processes, mean per image 228 -> 164 ms. The products are the
    same (one thread sums each as the pool does). Also a decorator (a fresh limit per call)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield
