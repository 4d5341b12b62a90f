"""``predict --engine ray``: a batch's images as Ray tasks over a cluster's workers.

Each task does exactly what a local worker process does for one image (:func:`pipeline._worker_predict`:
analyse the file, score it, rate it, write its JSON, pictures and maps), so outputs are the same. The model
file's bytes go into Ray's object store once (``ray.put``); every task gets that reference, and a worker
process loads the model on its first task and keeps it for the next ones. Results come back as tasks finish
(their files are written by then); a task whose worker dies or that raises is retried by Ray
(``TASK_RETRIES``); the caller builds the summary at the end.

No scheduler of our own: Ray places tasks where a CPU is free. Workers read the images and write the outputs
by the paths given, so on a multi-machine cluster inputs and the output folder must be on a file system
every node mounts at the same path. ``RAY_ADDRESS`` (or a ``ray.init`` the caller already made) picks the
cluster; without one a local Ray is started for the batch and shut down after it.
"""

from __future__ import annotations

import hashlib
import itertools
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ThermalAnomalyError
from .worker_pool import CRASH_ONCE_ENV

if TYPE_CHECKING:
    from .pipeline import Inspector, _ImageOptions
    from .records import ImageResult
    from .thermal.radiometric import RadiometricParams

#: times Ray runs a failed task again (a dead worker process or an exception) before giving up on the image
TASK_RETRIES = 2
#: tasks in flight per CPU of the cluster (the rest of the batch is submitted as they finish)
IN_FLIGHT_PER_CPU = 4

Item = tuple[Path, str, tuple[str, ...]]

#: per worker process: the key of the batch whose model is loaded (model digest, options)
_LOADED: dict[str, Any] = {}


def _task(
    model: bytes, digest: str, model_name: str, out: str, opts: Any, params: Any, item: Item
) -> ImageResult | str:
    """One image on a Ray worker: load the batch's model on the first task of this process, then predict the
    image as a local worker process does (result, or the reason its file cannot be read)."""
    from . import pipeline

    key = f"{digest}|{model_name}|{out}|{opts!r}|{params!r}"
    if _LOADED.get("key") != key:
        with tempfile.TemporaryDirectory(prefix="thermal-anomaly-ray-") as tmp:
            path = Path(tmp) / "model.pth"
            path.write_bytes(model)
            pipeline._worker_start(str(path), model_name, out, opts, params)
        _LOADED["key"] = key
    return pipeline._worker_predict(item)


def ray_outcomes(
    inspector: Inspector,
    items: Sequence[Item],
    out: Path,
    opts: _ImageOptions,
    params: RadiometricParams | None,
) -> Iterator[tuple[Item, ImageResult | str]]:
    """Each item with its result (or the reason it failed), in the order the tasks finish."""
    from .pipeline import _failed

    try:
        import ray
    except ImportError:
        raise ThermalAnomalyError("--engine ray needs Ray: pip install 'thermal-anomaly[ray]'") from None
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(include_dashboard=False, logging_level="ERROR", log_to_driver=False)
        except Exception as exc:  # noqa: BLE001 - a cluster that cannot be reached: one line, no traceback
            msg = " ".join(str(exc).split())[:300]
            raise ThermalAnomalyError(f"cannot start or reach a Ray cluster: {msg}") from None
    try:
        with tempfile.TemporaryDirectory(prefix="thermal-anomaly-") as tmp:
            model = inspector.detector.save(Path(tmp) / "model.pth").read_bytes()
        digest = hashlib.sha256(model).hexdigest()
        model_ref = ray.put(model)  # once into the object store; each node fetches it once
        task = ray.remote(num_cpus=1, max_retries=TASK_RETRIES, retry_exceptions=True)(_task)
        # a window of tasks in flight, not the whole batch: a survey of 50,000 images stays light for the
        # driver and the scheduler, and results keep coming while the rest waits its turn
        window = max(2, IN_FLIGHT_PER_CPU * int(ray.cluster_resources().get("CPU", 1)))
        queue = iter(items)
        pending: dict[Any, Item] = {}

        def submit() -> None:
            for item in itertools.islice(queue, window - len(pending)):
                ref = task.remote(model_ref, digest, inspector.model_name, str(out), opts, params, item)
                pending[ref] = item

        submit()
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            item = pending.pop(done[0])
            try:
                outcome = ray.get(done[0])
            except ray.exceptions.RayError as exc:
                cause = " ".join(str(exc).split())[-300:]
                reason = f"{item[0]}: failed on the Ray cluster after {TASK_RETRIES} retries ({cause})"
                outcome = _failed(out, item[1], item[0], ThermalAnomalyError(reason))
            submit()
            yield item, outcome
    finally:
        if started:
            ray.shutdown()


__all__ = ["CRASH_ONCE_ENV", "TASK_RETRIES", "ray_outcomes"]
