"""A batch over local worker processes that goes on when one of them dies.

A worker process killed mid-image (the kernel's out-of-memory killer on a huge file, a crash in a native
library, ``kill -9``) breaks a ``concurrent.futures`` process pool: every image in flight or queued fails with
``BrokenProcessPool`` and, before this module, the batch ended there with a traceback and no summary. Here:

- images are handed to the pool a window at a time (``IN_FLIGHT_PER_WORKER`` per worker), so a break loses
  only the few in flight, not the rest of a survey;
- after a break, a fresh pool runs each image that was in flight *alone*, first: one whose worker dies again
  on its own is the cause, and becomes that image's error (``<name>.error.json``, exit status 1); the others
  are done as usual (a worker killed for another reason costs a rerun, not an image);
- a worker that cannot even start (the model file unreadable in it) ends the batch with one line, not a loop
  of fresh pools.

No scheduler of our own beyond that: the pool places images on free workers. ``CRASH_ONCE_ENV`` and
``DIE_ON_ENV`` inject a worker's death for the tests (as a Ray task's, :mod:`thermal_anomaly.distributed`).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, TypeVar

from .errors import ThermalAnomalyError, image_error

#: images handed to the pool per worker at a time (one running, one waiting: no worker waits for the next)
IN_FLIGHT_PER_WORKER = 2
#: fault injection for the tests: a folder; the first image of the batch to get there kills its worker, once
CRASH_ONCE_ENV = "THERMAL_ANOMALY_CRASH_ONCE"
#: fault injection for the tests: a file name; its worker dies each time it is given that image
DIE_ON_ENV = "THERMAL_ANOMALY_DIE_ON"

Item = TypeVar("Item", bound=tuple)


class WorkerStartError(Exception):
    """A worker process could not load the batch's model (raised in the worker, met by the caller)."""


def die_if_asked(name: str) -> None:
    """End this worker process abruptly when the tests asked for it (``CRASH_ONCE_ENV``, ``DIE_ON_ENV``), as
    a process killed for memory ends: no exception, no cleanup."""
    crash_dir = os.environ.get(CRASH_ONCE_ENV)
    if crash_dir:
        try:  # the first image to get here (an exclusive create) makes its worker die
            os.close(os.open(Path(crash_dir) / "crashed", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            pass
        else:
            os._exit(1)
    if name and os.environ.get(DIE_ON_ENV) == name:
        os._exit(1)


def lost_worker(path: object) -> ThermalAnomalyError:
    """The error of an image whose worker process died while predicting it, and again when it ran alone."""
    return ThermalAnomalyError(
        f"{path}: the worker process predicting it died (killed by the system, most likely for lack of "
        "memory, or a crash in a native library); the rest of the batch went on. Run it alone with "
        "--workers 1 to see why"
    )


def outcomes(
    items: Sequence[Item],
    new_pool: Callable[[], Executor],
    work: Callable[[Item], Any],
    n_workers: int,
    failed: Callable[[Item, ThermalAnomalyError], str],
) -> Iterator[tuple[Item, Any]]:
    """Each item with ``work(item)`` from a pool's worker, in the order they finish; an item whose worker
    died while predicting it alone gets ``failed(item, error)`` instead (see the module's docstring).
    ``new_pool()`` starts a pool; a worker raising :class:`WorkerStartError` ends the batch with a
    :class:`ThermalAnomalyError`."""
    queue: deque[Item] = deque(items)
    suspects: deque[Item] = deque()  # in flight when a pool broke: each is run again alone
    window = max(1, IN_FLIGHT_PER_WORKER * n_workers)
    finished_any = False  # some image came back from a worker in this batch
    causes = 0  # images in a row found to kill their worker
    while queue or suspects:
        with new_pool() as pool:
            pending: dict[Future, Item] = {}
            alone: Item | None = None
            broken = False
            while not broken and (queue or suspects or pending):
                try:
                    if suspects:
                        if not pending:
                            alone = suspects[0]
                            fut = pool.submit(work, alone)  # (submitted first: a broken pool keeps it queued)
                            pending[fut] = suspects.popleft()
                    else:
                        alone = None
                        while queue and len(pending) < window:
                            fut = pool.submit(work, queue[0])
                            pending[fut] = queue.popleft()
                except BrokenProcessPool:  # it broke since the last look: what it holds is settled below
                    break
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in [f for f in pending if f in done]:  # in the order they were handed out
                    item = pending.pop(fut)
                    try:
                        outcome = _settled(fut, item, failed)
                    except BrokenProcessPool:
                        broken = True
                        if item is alone:  # it killed a worker of its own, again: the cause
                            causes += 1
                            if causes >= 2 and not finished_any:
                                raise ThermalAnomalyError(
                                    "worker processes die before finishing any image (the first "
                                    f"{causes} tried alone, the last {item[0]}); run with --workers 1"
                                ) from None
                            yield item, failed(item, lost_worker(item[0]))
                        else:
                            suspects.append(item)
                        continue
                    finished_any, causes = True, 0
                    yield item, outcome
            # the pool broke: whatever else was handed to it finished before, or is to be run again
            for fut, item in pending.items():
                try:
                    outcome = _settled(fut, item, failed)
                except BrokenProcessPool:
                    suspects.append(item)
                    continue
                yield item, outcome


def _settled(fut: Future, item: Item, failed: Callable[[Item, ThermalAnomalyError], str]) -> Any:
    """A finished future's outcome. ``BrokenProcessPool`` passes (the caller runs the image again); a worker
    that could not start ends the batch; anything else raised on the way back (not by the image's own work,
    which reports its errors itself) is that image's error."""
    try:
        return fut.result()
    except BrokenProcessPool:
        raise
    except WorkerStartError as exc:
        raise ThermalAnomalyError(f"worker processes could not start: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - one image's bug must not end a batch
        return failed(item, image_error(item[0], exc))
