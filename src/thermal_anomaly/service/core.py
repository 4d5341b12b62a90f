"""What the service does, apart from HTTP: assets, baselines, background fits, inspections.

Every inspection is scored by :meth:`thermal_anomaly.pipeline.Inspector.predict` itself, on the uploaded
file, so its JSON and pictures are exactly what ``thermal-anomaly predict --group ASSET`` writes with the
same model file; only ``"image"`` is changed to the uploaded file's (sanitised) name instead of a path on
the server.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..thermal.severity import severity_rank
from .db import Asset, Baseline, Inspection, Model, make_engine, migrate, session_factory, utcnow
from .storage import Storage, StoredUpload, UploadError

log = logging.getLogger("thermal_anomaly.service")

ASSET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.\-]{0,99}$")
#: the folder predict reads an upload from: '@' is never in an asset name, so it never names a group
INPUT_FOLDER = "@upload"
#: the largest id a database holds (64-bit): a larger one in a URL names nothing, and never reaches the driver
MAX_ID = 2**63 - 1


@dataclass
class Settings:
    data_dir: Path
    database_url: str | None = None
    token: str | None = None
    max_upload_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 50_000_000
    #: how long an inspection waits for its asset's model to finish fitting before a fallback scores it
    fit_wait_s: float = 60.0
    model: str = "patchcore"
    #: the fleet's normals in a fit: the newest baselines of each other asset, at most this many each ...
    fleet_per_asset: int = 4
    #: ... and at most this many in all
    fleet_max: int = 24
    #: inspections scored at once (the library is not promised to be thread-safe; torch uses the cores)
    concurrency: int = 1
    #: start the background fitter (tests may fit by hand)
    background: bool = True
    #: an inspection is compared (registered, then in °C) with the asset's newest baselines, at most this
    #: many (0: none); each costs a registration, ~0.2-0.7 s on 2 cores
    baselines_compared: int = 6
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'service.db').resolve()}"
        if not self.token:
            self.token = os.environ.get("THERMAL_ANOMALY_TOKEN") or secrets.token_urlsafe(24)


class ServiceError(Exception):
    """A request the service refuses: HTTP ``status`` and a one-line ``detail``."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def worst_severity(result: dict) -> str:
    """The worst severity anywhere in an image's JSON (its regions, hot spots and findings)."""
    candidates = [result.get("severity"), result.get("hotspot_severity")]
    candidates += [f.get("severity") for f in result.get("findings", [])]
    candidates = [c for c in candidates if c]
    return max(candidates, key=severity_rank) if candidates else "none"


def hottest_delta_t(result: dict) -> float | None:
    values = [h.get("delta_t") for h in result.get("hotspots", [])]
    values += [f.get("delta_t") for f in result.get("findings", [])]
    values = [float(v) for v in values if isinstance(v, int | float)]
    return max(values) if values else None


class Service:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.storage = Storage(settings.data_dir)
        self.storage.prepare()
        self.engine = make_engine(settings.database_url)
        self.schema_version = migrate(self.engine)
        self.Session = session_factory(self.engine)
        self._changed = threading.Condition()
        self._queue: list[int] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._models: OrderedDict[int, object] = OrderedDict()
        self._models_lock = threading.Lock()
        #: baselines read for comparison, by id (decoded pictures: kept few, a large one is ~0.2 GB)
        self._references: OrderedDict[int, object] = OrderedDict()
        self._references_lock = threading.Lock()
        self._score_slots = threading.BoundedSemaphore(max(1, settings.concurrency))
        self._recover()

    # --------------------------------------------------------------------------------- life cycle
    def _recover(self) -> None:
        """After a crash: fits that were running are queued again; inspection folders whose row never
        committed (no 201 was sent for them) are removed."""
        with self.Session() as s:
            for m in s.scalars(select(Model).where(Model.status == "fitting")):
                if m.asset_id not in self._queue:
                    self._queue.append(m.asset_id)
            known = set(s.scalars(select(Inspection.folder)))
        root = self.storage.abs("inspections")
        for d in root.iterdir() if root.exists() else []:
            if self.storage.rel(d) not in known:
                shutil.rmtree(d, ignore_errors=True)

    def start(self) -> None:
        if self.settings.background and self._thread is None:
            self._thread = threading.Thread(target=self._fit_loop, name="fitter", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._changed:
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None
        self.engine.dispose()

    # ------------------------------------------------------------------------------------- assets
    def create_asset(self, name: str) -> dict:
        name = (name or "").strip()
        if not ASSET_NAME.match(name):
            raise ServiceError(
                422,
                "asset name: 1-100 letters, digits, spaces, '_', '.' or '-', starting with a letter or digit",
            )
        exists = ServiceError(409, f"asset '{name}' exists already")
        try:
            with self.Session.begin() as s:
                if s.scalar(select(Asset).where(Asset.name == name)) is not None:
                    raise exists
                s.add(Asset(name=name))
        except IntegrityError:  # another request created it between the check and the commit
            raise exists from None
        return self.asset_info(self.asset(name))

    def asset(self, name: str) -> Asset:
        """The asset's row; 404 when there is none."""
        with self.Session() as s:
            asset = s.scalar(select(Asset).where(Asset.name == name))
        if asset is None:
            raise ServiceError(404, f"unknown asset '{name}'")
        return asset

    def asset_by_id(self, asset_id: int) -> Asset:
        with self.Session() as s:
            return s.get(Asset, asset_id)

    def model_info(self, asset_id: int) -> dict:
        with self.Session() as s:
            latest = _latest_model(s, asset_id)
            ready = _latest_model(s, asset_id, "ready")
        if latest is None:
            return {"status": "none", "reason": "no baselines yet", "id": None}
        info = {
            "status": latest.status,
            "reason": latest.reason,
            "id": latest.id,
            "n_baselines": latest.n_baselines,
            "n_fleet": latest.n_fleet,
            "started": _iso(latest.created),
            "finished": _iso(latest.finished),
        }
        if ready is not None and ready.id != latest.id:
            info["previous_ready_id"] = ready.id
        return info

    def asset_info(self, asset: Asset, *, with_worst: bool = True) -> dict:
        with self.Session() as s:
            n_base = s.scalar(select(func.count(Baseline.id)).where(Baseline.asset_id == asset.id))
            n_insp = s.scalar(select(func.count(Inspection.id)).where(Inspection.asset_id == asset.id))
            last = s.scalars(
                select(Inspection)
                .where(Inspection.asset_id == asset.id)
                .order_by(Inspection.created.desc(), Inspection.id.desc())
                .limit(1)
            ).first()
        model = self.model_info(asset.id)
        out = {
            "id": asset.id,
            "name": asset.name,
            "created": _iso(asset.created),
            "n_baselines": n_base,
            "n_inspections": n_insp,
            "model": model,
            "ready": model["status"] == "ready",
        }
        if with_worst:
            out["worst_open_finding"] = _worst_open(last)
        return out

    def list_assets(self) -> list[dict]:
        with self.Session() as s:
            assets = list(s.scalars(select(Asset).order_by(Asset.name)))
        return [self.asset_info(a) for a in assets]

    def get_asset(self, name: str) -> dict:
        return self.asset_info(self.asset(name))

    # ---------------------------------------------------------------------------------- baselines
    def receive(self, fileobj, filename: str | None) -> StoredUpload:
        try:
            return self.storage.receive(
                fileobj,
                filename,
                max_bytes=self.settings.max_upload_bytes,
                max_pixels=self.settings.max_pixels,
            )
        except UploadError as exc:
            raise ServiceError(exc.status, exc.detail) from None

    def add_baseline(self, name: str, upload: StoredUpload) -> dict:
        asset = self.asset(name)
        key = uuid.uuid4().hex
        rel = f"assets/{asset.id}/baselines/{key}{upload.path.suffix}"
        self.storage.place(upload.path, rel)
        shutil.rmtree(upload.path.parent, ignore_errors=True)
        with self.Session.begin() as s:
            b = Baseline(
                asset_id=asset.id,
                filename=upload.filename,
                path=rel,
                width=upload.width,
                height=upload.height,
            )
            s.add(b)
            s.flush()
            out = _baseline_json(b, asset.name)
            self._mark_fitting(s, asset.id)
        self._enqueue(asset.id)
        return out

    def list_baselines(self, name: str) -> list[dict]:
        asset = self.asset(name)
        with self.Session() as s:
            rows = s.scalars(select(Baseline).where(Baseline.asset_id == asset.id).order_by(Baseline.id))
            return [_baseline_json(b, asset.name) for b in rows]

    def baseline_file(self, baseline_id: int) -> Path:
        with self.Session() as s:
            b = s.get(Baseline, baseline_id) if 0 < baseline_id <= MAX_ID else None
        if b is None:
            raise ServiceError(404, f"unknown baseline {baseline_id}")
        return self.storage.abs(b.path)

    # ---------------------------------------------------------------------------------------- fits
    def _mark_fitting(self, s, asset_id: int) -> None:
        latest = _latest_model(s, asset_id)
        if latest is None or latest.status != "fitting":
            s.add(Model(asset_id=asset_id, status="fitting"))

    def _enqueue(self, asset_id: int) -> None:
        with self._changed:
            if asset_id not in self._queue:
                self._queue.append(asset_id)
            self._changed.notify_all()

    def _fit_loop(self) -> None:
        while not self._stop.is_set():
            with self._changed:
                while not self._queue and not self._stop.is_set():
                    self._changed.wait(timeout=1.0)
                if self._stop.is_set():
                    return
                asset_id = self._queue.pop(0)
            self.fit_asset(asset_id)

    def run_pending_fits(self) -> None:
        """Fit every queued asset in this thread (when the background fitter is off)."""
        while self._queue:
            with self._changed:
                asset_id = self._queue.pop(0)
            self.fit_asset(asset_id)

    def fit_asset(self, asset_id: int) -> None:
        """Fit the asset's model on its baselines plus the fleet's (other assets' newest baselines);
        the model row goes from fitting to ready or failed (with the reason)."""
        with self.Session() as s:
            model = _latest_model(s, asset_id, "fitting")
            if model is None:
                return
            asset = s.get(Asset, asset_id)
            own = list(s.scalars(select(Baseline).where(Baseline.asset_id == asset_id).order_by(Baseline.id)))
            fleet: list[tuple[Baseline, str]] = []
            for other in s.scalars(select(Asset).where(Asset.id != asset_id).order_by(Asset.id)):
                newest = s.scalars(
                    select(Baseline)
                    .where(Baseline.asset_id == other.id)
                    .order_by(Baseline.id.desc())
                    .limit(self.settings.fleet_per_asset)
                )
                fleet += [(b, other.name) for b in newest]
            fleet = fleet[: self.settings.fleet_max]
            model_id, name = model.id, asset.name
        last_id = max((b.id for b in own), default=0)
        status, reason, rel = "failed", None, None
        t0 = time.perf_counter()
        try:
            if not own:
                raise ServiceError(409, "no baselines")
            rel = self._fit(asset_id, model_id, [(b, name) for b in own] + fleet)
            status = "ready"
        except Exception as exc:  # a failed fit is a state with its reason, never a dead worker
            reason = " ".join(str(exc).split()) or type(exc).__name__
            log.warning("fit of asset %s failed: %s", name, reason)
        with self.Session.begin() as s:
            m = s.get(Model, model_id)
            m.status, m.reason, m.path = status, reason, rel
            m.n_baselines, m.n_fleet, m.last_baseline_id = len(own), len(fleet), last_id
            m.finished = utcnow()
            newer = s.scalar(select(func.max(Baseline.id)).where(Baseline.asset_id == asset_id))
            again = newer is not None and newer > last_id
            if again:
                s.add(Model(asset_id=asset_id, status="fitting"))
        log.info("asset %s: model %d %s in %.1f s", name, model_id, status, time.perf_counter() - t0)
        with self._changed:
            if again and asset_id not in self._queue:
                self._queue.append(asset_id)
            self._changed.notify_all()

    def _fit(self, asset_id: int, model_id: int, images: list[tuple[Baseline, str]]) -> str:
        from .. import create_detector
        from ..pipeline import detector_config
        from ..thermal.analysis import ThermalAnalysis

        analyses = [ThermalAnalysis.from_file(self.storage.abs(b.path)) for b, _ in images]
        groups = [g for _, g in images]
        det = create_detector(self.settings.model, **detector_config(self.settings.model))
        det.fit(analyses, groups=groups, progress=False)
        work = self.storage.work_dir()
        det.save(work / f"{self.settings.model}.pth")
        rel = f"assets/{asset_id}/models/{model_id}"
        self.storage.place(work, rel)
        return f"{rel}/{self.settings.model}.pth"

    def _inspector(self, model: Model):
        from ..pipeline import Inspector

        with self._models_lock:
            if model.id in self._models:
                self._models.move_to_end(model.id)
                return self._models[model.id]
        inspector = Inspector.load(self.storage.abs(model.path))
        with self._models_lock:
            self._models[model.id] = inspector
            while len(self._models) > 4:
                self._models.popitem(last=False)
        return inspector

    def _asset_references(self, asset_id: int) -> list:
        """The asset's newest baselines (at most ``baselines_compared``), each read once and kept while
        in use: what its inspections are compared with. One that cannot be read is left out (logged); the
        inspection is scored all the same."""
        from ..baseline.reference import Reference
        from ..errors import ThermalAnomalyError

        n = self.settings.baselines_compared
        if n <= 0:
            return []
        with self.Session() as s:
            query = select(Baseline).where(Baseline.asset_id == asset_id).order_by(Baseline.id.desc())
            rows = [(b.id, b.path, b.filename) for b in s.scalars(query.limit(n))]
        refs = []
        for bid, rel, filename in reversed(rows):  # oldest first
            with self._references_lock:
                ref = self._references.get(bid)
                if ref is not None:
                    self._references.move_to_end(bid)
            if ref is None:
                try:
                    ref = Reference.read(self.storage.abs(rel), name=filename)
                except ThermalAnomalyError as exc:
                    log.warning("baseline %s left out of comparisons: %s", bid, exc)
                    continue
                with self._references_lock:
                    self._references[bid] = ref
                    while len(self._references) > 2 * n:
                        self._references.popitem(last=False)
            refs.append(ref)
        return refs

    def choose_model(self, asset: Asset, wait_s: float | None = None) -> tuple[Model, str | None]:
        """The model that scores the asset's next inspection, and a note when it is not the asset's own
        current one. Waits up to ``wait_s`` for a fit in progress."""
        wait_s = self.settings.fit_wait_s if wait_s is None else wait_s
        deadline = time.monotonic() + wait_s
        while True:
            with self.Session() as s:
                latest = _latest_model(s, asset.id)
            if latest is None:
                raise ServiceError(
                    409,
                    f"asset '{asset.name}' has no baselines yet: POST normal images to its baselines first",
                )
            if latest.status == "ready":
                return latest, None
            left = deadline - time.monotonic()
            if latest.status != "fitting" or left <= 0:
                break
            with self._changed:
                self._changed.wait(timeout=min(left, 1.0))
        why = (
            f"its model failed to fit ({latest.reason})"
            if latest.status == "failed"
            else f"its model was still fitting after {wait_s:g} s"
        )
        with self.Session() as s:
            previous = _latest_model(s, asset.id, "ready")
            if previous is not None:
                return previous, (
                    f"scored by this asset's previous model (#{previous.id}, {previous.n_baselines} "
                    f"baselines) because {why}"
                )
            fleet = s.scalars(
                select(Model).where(Model.status == "ready").order_by(Model.id.desc()).limit(1)
            ).first()
            if fleet is not None:
                owner = s.get(Asset, fleet.asset_id)
                return fleet, (
                    f"scored by the fleet model (#{fleet.id}, fitted for asset '{owner.name}' with "
                    f"{fleet.n_baselines + fleet.n_fleet} normals of the fleet) because {why}; "
                    "its scores use the fleet's pooled scale, not this asset's"
                )
        if latest.status == "failed":
            raise ServiceError(409, f"asset '{asset.name}': {why}, and no other model is ready")
        raise ServiceError(
            409, f"asset '{asset.name}': {why}, and no other model is ready yet; try again shortly"
        )

    # -------------------------------------------------------------------------------- inspections
    def inspect(self, name: str, upload: StoredUpload, wait_s: float | None = None) -> dict:
        asset = self.asset(name)
        try:
            model, note = self.choose_model(asset, wait_s)
            work = upload.path.parent
            src = work / INPUT_FOLDER / upload.filename
            src.parent.mkdir()
            os.replace(upload.path, src)
            out = work / "out"
            with self._score_slots:
                inspector = self._inspector(model)
                try:
                    report = inspector.predict(
                        [src.parent],
                        out,
                        group=asset.name,
                        progress=False,
                        baselines=self._asset_references(asset.id),
                    )
                except Exception as exc:  # an image the analysis cannot handle: the client's file, not a 5xx
                    log.exception("inspection of %s failed", upload.filename)
                    reason = " ".join(str(exc).split())[:200] or type(exc).__name__
                    raise ServiceError(
                        422, f"cannot analyse this image ({type(exc).__name__}: {reason})"
                    ) from None
            if report.errors:
                raise ServiceError(400, f"cannot read the image: {report.errors[0][1].split(': ', 1)[-1]}")
            result = json.loads((out / f"{upload.filename}.json").read_text())
            result["image"] = upload.filename
            os.replace(src, out / upload.filename)
            key = f"{utcnow():%Y%m%d}-{uuid.uuid4().hex}"
            folder = self.storage.place(out, f"inspections/{key}")
        finally:
            shutil.rmtree(upload.path.parent, ignore_errors=True)
        worst = worst_severity(result)
        try:
            with self.Session.begin() as s:
                row = Inspection(
                    asset_id=asset.id,
                    model_id=model.id,
                    filename=upload.filename,
                    folder=folder,
                    result=result,
                    note=note,
                    severity=worst,
                    severity_rank=severity_rank(worst),
                    hottest_delta_t=hottest_delta_t(result),
                    score=float(result["score"]),
                    is_anomalous=bool(result["is_anomalous"]),
                    n_findings=len(result.get("findings", [])),
                )
                s.add(row)
                s.flush()
                return self.inspection_json(row, asset.name)
        except Exception:
            shutil.rmtree(self.storage.abs(folder), ignore_errors=True)
            raise

    def inspection_json(self, row: Inspection, asset_name: str) -> dict:
        return {
            "id": row.id,
            **row.result,
            "asset": asset_name,
            "created": _iso(row.created),
            "model_id": row.model_id,
            "note": row.note,
            "worst_severity": row.severity,
            "hottest_delta_t": row.hottest_delta_t,
        }

    def _inspection(self, inspection_id: int) -> tuple[Inspection, str]:
        with self.Session() as s:
            row = s.get(Inspection, inspection_id) if 0 < inspection_id <= MAX_ID else None
            if row is None:
                raise ServiceError(404, f"unknown inspection {inspection_id}")
            return row, s.get(Asset, row.asset_id).name

    def get_inspection(self, inspection_id: int) -> dict:
        row, name = self._inspection(inspection_id)
        return self.inspection_json(row, name)

    def inspection_file(self, inspection_id: int, kind: str) -> Path:
        row, _ = self._inspection(inspection_id)
        folder = self.storage.abs(row.folder)
        name = {
            "annotated.png": f"{row.filename}.annotated.png",
            "panel.png": f"{row.filename}.panel.png",
            "baseline.png": f"{row.filename}.baseline.png",
        }.get(kind, row.filename)
        path = folder / name
        if not path.is_file():
            raise ServiceError(404, f"inspection {inspection_id} has no {kind}")
        return path

    def list_inspections(self, name: str) -> list[dict]:
        asset = self.asset(name)
        with self.Session() as s:
            rows = s.scalars(
                select(Inspection)
                .where(Inspection.asset_id == asset.id)
                .order_by(Inspection.created, Inspection.id)
            )
            return [_inspection_summary(r) for r in rows]

    def history(self, name: str) -> dict:
        return {"asset": name, "inspections": self.list_inspections(name)}

    def all_inspections(self, asset: str | None = None) -> list[tuple[Inspection, str]]:
        """Every inspection (of one asset, when named: 404 for an unknown one) with its asset's name."""
        query = select(Inspection).order_by(Inspection.created, Inspection.id)
        if asset is not None:
            query = query.where(Inspection.asset_id == self.asset(asset).id)
        with self.Session() as s:
            names = {a.id: a.name for a in s.scalars(select(Asset))}
            return [(r, names[r.asset_id]) for r in s.scalars(query)]


def _latest_model(s, asset_id: int, status: str | None = None) -> Model | None:
    """The asset's newest model row (of that status, when given), or None."""
    query = select(Model).where(Model.asset_id == asset_id)
    if status is not None:
        query = query.where(Model.status == status)
    return s.scalars(query.order_by(Model.id.desc()).limit(1)).first()


def _iso(t) -> str | None:
    return None if t is None else t.isoformat(timespec="seconds") + "Z"


def _baseline_json(b: Baseline, asset_name: str) -> dict:
    return {
        "id": b.id,
        "asset": asset_name,
        "filename": b.filename,
        "width": b.width,
        "height": b.height,
        "created": _iso(b.created),
    }


def _inspection_summary(r: Inspection) -> dict:
    return {
        "id": r.id,
        "created": _iso(r.created),
        "image": r.filename,
        "severity": r.severity,
        "hottest_delta_t": r.hottest_delta_t,
        "unit": (r.result.get("temperature") or {}).get("unit"),
        "score": r.score,
        "is_anomalous": r.is_anomalous,
        "n_findings": r.n_findings,
        "note": r.note,
    }


def _worst_open(last: Inspection | None) -> dict | None:
    """The worst finding of the asset's latest inspection (a newer inspection supersedes older ones)."""
    if last is None or not last.result.get("findings"):
        return None
    f = max(last.result["findings"], key=lambda f: severity_rank(f.get("severity")))
    return {
        "inspection_id": last.id,
        "created": _iso(last.created),
        "id": f.get("id"),
        "kind": f.get("kind"),
        "severity": f.get("severity"),
        "delta_t": f.get("delta_t"),
        "unit": f.get("unit"),
        "fault_type": f.get("fault_type"),
    }
