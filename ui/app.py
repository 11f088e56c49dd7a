"""One web server: REST API under ``/api``, document viewer, and the Gradio chat at ``/``.

Build it with :func:`create_app` around an engine; ``hoidap serve`` runs it with uvicorn.
No response ever carries a stack trace: library errors become JSON with a message,
anything else a generic 500 (logged on the server).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from fastapi import FastAPI, File, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from hoidap import __version__
from hoidap.errors import (
    DocumentNotFoundError,
    HoidapError,
    IndexStateError,
    InputError,
    LoadError,
    ModelError,
)
from qa.conversation import MAX_TURN_CHARS, MAX_TURNS
from qa.engine import QAEngine
from qa.types import Filters, make_filters
from ui.jobs import IndexJobs
from ui.render import VIEWER_CSP, viewer_page
from ui.security import Guard
from ui.uploads import Incoming, UploadTooLargeError, UploadTypeError, intake

log = logging.getLogger("hoidap.web")


class _Filtered(BaseModel):
    """Filter fields shared by ask and search."""

    model_config = ConfigDict(extra="forbid")

    k: int = Field(5, description="number of passages returned")
    doc_ids: list[str] | None = Field(None, description="only these documents")
    date_from: str | None = Field(None, description="YYYY-MM-DD, inclusive")
    date_to: str | None = Field(None, description="YYYY-MM-DD, inclusive")
    include_undated: bool = Field(
        False, description="with a date range: also search documents with no known date "
                           "(otherwise the reply counts them in undated_excluded)")
    question: str = Field(validation_alias=AliasChoices("question", "query"),
                          description="the question or search words, in Vietnamese "
                                      "(``query`` is accepted as an alias for one release)")

    def filters(self) -> Filters | None:
        """The engine filters, or None when none is set."""
        return make_filters(self.doc_ids, self.date_from, self.date_to, self.include_undated)


QUESTION_EXAMPLE = ("Tổng thu ngân sách Nhà nước trên địa bàn huyện Cao Lộc năm 2020 ước đạt "
                    "bao nhiêu?")


class HistoryTurn(BaseModel):
    """One earlier turn of the conversation."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(description="the earlier question")
    answer: str = Field("", description="the answer hoidap gave (its text; empty if none)")
    doc_id: str | None = Field(None, description="the document that answer cited, if known "
                                                 "(else found from the question and answer)")


class AskRequest(_Filtered):
    """Body of ``POST /api/ask`` (the same options as ``hoidap ask``)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"question": QUESTION_EXAMPLE, "k": 5},
        {"question": "Thu ngân sách năm 2021 đạt bao nhiêu?", "date_from": "2021-01-01",
         "date_to": "2021-12-31", "include_undated": True}]})

    history: list[HistoryTurn] | None = Field(
        None, max_length=MAX_TURNS,
        description=f"earlier turns, oldest first (at most {MAX_TURNS}, each at most "
                    f"{MAX_TURN_CHARS} characters of question + answer); a follow-up such as "
                    "\"Còn năm 2021 thì sao?\" is resolved against them")

    def turns(self) -> list[dict] | None:
        """The history as the engine takes it."""
        return None if self.history is None else [t.model_dump() for t in self.history]


class SearchRequest(_Filtered):
    """Body of ``POST /api/search``."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"question": "thu ngân sách Cao Lộc", "k": 5, "mode": "hybrid"}]})

    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"


def status_for(exc: HoidapError) -> int:
    """HTTP status of a library error."""
    if isinstance(exc, DocumentNotFoundError):
        return 404
    if isinstance(exc, UploadTooLargeError):
        return 413
    if isinstance(exc, UploadTypeError):
        return 415
    if isinstance(exc, (InputError, LoadError)):
        return 422
    if isinstance(exc, (IndexStateError, ModelError)):
        return 503
    return 500


def _error(status: int, kind: str, message: str,
           headers: dict[str, str] | None = None) -> JSONResponse:
    message = message.encode("utf-8", "replace").decode("utf-8")  # lone surrogates -> "?"
    return JSONResponse({"error": kind, "message": message}, status_code=status,
                        headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(x) for x in err.get("loc", ()) if x not in ("body", "query"))
        parts.append(f"{where or 'request'}: {err.get('msg', 'invalid value')}")
    return "; ".join(parts) or "invalid request"


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HoidapError)
    async def on_hoidap(request: Request, exc: HoidapError) -> JSONResponse:
        status = status_for(exc)
        if status >= 500:
            log.error("%s on %s: %s", type(exc).__name__, request.url.path, exc)
        return _error(status, type(exc).__name__, str(exc))

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, "ValidationError", _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {404: "NotFound", 405: "MethodNotAllowed", 413: "RequestTooLarge"}.get(
            exc.status_code, "BadRequest" if exc.status_code < 500 else "InternalError")
        return _error(exc.status_code, kind, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return _error(500, "InternalError", "internal server error (details are in the log)")


def _doc_meta(doc) -> dict:
    return {"doc_id": doc.doc_id, "title": doc.title, "date": doc.date,
            "date_source": doc.date_source, "published": doc.published, "source": doc.source,
            "content_hash": doc.content_hash, "chars": len(doc.text)}


def _install_api(app: FastAPI, engine: QAEngine) -> None:
    @app.post("/api/ask", tags=["api"], summary="Answer a question with cited spans")
    def ask(body: AskRequest) -> dict:
        return engine.ask(body.question, k=body.k, filters=body.filters(),
                          history=body.turns()).to_dict()

    @app.post("/api/search", tags=["api"], summary="Ranked passages for a question")
    def search(body: SearchRequest) -> dict:
        filters = body.filters()
        passages = engine.search(body.question, k=body.k, filters=filters, mode=body.mode)
        return {"question": body.question, "query": body.question,  # "query": deprecated
                "passages": [p.to_dict() for p in passages],
                "undated_excluded": engine.undated_excluded(filters)}

    @app.get("/api/documents", tags=["api"], summary="Indexed documents (metadata only)")
    def documents() -> list[dict]:
        return [_doc_meta(d) for d in engine.documents()]

    @app.get("/api/documents/{doc_id}", tags=["api"], summary="One document's cleaned text")
    def document(doc_id: str) -> dict:
        doc = engine.document(doc_id)
        return {**_doc_meta(doc), "text": doc.text}

    @app.post("/api/documents", tags=["api"], summary="Upload files and index them")
    def upload(files: list[UploadFile] = File(description="files to index")) -> dict:  # noqa: B008
        return add_uploads(engine, files, app.state.uploads_dir, app.state.jobs)

    @app.get("/api/health", tags=["api"], summary="Is the index loaded?")
    def health() -> dict:
        documents, chunks = engine.counts()
        return {"status": "ok", "version": __version__, "engine": engine.config.engine,
                "index": engine.location(), "documents": documents, "chunks": chunks}


def _install_viewer(app: FastAPI, engine: QAEngine) -> None:
    @app.get("/viewer/{doc_id}", response_class=HTMLResponse, include_in_schema=False)
    def viewer(doc_id: str, start: int | None = Query(None, ge=0),
               end: int | None = Query(None, ge=0)) -> HTMLResponse:
        doc = engine.document(doc_id)
        if start is not None and end is not None and not start <= end <= len(doc.text):
            raise InputError(f"span {start}-{end} is outside document {doc_id!r} "
                             f"(0-{len(doc.text)}); use offsets from a citation")
        headers = {"Content-Security-Policy": VIEWER_CSP, "X-Content-Type-Options": "nosniff"}
        return HTMLResponse(viewer_page(doc, start, end), headers=headers)


class UploadFailedError(InputError):
    """No uploaded file could be indexed (HTTP 422; nothing is kept)."""


def add_uploads(engine: QAEngine, files: list[UploadFile], folder: Path,
                jobs: IndexJobs) -> dict:
    """Check every file (type, size), save them under safe names, index them with the
    chat's background job queue and wait for it (``ui.uploads.intake``, ``ui.jobs``). Files
    that cannot be indexed leave nothing behind; when none can, the request fails."""
    incoming = [Incoming.from_stream(f.filename, f.size, f.file) for f in files]
    saved, _ = intake(engine, incoming, folder, strict=True)
    report, kept = jobs.submit(saved).result()
    if not kept:
        reasons = "; ".join(f"{Path(p).name}: {r}" for p, r in report.failed)
        raise UploadFailedError(f"no file could be indexed ({reasons}); nothing was kept")
    return {"saved": [p.name for p in kept], **report.to_dict()}


def uploads_dir_for(engine: QAEngine) -> Path:
    """Where uploaded files are kept: ``uploads/`` next to the index folder."""
    return engine.index_dir.parent / "uploads"


DOCS_ASSETS = "/docs-assets"


def _install_docs(app: FastAPI) -> None:
    """Swagger UI 5 (reads OpenAPI 3.1) at ``/docs``, served from the ``fastapi-swagger``
    package's files, never from a CDN."""
    from importlib.resources import files

    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.staticfiles import StaticFiles

    assets = Path(str(files("fastapi_swagger") / "resources"))
    app.mount(DOCS_ASSETS, StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title="hoidap API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png")


def create_app(engine: QAEngine, *, uploads_dir: Path | None = None,
               with_ui: bool = True) -> FastAPI:
    """The FastAPI app (API, viewer, OpenAPI docs at ``/docs``) with the chat at ``/``."""
    app = FastAPI(title="hoidap", version=__version__, docs_url=None, redoc_url=None,
                  description="Hỏi đáp: câu trả lời trích nguyên văn từ tài liệu, có trích dẫn.")
    _install_docs(app)
    app.state.engine = engine
    app.state.uploads_dir = uploads_dir or uploads_dir_for(engine)
    app.state.jobs = IndexJobs(engine)  # uploads from the API and the chat, one at a time
    limits = engine.config.limits
    app.add_middleware(Guard, limits=limits)
    _install_error_handlers(app)
    _install_api(app, engine)
    _install_viewer(app, engine)
    if with_ui:
        import gradio as gr

        from ui.chat import CSS, build_chat, page_head, theme

        blocks = build_chat(engine, app.state.uploads_dir, app.state.jobs)
        max_file = f"{limits.max_upload_mb:g}mb" if limits.max_upload_mb else None
        app = gr.mount_gradio_app(app, blocks, path="/", footer_links=[],
                                  run_history=False, max_file_size=max_file, css=CSS,
                                  theme=theme(), show_error=True, head=page_head())
    return app
