"""From files to reports: train, test, predict and experiment, shared by the CLI and the Python API."""

from __future__ import annotations

import copy
import csv
import inspect
import io as _stdio
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from .data import MASKS_DIR, ThermalDataset, find_images
from .detectors import Detector, create_detector, load_detector
from .errors import DataError, ModelError, ThermalAnomalyError, image_error
from .io import save_npy, write_json, write_text
from .postprocess import resize_map
from .records import ImageResult
from .thermal.radiometric import RadiometricParams
from .threads import backbone_threads_beside_analysis, one_blas_thread, one_thread_each

if TYPE_CHECKING:
    from .baseline.reference import BaselineSet, Reference
    from .data import ImageRecord
    from .thermal.analysis import ThermalAnalysis

AUTOENCODERS = ("autoencoder", "unet-autoencoder")
DEFAULT_MODEL = "patchcore"
#: long side that maps and masks are kept at for dataset-wide pixel metrics (memory bound)
METRIC_MAX_SIDE = 640


def detector_config(model: str, **options) -> dict:
    """Keep only the options the named detector's constructor takes (e.g. epochs for AutoEncoders).

    An unknown name keeps none: :func:`~thermal_anomaly.detectors.create_detector` then says which are known.
    """
    from .detectors import DETECTORS, available_detectors

    if model not in available_detectors():
        return {}
    params = set()
    for cls in DETECTORS[model].__mro__:
        if "__init__" in cls.__dict__:
            params |= set(inspect.signature(cls.__init__).parameters)
    return {k: v for k, v in options.items() if k in params and v is not None}


def train(
    data_root: str | os.PathLike | ThermalDataset,
    *,
    model: str = DEFAULT_MODEL,
    out_dir: str | os.PathLike = "models",
    progress: bool = True,
    on_error: Callable[[str, str], None] | None = None,
    **options,
) -> Path:
    """Fit a detector on the normal images under ``data_root``; return the model file to use.

    AutoEncoders write ``best_model.pth`` (lowest validation loss, returned), ``final_model.pth`` and
    ``training_loss.png``; other detectors write ``<model>.pth``. The model file records each asset's
    normal images (absolute paths) for ``predict --baseline auto``. A normal image that cannot be read is
    left out and reported: to ``on_error`` (path, reason), else as a warning; none readable is a
    ``DataError``.
    """
    import warnings

    from .baseline.reference import normals_record
    from .data import readable_records

    dataset = data_root if isinstance(data_root, ThermalDataset) else ThermalDataset(data_root, mode="train")
    records, unreadable = readable_records(dataset.records, progress=progress)
    for path, reason in unreadable:
        if on_error is None:
            warnings.warn(f"left out of training: {reason}", stacklevel=2)
        else:
            on_error(path, reason)
    if not records:
        raise DataError(f"{dataset.root}: none of its {len(dataset.records)} normal images can be read")
    if unreadable:
        dataset = dataset.subset(records)
    detector = create_detector(model, **detector_config(model, **options))
    detector.fit(dataset.images(), groups=dataset.image_groups(), progress=progress)
    detector.normals_ = normals_record(r for r in dataset.records if r.label != 1)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if model in AUTOENCODERS:
        from .visualize import save_training_curve

        best = detector.save(out / "best_model.pth")
        save_training_curve(
            out / "training_loss.png", detector.history_["train_loss"], detector.history_["val_loss"]
        )
        final = copy.deepcopy(detector)
        final.use_final_weights()
        final.recalibrate(dataset.images(), groups=dataset.image_groups(), progress=False)
        final.save(out / "final_model.pth")
        return best
    return detector.save(out / f"{model}.pth")


# ---------------------------------------------------------------------------------------------- predict
@dataclass
class BatchReport:
    results: list[ImageResult]
    errors: list[tuple[str, str]]  # (image path as given, reason)
    summary: dict = field(default_factory=dict)  # batch_summary of the run

    @property
    def n_flagged(self) -> int:
        return sum(r.is_anomalous for r in self.results)


def _analysed_ahead(
    items: Sequence[tuple[Path, str, tuple[str, ...]]], params: RadiometricParams | None
) -> Iterator[ThermalAnalysis | ThermalAnomalyError]:
    """Each item's :class:`ThermalAnalysis` (or the error naming why its file cannot be read), in order; the
    next one is computed in a thread while the caller scores and reports this one (decoding, OCR and OpenCV
    release the GIL, so the two cores overlap).

    A decoding that failed in the thread is met again (and reported) in the caller's; the OCR engine and
    the glyph cache are locked, so the two may read scales at once. An exception no check foresaw is that
    image's error too (:func:`~thermal_anomaly.errors.image_error`).
    """
    from concurrent.futures import ThreadPoolExecutor

    from .thermal.analysis import ThermalAnalysis

    def analyse(path: Path) -> ThermalAnalysis:
        return ThermalAnalysis.from_file(path, params).prefetch()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="analysis") as pool:
        pending = pool.submit(analyse, items[0][0]) if items else None
        for i in range(len(items)):
            current = pending
            pending = pool.submit(analyse, items[i + 1][0]) if i + 1 < len(items) else None
            try:
                yield current.result()
            except Exception as exc:  # noqa: BLE001 - one image's bug must not end a batch
                yield image_error(items[i][0], exc)


def _failed(out: Path, name: str, path: Path, exc: ThermalAnomalyError) -> str:
    """Write ``<name>.error.json`` for a file that cannot be read or scored, and drop a result of an
    earlier run (``<name>.json``), which no longer stands; the reason, for the batch report."""
    reason = str(exc)
    write_json(out / f"{name}.error.json", {"image": str(path), "error": reason})
    (out / f"{name}.json").unlink(missing_ok=True)
    return reason


def _scored(
    inspector: Inspector,
    item: tuple[Path, str, tuple[str, ...]],
    analysis: ThermalAnalysis,
    out: Path,
    opts: _ImageOptions,
    references: Sequence[Reference] | BaselineSet,
) -> ImageResult | str:
    """``Inspector._predict_one`` of an analysed image, or the reason it failed (its error file written):
    a file that turns out unusable only when scored, or a bug met on one image, is that image's error and
    the batch goes on."""
    path, name, parts = item
    try:
        return inspector._predict_one(path, name, parts, analysis, out, opts, references)
    except Exception as exc:  # noqa: BLE001 - one image's bug must not end a batch
        return _failed(out, name, path, image_error(path, exc))


class _ImageOptions(NamedTuple):
    """What ``predict`` was asked for every image of a batch (passed to worker processes as is)."""

    group: str | None
    threshold: float | None
    pictures: bool
    save_maps: bool
    #: baseline files and folders (``predict --baseline``); each process reads them once
    baselines: tuple[str, ...] = ()
    #: ``--baseline auto``: the batch's assets and their recorded normals that could be read; None: not asked
    asset_baselines: tuple[tuple[str, tuple[str, ...]], ...] | None = None


#: images per worker process below which a batch stays in one process: starting a worker (its imports, the
#: model, the backbone's session, learning the camera's digits again) costs a few seconds
MIN_IMAGES_PER_WORKER = 8


def batch_workers(n_images: int, workers: int | None) -> int:
    """Processes for a batch of ``n_images``: ``workers`` when given, else one per core once the batch is long
    enough to pay for starting them (one process with an analysis thread beside it otherwise)."""
    if workers is not None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        return max(1, min(workers, n_images))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cores, n_images // MIN_IMAGES_PER_WORKER))


#: a worker process's inspector and the batch's options, set once by :func:`_worker_start`
_WORKER: dict = {}


def _worker_start(
    model_file: str, model_name: str, out: str, opts: _ImageOptions, params: RadiometricParams | None
) -> None:
    """Load the batch's model in a worker process; one thread for torch, OpenCV and numpy's BLAS, as each
    process has a core of its own. A failure is kept and raised with the first image
    (:class:`~thermal_anomaly.worker_pool.WorkerStartError`): a pool whose initializer fails only says that a
    process ended."""
    one_thread_each()
    from .baseline.reference import BaselineSet, load_asset_references, load_references

    _WORKER.pop("start_error", None)  # a Ray worker process serves batch after batch
    try:
        by_asset = None
        if opts.asset_baselines is not None:
            record = dict(opts.asset_baselines)
            by_asset = load_asset_references(record, record, params, quiet=True)  # warned in the main process
        _WORKER.update(
            inspector=Inspector(load_detector(model_file), model_name),
            out=Path(out),
            opts=opts,
            params=params,
            references=BaselineSet(load_references(opts.baselines, params), by_asset),
        )
    except Exception as exc:  # noqa: BLE001 - reported by the batch, in one line
        _WORKER["start_error"] = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]


def _worker_predict(item: tuple[Path, str, tuple[str, ...]]) -> ImageResult | str:
    """One image in a worker process: its result, or the reason its file cannot be read (its error file
    written, as the one-process path does)."""
    from .thermal.analysis import ThermalAnalysis
    from .worker_pool import WorkerStartError, die_if_asked

    path, name, _parts = item
    if "start_error" in _WORKER:
        raise WorkerStartError(_WORKER["start_error"])
    die_if_asked(name)
    out = _WORKER["out"]
    try:
        analysis = ThermalAnalysis.from_file(path, _WORKER["params"]).prefetch()
    except Exception as exc:  # noqa: BLE001 - one image's bug must not end a batch
        return _failed(out, name, path, image_error(path, exc))
    return _scored(_WORKER["inspector"], item, analysis, out, _WORKER["opts"], _WORKER["references"])


def collect_inputs(paths: Sequence[str | os.PathLike]) -> list[tuple[Path, str, tuple[str, ...]]]:
    """Expand files and folders (recursively) into (path, output name, path parts for the asset).

    Names come from the paths as given (symbolic links are not resolved): a file given directly is
    named by its file name, a file found in a folder by its path relative to that folder. A `masks/` folder
    right below a given folder is the dataset's ground truth and is skipped.
    """
    items: list[tuple[Path, str, tuple[str, ...]]] = []
    seen: dict[str, int] = {}
    for given in paths:
        p = Path(given)
        if p.is_dir():
            for f in find_images(p):
                rel = f.relative_to(p).as_posix()
                if rel.split("/", 1)[0] == MASKS_DIR:  # a dataset's ground truth, not pictures to inspect
                    continue
                items.append((f, rel, (p.name, *Path(rel).parts[:-1])))
        elif p.exists() or p.is_symlink():
            items.append((p, p.name, tuple(p.parts[:-1])))
        else:
            raise DataError(f"{p}: no such file or folder")
    out = []
    for f, name, parts in items:
        if name in seen:
            seen[name] += 1
            stem, dot, ext = name.partition(".")
            name = f"{stem}-{seen[name]}{dot}{ext}"
        else:
            seen[name] = 1
        out.append((f, name, parts))
    return out


class Inspector:
    """One fitted detector plus everything around it: reading files, groups, outputs.

    The CLI's ``predict`` and ``test`` commands are this class: it reads image files and folders, names
    each image's asset (group) from its folders, scores it with the detector, rates its regions in
    temperature terms and writes the per-image JSON, pictures, maps and the batch summary.

    Parameters
    ----------
    detector : Detector
        A fitted detector (see :func:`thermal_anomaly.create_detector` and
        :func:`thermal_anomaly.load_detector`).
    model_name : str, optional
        The name written as ``"model"`` in every image's JSON; the detector's own ``name`` by default.

    Attributes
    ----------
    detector : Detector
        The detector that scores every image.
    model_name : str
        The name reported for the model.

    See Also
    --------
    train : fit a detector and save the model file that :meth:`Inspector.load` reads.

    Examples
    --------
    >>> from thermal_anomaly.pipeline import Inspector
    >>> inspector = Inspector.load("models/patchcore.pth")  # doctest: +SKIP
    >>> report = inspector.predict(["inspection/T1"], "runs/predict")  # doctest: +SKIP
    >>> print(report.n_flagged, "flagged;", len(report.errors), "unreadable")  # doctest: +SKIP
    """

    def __init__(self, detector: Detector, model_name: str | None = None) -> None:
        self.detector = detector
        self.model_name = model_name or detector.name
        #: the model file this inspector was loaded from (``load``), if any: resuming compares its age
        self.model_file: Path | None = None

    @classmethod
    def load(cls, model_path: str | os.PathLike) -> Inspector:
        """An inspector around the detector saved in ``model_path``.

        Parameters
        ----------
        model_path : str or os.PathLike
            A model file written by :func:`train` (or ``Detector.save``).

        Returns
        -------
        Inspector
            The inspector, named after the detector.

        Raises
        ------
        ModelError
            The file is missing, empty, corrupt, foreign or inconsistent.
        """
        inspector = cls(load_detector(model_path))
        inspector.model_file = Path(model_path)
        return inspector

    def recorded_normals(self) -> dict[str, list[str]]:
        """Asset -> the normal images ``train`` fitted the model on (``predict --baseline auto``); a
        ModelError naming the model file when it records none (older files, detectors fitted in code)."""
        normals = getattr(self.detector, "normals_", None)
        if normals is None:
            where = self.model_file if self.model_file is not None else "this model"
            raise ModelError(
                f"{where}: the model records no training normals for --baseline auto (trained before they "
                "were recorded, or fitted in code): retrain it with 'thermal-anomaly train', or give the "
                "baselines with --baseline PATH"
            )
        return normals

    def infer_group(self, parts: Sequence[str], default: str | None = None) -> str | None:
        """The asset of an image: the nearest enclosing folder that the model was calibrated on."""
        known = set(self.detector.calibration_)
        for part in reversed(parts):
            if part in known:
                return part
        return default

    def predict(
        self,
        paths: Sequence[str | os.PathLike],
        out_dir: str | os.PathLike,
        *,
        save_maps: bool = False,
        group: str | None = None,
        threshold: float | None = None,
        progress: bool = True,
        on_error: Callable[[str, str], None] | None = None,
        pictures: bool = True,
        params: RadiometricParams | None = None,
        on_result: Callable[[ImageResult], None] | None = None,
        workers: int | None = 1,
        baselines: Sequence[str | os.PathLike | Reference] = (),
        engine: str = "local",
        resume: bool = False,
        asset_baselines: bool = False,
    ) -> BatchReport:
        """Score files and folders; write ``OUT/<name>.json`` (and maps) per image, errors per file.

        Regions are rated in temperature terms (see :mod:`thermal_anomaly.report`); with ``pictures``
        also ``<name>.annotated.png`` and ``<name>.panel.png``; with ``save_maps`` also the anomaly map,
        the mask and ``<name>.temperature.tiff`` (+ ``.json``). ``summary.json`` and ``summary.md`` list
        the flagged images worst severity first. A radiometric file is analysed from its raw data
        (``params`` override its emissivity, reflected temperature, ...).

        Parameters
        ----------
        paths : sequence of str or os.PathLike
            Image files and folders (searched recursively; a ``masks/`` folder right below one is skipped).
        out_dir : str or os.PathLike
            The folder the outputs are written to (created when missing).
        save_maps : bool, default False
            Also write the anomaly map (``.anomaly_map.npy``), the mask and the temperature TIFF.
        group : str, optional
            The asset of images whose folders name none the model was calibrated on.
        threshold : float, optional
            Overrides the detector's learned threshold.
        progress : bool, default True
            Show a progress bar.
        on_error : callable, optional
            Called with (path, reason) for every file that cannot be read.
        pictures : bool, default True
            Write the annotated picture and the panel of each image.
        params : RadiometricParams, optional
            Object parameters that override a radiometric file's own.
        on_result : callable, optional
            Called with each image's :class:`ImageResult` once its files are written (progress for a
            caller that shows its own, such as the service).
        workers : int or None, default 1
            Processes that predict the batch's images side by side (each loads the model, with one thread);
            None: one per core when the batch has at least 8 images per core (what the CLI does). With 1,
            the next image is analysed in a thread while one is scored. Each process learns a camera's
            digits on its own, so a scale's last digit can be read differently (0.01 °C on one development
            image); decisions are the same. A script that asks for more than one must guard its entry
            point (``if __name__ == "__main__":``), as Python's process pools require.
        baselines : sequence of str, os.PathLike or Reference, default ()
            Baseline images (files, folders of them, or references already read: see
            :mod:`thermal_anomaly.baseline.reference`) of the batch's assets: each image is registered to
            every one and compared in °C with the best aligned (see :mod:`thermal_anomaly.baseline`); its
            JSON gets a ``baseline`` block (the file, aligned or why not, the regions that warmed by more
            than NETA's over-time steps) and, with ``pictures``, ``<name>.baseline.png``. Without any, the
            outputs are what they were.
        engine : {"local", "ray"}, default "local"
            ``ray``: the images as Ray tasks over a cluster's workers (``RAY_ADDRESS``, or a local Ray
            started for the batch; see :mod:`thermal_anomaly.distributed`); ``workers`` is then unused.
        resume : bool, default False
            Skip images whose outputs in ``out_dir`` are complete for this run (see
            :mod:`thermal_anomaly.resume`); they count in the summary from their JSON.
        asset_baselines : bool, default False
            ``--baseline auto``: compare each image with the normal images ``train`` recorded for its asset
            (its nearest folder named like a training asset, else ``group``), besides any ``baselines``. A
            recorded file that is missing or unreadable is skipped with a one-line warning; a model that
            records none is a ModelError naming its file.

        Returns
        -------
        BatchReport
            Each image's :class:`ImageResult`, the (path, reason) of each file that failed, and the
            batch summary.
        """
        from tqdm.auto import tqdm

        from .summary import summary_markdown

        record = self.recorded_normals() if asset_baselines else None  # none recorded: stop before any output
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        items = collect_inputs(paths)
        results: list[ImageResult] = []
        errors: list[tuple[str, str]] = []
        from .baseline.reference import BaselineSet, asset_of, load_asset_references, load_references

        given = load_references(baselines, params)  # a missing or unreadable baseline stops the batch
        by_asset = None
        if record is not None:  # only the batch's assets are read; a missing normal: a warning, skipped
            assets = {asset_of(record, parts, group) for _path, _name, parts in items}
            by_asset = load_asset_references(record, assets, params)
        references = BaselineSet(given, by_asset)
        opts = _ImageOptions(
            group,
            threshold,
            pictures,
            save_maps,
            tuple(str(r.path) for r in given),
            None
            if by_asset is None
            else tuple((a, tuple(str(r.path) for r in refs)) for a, refs in by_asset.items()),
        )
        if engine not in ("local", "ray"):
            raise ValueError(f"engine must be 'local' or 'ray', got {engine!r}")
        position = {name: i for i, (_path, name, _parts) in enumerate(items)}
        todo, finished = self._resumable(items, out, opts) if resume else (list(items), [])
        results.extend(finished)
        n_workers = batch_workers(len(todo), workers)
        if engine == "ray":
            from .distributed import ray_outcomes

            done = ray_outcomes(self, todo, out, opts, params)
        elif n_workers > 1:
            done = self._in_workers(todo, out, opts, params, n_workers)
        else:
            done = self._in_this_process(todo, out, opts, params, references)
        for (path, _name, _parts), outcome in tqdm(
            done, desc="predict", unit="img", total=len(todo), disable=not progress
        ):
            if isinstance(outcome, ImageResult):
                results.append(outcome)
                if on_result:
                    on_result(outcome)
            else:
                errors.append((str(path), outcome))
                if on_error:
                    on_error(str(path), outcome)
        results.sort(key=lambda r: position[r.name])  # input order, whatever order they finished in
        paths_order = {str(p): i for i, (p, _name, _parts) in reversed(list(enumerate(items)))}
        errors.sort(key=lambda e: paths_order.get(e[0], len(items)))
        summary = batch_summary(results, errors)
        write_json(out / "summary.json", summary)
        write_text(out / "summary.md", summary_markdown(summary))
        return BatchReport(results, errors, summary)

    def _resumable(
        self, items: Sequence[tuple[Path, str, tuple[str, ...]]], out: Path, opts: _ImageOptions
    ) -> tuple[list[tuple[Path, str, tuple[str, ...]]], list[ImageResult]]:
        """The items still to predict, and the results of those whose outputs are complete (``--resume``)."""
        from .resume import completed

        thr = self.detector.threshold_ if opts.threshold is None else float(opts.threshold)
        todo, finished = [], []
        for path, name, parts in items:
            res = completed(
                path,
                name,
                out,
                model_name=self.model_name,
                threshold=thr,
                group=self.infer_group(parts, opts.group),
                pictures=opts.pictures,
                save_maps=opts.save_maps,
                baselines=bool(opts.baselines) or opts.asset_baselines is not None,
                model_file=self.model_file,
            )
            if res is None:
                todo.append((path, name, parts))
            else:
                finished.append(res)
        return todo, finished

    def _in_this_process(
        self,
        items: Sequence[tuple[Path, str, tuple[str, ...]]],
        out: Path,
        opts: _ImageOptions,
        params: RadiometricParams | None,
        references: Sequence[Reference] | BaselineSet = (),
    ) -> Iterator[tuple[tuple[Path, str, tuple[str, ...]], ImageResult | str]]:
        """Each item with its result (or the reason it failed), in order. One analysis per image: the
        detector's overlays and heat evidence and the report's temperatures come from the same decoding (a
        radiometric file: from its raw data); the next image's is computed in a thread meanwhile."""
        with one_blas_thread(), backbone_threads_beside_analysis(len(items) > 1):
            for item, analysis in zip(items, _analysed_ahead(items, params), strict=True):
                path, name, _parts = item
                if isinstance(analysis, ThermalAnomalyError):
                    yield item, _failed(out, name, path, analysis)
                else:
                    yield item, _scored(self, item, analysis, out, opts, references)

    def _in_workers(
        self,
        items: Sequence[tuple[Path, str, tuple[str, ...]]],
        out: Path,
        opts: _ImageOptions,
        params: RadiometricParams | None,
        n_workers: int,
    ) -> Iterator[tuple[tuple[Path, str, tuple[str, ...]], ImageResult | str]]:
        """Each item with its result (or the reason it failed), as they finish, from ``n_workers`` processes
        that each load this detector from a model file written for them (the safe loader; nothing is pickled
        but the results) and predict one image at a time with one thread. A worker that dies (killed for
        memory) costs a rerun of what it held, and the image that kills a worker on its own is its error
        (:mod:`~thermal_anomaly.worker_pool`)."""
        import multiprocessing
        import tempfile
        from concurrent.futures import ProcessPoolExecutor

        from . import worker_pool

        def failed(item: tuple[Path, str, tuple[str, ...]], exc: ThermalAnomalyError) -> str:
            return _failed(out, item[1], item[0], exc)

        with tempfile.TemporaryDirectory(prefix="thermal-anomaly-") as tmp:
            model_file = self.detector.save(Path(tmp) / "model.pth")

            def new_pool() -> ProcessPoolExecutor:
                return ProcessPoolExecutor(
                    n_workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_worker_start,
                    initargs=(str(model_file), self.model_name, str(out), opts, params),
                )

            yield from worker_pool.outcomes(items, new_pool, _worker_predict, n_workers, failed)

    def _predict_one(
        self,
        path: Path,
        name: str,
        parts: tuple[str, ...],
        analysis: ThermalAnalysis,
        out: Path,
        opts: _ImageOptions,
        references: Sequence[Reference] | BaselineSet = (),
    ) -> ImageResult:
        """Score and rate one analysed image and write its files (JSON, pictures, maps); compared with
        the best aligned of its ``references`` (those given, its asset's) when there are any."""
        from .baseline.reference import BaselineSet, asset_of
        from .pictures import save_pictures
        from .report import rate_image

        group, threshold, pictures, save_maps = opts.group, opts.threshold, opts.pictures, opts.save_maps
        grp = self.infer_group(parts, group)
        if not isinstance(references, BaselineSet):
            references = BaselineSet(list(references))
        compared = None
        if references:
            by_asset = references.by_asset
            asset = None if by_asset is None else asset_of(by_asset, parts, group)
            compared = references.compare(analysis, asset, path)
        pred = self.detector.score([analysis], groups=[grp], threshold=threshold, explain=pictures)
        rated, temp = rate_image(
            analysis,
            path,
            pred.regions[0],
            pred.pred_mask[0],
            anomaly_map=pred.anomaly_map[0],
            threshold=self.detector.pixel_threshold_ if threshold is None else threshold,
            flagged=bool(pred.pred_label[0]),
        )
        image = analysis.rgb
        res = ImageResult(
            image=str(path),
            name=name,
            score=float(pred.pred_score[0]),
            is_anomalous=bool(pred.pred_label[0]),
            threshold=float(pred.threshold),
            model=self.model_name,
            regions=rated.regions,
            group=grp,
            severity=rated.severity,
            hotspot_severity=rated.hotspot_severity,
            temperature=rated.temperature,
            hotspots=rated.hotspots,
            findings=rated.findings,
            baseline=None if compared is None else compared.to_json(),
        )
        side_by_side = pictures and compared is not None and compared.aligned
        for suffix in (
            ("error.json",)
            + (() if pictures else ("annotated.png", "panel.png"))
            + (() if side_by_side else ("baseline.png",))
        ):
            stale = out / f"{name}.{suffix}"
            if stale.exists():
                stale.unlink()
        write_json(out / f"{name}.json", res.to_json())
        if pictures:
            verdict = "FAULTY" if res.is_anomalous else "normal"
            save_pictures(
                out,
                name,
                image,
                rated,
                temp,
                pred.parts[0] if pred.parts else None,
                rated.mask,
                vmax=2.0 * res.threshold,
                title=f"{name}  [{verdict}]  score {res.score:.3f} (threshold {res.threshold:.3f})  "
                f"severity: {rated.severity}",
            )
        if side_by_side:
            from .baseline.picture import save_baseline_picture

            save_baseline_picture(out / f"{name}.baseline.png", image, compared, f"{name}: since baseline")
        if save_maps:
            from .thermal.export import save_temperature
            from .visualize import save_mask_png

            save_npy(out / f"{name}.anomaly_map.npy", pred.anomaly_map[0].astype(np.float32))
            save_mask_png(out / f"{name}.mask.png", rated.mask)
            if temp is not None:
                save_temperature(out, name, temp, path)
        return res

    # ------------------------------------------------------------------------------------------ test
    @one_blas_thread()
    def test(
        self,
        data_root: str | os.PathLike | ThermalDataset,
        out_dir: str | os.PathLike,
        *,
        threshold: float | None = None,
        progress: bool = True,
        save_pictures: bool = True,
    ) -> dict:
        """Score a labelled folder (normal/ and faulty/), write pictures, scores.csv and metrics.json.

        Parameters
        ----------
        data_root : str, os.PathLike or ThermalDataset
            A folder with ``normal/`` and ``faulty/`` images (and optional ``masks/``), or such a dataset.
        out_dir : str or os.PathLike
            The folder the pictures, ``scores.csv``, ``score_stats.txt``, ``metrics.json`` and
            ``error_analysis.png`` are written to.
        threshold : float, optional
            Overrides the detector's learned threshold.
        progress : bool, default True
            Show a progress bar.
        save_pictures : bool, default True
            Write each image's result panel and mask.

        Returns
        -------
        dict
            The metrics written to ``metrics.json`` (image AUROC, F1, pixel metrics where masks exist,
            counts, errors) plus ``"table"``, the per-category score statistics as text.
        """
        from tqdm.auto import tqdm

        from .metrics import evaluate
        from .visualize import save_error_analysis

        dataset = (
            data_root if isinstance(data_root, ThermalDataset) else ThermalDataset(data_root, mode="test")
        )
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        thr = self.detector.threshold_ if threshold is None else float(threshold)
        rows, gt_masks, maps, pred_masks, errors = [], [], [], [], []
        for i in tqdm(range(len(dataset)), desc="test", unit="img", disable=not progress):
            rec = dataset[i]
            try:
                image = dataset.load_image(i)
                gt = dataset.load_mask(i)
                row, amap, pmask = self._test_one(rec, image, out, threshold, thr, save_pictures)
            except Exception as exc:  # noqa: BLE001 - one image's bug must not end an evaluation
                errors.append((str(rec.path), str(image_error(rec.path, exc))))
                continue
            rows.append(row)
            small = _metric_size(amap.shape)
            maps.append(resize_map(amap, small))
            pred_masks.append(resize_map(pmask.astype(np.float32), small) >= 0.5)
            gt_masks.append(None if gt is None else resize_map(gt.astype(np.float32), small) >= 0.5)
        if not rows:
            raise DataError(f"{data_root}: no image could be scored")
        labels = np.array([r["label"] for r in rows])
        scores = np.array([r["score"] for r in rows])
        has_masks = any(m is not None for m, lab in zip(gt_masks, labels, strict=True) if lab == 1)
        metrics = evaluate(
            labels,
            scores,
            float(thr),
            masks=gt_masks if has_masks else None,
            maps=maps if has_masks else None,
            pred_masks=pred_masks if has_masks else None,
        )
        metrics.update(
            {
                "model": self.model_name,
                "threshold": float(thr),
                "n_images": len(rows),
                "n_normal": int((labels == 0).sum()),
                "n_faulty": int((labels == 1).sum()),
                "n_errors": len(errors),
                "errors": [{"image": p, "error": e} for p, e in errors],
            }
        )
        _write_scores_csv(out / "scores.csv", rows)
        table = category_table(rows)
        write_text(out / "score_stats.txt", table)
        metrics["category_stats"] = category_stats(rows)
        write_json(out / "metrics.json", metrics)
        save_error_analysis(out / "error_analysis.png", scores, labels, float(thr))
        metrics["table"] = table
        return metrics

    def _test_one(
        self,
        rec: ImageRecord,
        image: np.ndarray,
        out: Path,
        threshold: float | None,
        thr: float,
        save_pictures: bool,
    ) -> tuple[dict, np.ndarray, np.ndarray]:
        """One labelled image of :meth:`test` scored as ``predict`` decides (each learned region outlined by
        its isotherm), its pictures written: (its scores.csv row, anomaly map, predicted mask). ``threshold``
        as given to ``test``, ``thr`` the image threshold in use."""
        from .report import rate_image
        from .thermal.analysis import as_analysis
        from .visualize import save_mask_png, save_result_panel

        grp = self.infer_group(Path(rec.name).parts[:-1], rec.group)
        analysis = as_analysis(image)
        pred = self.detector.score([analysis], groups=[grp], threshold=threshold)
        amap = pred.anomaly_map[0]
        # the same decision predict writes: each learned region outlined by its isotherm
        rated, _temp = rate_image(
            analysis,
            rec.path,
            pred.regions[0],
            pred.pred_mask[0],
            anomaly_map=amap,
            threshold=self.detector.pixel_threshold_ if threshold is None else threshold,
            flagged=bool(pred.pred_label[0]),
        )
        pmask = rated.mask
        stem = _strip_ext(rec.name)
        if save_pictures:
            save_result_panel(
                out / f"{stem}_result.png",
                image,
                pred.reference[0],
                amap,
                pmask,
                title=f"{rec.name}  [{'FAULTY' if pred.pred_label[0] else 'normal'}]",
                score=float(pred.pred_score[0]),
                threshold=float(thr),
                vmax=2.0 * float(thr),
                regions=rated.regions,
            )
            save_mask_png(out / f"{stem}_mask.png", pmask)
        row = {
            "image": rec.name,
            "group": grp or "",
            "label": int(rec.label),
            "category": "faulty" if rec.label else "normal",
            "score": float(pred.pred_score[0]),
            "predicted": int(pred.pred_label[0]),
            "n_regions": len(pred.regions[0]),
        }
        return row, amap, pmask


def experiment(
    data_root: str | os.PathLike | None = None,
    *,
    model: str = DEFAULT_MODEL,
    out_dir: str | os.PathLike = "runs/experiment",
    holdout: float = 0.25,
    seed: int = 0,
    progress: bool = True,
    **options,
) -> dict:
    """Train then test in one go; without data, on built-in synthetic demo data.

    A seeded, per-asset share ``holdout`` of the normal images is kept out of training and tested with
    all faulty images, so no normal image is scored by a model that saw it.
    """
    from .data import split_normals

    out = Path(out_dir)
    if data_root is None:
        from .synthetic import make_demo_dataset

        data_root = make_demo_dataset(out / "demo-data", seed=seed)
    everything = ThermalDataset(data_root, mode="test")
    normals = [r for r in everything.records if r.label == 0]
    faulty = [r for r in everything.records if r.label == 1]
    if not normals:
        raise DataError(f"{data_root}: no normal/ images to learn from")
    fit_on, held_out = (
        split_normals(normals, val_fraction=holdout, seed=seed) if len(normals) > 1 else (normals, [])
    )
    model_path = train(
        everything.subset(fit_on), model=model, out_dir=out / "model", progress=progress, seed=seed, **options
    )
    metrics = Inspector.load(model_path).test(
        everything.subset(held_out + faulty), out / "test", progress=progress
    )
    metrics["model_path"] = str(model_path)
    metrics["protocol"] = (
        f"trained on {len(fit_on)} normals; tested on {len(held_out)} held-out normals + {len(faulty)} faulty"
    )
    return metrics


def batch_summary(results: Sequence[ImageResult], errors: Sequence[tuple[str, str]]) -> dict:
    """A short summary of a batch: counts, images per severity, the flagged images worst severity first
    (then score), errors."""
    from .summary import summarize

    return summarize(results, errors)


def category_stats(rows: Sequence[dict]) -> dict:
    stats = {}
    for cat in ("normal", "faulty"):
        vals = np.array([r["score"] for r in rows if r["category"] == cat])
        if len(vals):
            stats[cat] = {
                "n": int(len(vals)),
                "mean": float(vals.mean()),
                "std": float(vals.std()),
                "min": float(vals.min()),
                "max": float(vals.max()),
            }
    return stats


def category_table(rows: Sequence[dict]) -> str:
    lines = [f"{'category':<10}{'n':>5}{'mean':>10}{'std':>10}{'min':>10}{'max':>10}"]
    for cat, s in category_stats(rows).items():
        lines.append(
            f"{cat:<10}{s['n']:>5}{s['mean']:>10.4f}{s['std']:>10.4f}{s['min']:>10.4f}{s['max']:>10.4f}"
        )
    return "\n".join(lines) + "\n"


def _write_scores_csv(path: Path, rows: Sequence[dict]) -> None:
    buf = _stdio.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0].keys()))
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buf.getvalue())


def _strip_ext(name: str) -> str:
    p = Path(name)
    return (p.parent / p.name.split(".")[0]).as_posix() if p.name.split(".")[0] else name


def _metric_size(shape: tuple[int, int]) -> tuple[int, int]:
    h, w = shape
    scale = min(1.0, METRIC_MAX_SIDE / max(h, w))
    return max(1, round(h * scale)), max(1, round(w * scale))
