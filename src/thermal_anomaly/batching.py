"""Overlapping per-image work in a batch: the next images are read and analysed while the current one is scored."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

_T = TypeVar("_T")
_R = TypeVar("_R")


def bounded_map(fn: Callable[[_T], _R], items: Iterable[_T], workers: int = 1) -> Iterator[_R]:
    """``fn`` over ``items`` in ``workers`` background threads; results in order, at most ``2 × workers``
    items taken ahead of the caller.

    For per-image work that spends its time outside the GIL (OpenCV, numpy, the OCR engine's own process):
    the next images are analysed while the caller works on the current one. A lazy sequence is read as it
    goes and the caller drops each result once used, so memory stays that of a few images whatever the
    batch. With one worker the items are processed one at a time in their order (so work that learns from
    earlier items, like the OCR's digit templates, sees them in the same order on every run); with none,
    inline.
    """
    if workers <= 0:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future[_R]] = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) > 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
