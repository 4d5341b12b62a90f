"""The HTTP side: the JSON API under /api/v1 and the web pages at /, over :class:`~.core.Service`.

Errors are always ``{"detail": "<one line>"}`` with a 4xx status for anything a client sent wrong (never a
5xx). Every route but ``/api/v1/health`` and the login page needs the token: ``Authorization: Bearer
<token>``, or the cookie the login page sets for a browser.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import ThermalAnomalyError
from . import reports
from .core import Service, ServiceError, Settings

log = logging.getLogger("thermal_anomaly.service")
HERE = Path(__file__).parent
COOKIE = "thermal_anomaly_token"
#: multipart overhead allowed on top of the file size limit
FORM_OVERHEAD = 64 * 1024


class AssetIn(BaseModel):
    name: str


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: a request body over the limit is answered 413 without reading the rest (by its
    Content-Length when given, else by counting what arrives)."""

    def __init__(self, app, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        detail = f"request too large: the limit is {self.limit - FORM_OVERHEAD} bytes per file"
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await _json(send, 413, detail)
        seen = 0
        state = {"over": False, "started": False}

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    state["over"] = True
                    raise _TooLarge()
            return message

        async def guarded_send(message):
            if state["over"]:
                return
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _TooLarge:
            pass
        except Exception:
            if not state["over"]:
                raise
        if state["over"] and not state["started"]:
            await _json(send, 413, detail)


async def _json(send, status: int, detail: str) -> None:
    import json

    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def create_app(settings: Settings, service: Service | None = None) -> FastAPI:
    svc = service or Service(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        svc.start()
        try:
            yield
        finally:
            svc.stop()

    app = FastAPI(
        title="thermal-anomaly",
        lifespan=lifespan,
        docs_url="/api/v1/docs",
        openapi_url="/api/v1/openapi.json",
    )
    app.state.service = svc
    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes + FORM_OVERHEAD)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.globals.update(
        severity_colour=reports.severity_colour, severity_class=reports.severity_class
    )
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    # ------------------------------------------------------------------------------------ errors
    def _wants_html(request: Request) -> bool:
        return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError):
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if exc.status == 401 and _wants_html(request):
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=headers)

    @app.exception_handler(ThermalAnomalyError)
    async def _data_error(request: Request, exc: ThermalAnomalyError):
        return JSONResponse({"detail": " ".join(str(exc).split())}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        parts = []
        for e in exc.errors():
            where = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body",))
            parts.append(f"{where}: {e.get('msg')}" if where else str(e.get("msg")))
        detail = "; ".join(parts) or "invalid request"
        if any(e.get("loc", ())[-1:] == ("file",) for e in exc.errors()):
            detail = "missing multipart field 'file' (the image)"
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 400 and "parsing the body" in detail:
            detail = "malformed request body (expected multipart/form-data with a 'file' field, or JSON)"
        return JSONResponse(
            {"detail": detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unexpected error on %s", request.url.path)
        return JSONResponse({"detail": f"internal error: {type(exc).__name__}"}, status_code=500)

    # -------------------------------------------------------------------------------------- auth
    def auth(request: Request) -> None:
        header = request.headers.get("authorization", "")
        token = None
        if header:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise ServiceError(401, "malformed Authorization header: use 'Bearer <token>'")
            token = value.strip()
        else:
            token = request.cookies.get(COOKIE)
        if not token:
            raise ServiceError(401, "missing token: send 'Authorization: Bearer <token>'")
        if not secrets.compare_digest(token.encode(), settings.token.encode()):
            raise ServiceError(401, "wrong token")

    Auth = Depends(auth)

    # ---------------------------------------------------------------------------------- JSON API
    @app.get("/api/v1/health")
    def health():
        return {"status": "ok", "schema_version": svc.schema_version}

    @app.post("/api/v1/assets", status_code=201, dependencies=[Auth])
    def create_asset(body: AssetIn):
        return svc.create_asset(body.name)

    @app.get("/api/v1/assets", dependencies=[Auth])
    def list_assets():
        return svc.list_assets()

    @app.get("/api/v1/assets/{name}", dependencies=[Auth])
    def get_asset(name: str):
        return svc.get_asset(name)

    @app.post("/api/v1/assets/{name}/baselines", status_code=201, dependencies=[Auth])
    def add_baseline(name: str, file: Annotated[UploadFile, File()]):
        svc.asset(name)  # 404 before reading the upload
        upload = svc.receive(file.file, file.filename)
        return svc.add_baseline(name, upload)

    @app.get("/api/v1/assets/{name}/baselines", dependencies=[Auth])
    def list_baselines(name: str):
        return svc.list_baselines(name)

    @app.get("/api/v1/baselines/{baseline_id}/image", dependencies=[Auth])
    def baseline_image(baseline_id: int):
        return FileResponse(svc.baseline_file(baseline_id))

    @app.post("/api/v1/assets/{name}/inspections", status_code=201, dependencies=[Auth])
    def add_inspection(name: str, file: Annotated[UploadFile, File()], wait: float | None = None):
        svc.asset(name)  # 404 before reading the upload
        upload = svc.receive(file.file, file.filename)
        return svc.inspect(name, upload, wait_s=None if wait is None else max(0.0, min(wait, 600.0)))

    @app.get("/api/v1/assets/{name}/inspections", dependencies=[Auth])
    def list_inspections(name: str):
        return svc.list_inspections(name)

    @app.get("/api/v1/assets/{name}/history", dependencies=[Auth])
    def history(name: str):
        return svc.history(name)

    @app.get("/api/v1/assets/{name}/history.png", dependencies=[Auth])
    def history_png(name: str):
        points = svc.list_inspections(name)
        return Response(
            reports.history_png(points, f"{name}: hottest ΔT per inspection"), media_type="image/png"
        )

    @app.get("/api/v1/inspections/{inspection_id}", dependencies=[Auth])
    def get_inspection(inspection_id: int):
        return svc.get_inspection(inspection_id)

    @app.get("/api/v1/inspections/{inspection_id}/annotated.png", dependencies=[Auth])
    def annotated(inspection_id: int):
        return FileResponse(svc.inspection_file(inspection_id, "annotated.png"), media_type="image/png")

    @app.get("/api/v1/inspections/{inspection_id}/panel.png", dependencies=[Auth])
    def panel(inspection_id: int):
        return FileResponse(svc.inspection_file(inspection_id, "panel.png"), media_type="image/png")

    @app.get("/api/v1/inspections/{inspection_id}/baseline.png", dependencies=[Auth])
    def baseline_png(inspection_id: int):
        return FileResponse(svc.inspection_file(inspection_id, "baseline.png"), media_type="image/png")

    @app.get("/api/v1/inspections/{inspection_id}/image", dependencies=[Auth])
    def original(inspection_id: int):
        return FileResponse(svc.inspection_file(inspection_id, "image"))

    def _report_html(inspection_id: int, embed: bool) -> str:
        data = svc.get_inspection(inspection_id)
        files = {}
        for kind in ("annotated.png", "panel.png", "baseline.png"):
            try:
                path = svc.inspection_file(inspection_id, kind)
            except ServiceError:
                files[kind] = ""
                continue
            files[kind] = reports.data_uri(path) if embed else f"/api/v1/inspections/{inspection_id}/{kind}"
        return templates.get_template("report.html").render(r=data, files=files, findings=_ordered(data))

    @app.get("/api/v1/inspections/{inspection_id}/report.html", dependencies=[Auth])
    def report_html(inspection_id: int):
        return HTMLResponse(_report_html(inspection_id, embed=True))

    @app.get("/api/v1/inspections/{inspection_id}/report.pdf", dependencies=[Auth])
    def report_pdf(inspection_id: int):
        html = _report_html(inspection_id, embed=True)
        try:
            pdf = reports.html_to_pdf(html)
        except (RuntimeError, OSError) as exc:
            raise ServiceError(501, str(exc)) from None
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="inspection-{inspection_id}.pdf"'},
        )

    @app.get("/api/v1/findings.csv", dependencies=[Auth])
    def findings_csv(asset: str | None = None):
        return PlainTextResponse(
            reports.findings_csv(svc.all_inspections(asset)),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="findings.csv"'},
        )

    # ------------------------------------------------------------------------------------- pages
    @app.get("/login", response_class=HTMLResponse)
    def login_page(request: Request, token: str | None = None, next: str = "/"):
        target = _local_path(next)
        if token is not None:
            if secrets.compare_digest(token.encode(), settings.token.encode()):
                return _with_cookie(RedirectResponse(target, status_code=303), token)
            return templates.TemplateResponse(
                request, "login.html", {"error": "wrong token", "next": target}, status_code=401
            )
        return templates.TemplateResponse(request, "login.html", {"error": None, "next": target})

    @app.post("/login")
    def login_post(request: Request, token: Annotated[str, Form()], next: Annotated[str, Form()] = "/"):
        target = _local_path(next)
        if secrets.compare_digest(token.encode(), settings.token.encode()):
            return _with_cookie(RedirectResponse(target, status_code=303), token)
        return templates.TemplateResponse(
            request, "login.html", {"error": "wrong token", "next": target}, status_code=401
        )

    @app.get("/", response_class=HTMLResponse, dependencies=[Auth])
    def index(request: Request):
        return templates.TemplateResponse(request, "index.html", {"assets": svc.list_assets()})

    @app.get("/assets/{name}", response_class=HTMLResponse, dependencies=[Auth])
    def asset_page(request: Request, name: str):
        info = svc.get_asset(name)
        return templates.TemplateResponse(
            request,
            "asset.html",
            {
                "asset": info,
                "baselines": svc.list_baselines(name),
                "inspections": list(reversed(svc.list_inspections(name))),
                "max_bytes": settings.max_upload_bytes,
            },
        )

    @app.get("/inspections/{inspection_id}", response_class=HTMLResponse, dependencies=[Auth])
    def inspection_page(request: Request, inspection_id: int):
        data = svc.get_inspection(inspection_id)
        return templates.TemplateResponse(request, "inspection.html", {"r": data, "findings": _ordered(data)})

    return app


def _ordered(data: dict) -> list[dict]:
    """The findings worst first (the JSON's order, made explicit)."""
    from ..thermal.severity import severity_rank

    return sorted(data.get("findings", []), key=lambda f: -severity_rank(f.get("severity")))


def _local_path(target: str) -> str:
    """``target`` when it is a path on this site, else ``/``: never ``//host`` or ``/\\host`` (which
    browsers follow to another site) nor anything with a scheme."""
    return target if target.startswith("/") and target[1:2] not in ("/", "\\") else "/"


def _with_cookie(response: Response, token: str) -> Response:
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", max_age=30 * 24 * 3600)
    return response
