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


@contextlib.contextmanager
def backbone_threads_beside_analysis(overlapped: bool) -> Iterator[None]:
    """One torch thread fewer while the analysis thread works beside the backbone (``overlapped``: a batch
    of more than one image): on 2 cores, 2 torch threads plus the analysis oversubscribe them (every 2nd
    development image in one batch, no pictures, medians of 3 runs: 334 -> 313 ms per image). Maps differ
    from a 2-thread run by float rounding only (<= 2e-4 on the map, decisions identical)."""
    import torch

    before = torch.get_num_threads()
    if overlapped:
        torch.set_num_threads(max(1, before - 1))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def one_thread_each() -> None:
    """A worker process's libraries on one thread each, for the process's life (torch, OpenCV, numpy's BLAS):
    each process of a batch has a core of its own."""
    import cv2
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    threadpool_limits(limits=1, user_api="blas")  # not restored: see ``one_blas_thread``
