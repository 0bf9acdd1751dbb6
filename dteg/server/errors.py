"""Errors as JSON: ``{"error": {"type", "message", "file", "line", "step", "hint"}}`` for
every 4xx and 5xx, whether a route raised ``ApiError``, a pipeline file did not compile
(``DtegError``, with its file:line), the request did not match the OpenAPI document, or a bug
of ours (500, one line, no traceback)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dteg.errors import DtegError, SpecErrors
from dteg.server.models import ErrorBody, ErrorResponse

__all__ = ["ApiError", "ErrorResponse", "error_body", "install", "not_found", "relative_to"]

log = logging.getLogger("dteg.server")


class ApiError(Exception):
    """An answer other than 2xx; ``body`` when the error says more than type and message
    (a pipeline file's problems with their lines)."""

    def __init__(self, status: int, type: str, message: str, hint: str | None = None,
                 body: ErrorBody | None = None) -> None:
        super().__init__(message)
        self.status, self.type, self.message, self.hint = status, type, message, hint
        self.body = body


def not_found(what: str, hint: str | None = None) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found", hint)


def error_body(err: DtegError, type: str = "invalid_pipeline") -> ErrorBody:
    """A ``DtegError`` with its place in the pipeline file."""
    problems = [error_body(e, type) for e in err.errors] if isinstance(err, SpecErrors) else []
    location = err.location
    return ErrorBody(type=type, message=err.render(), file=location.file if location else None,
                     line=location.line if location else None, step=err.step, hint=err.hint,
                     problems=problems)


def relative_to(body: ErrorBody, folder: Path) -> ErrorBody:
    """The error as the CLI prints it inside ``folder``: paths relative to it (the server's
    own layout is not the caller's business)."""
    prefix = f"{folder}/"

    def strip(text: str | None) -> str | None:
        return text.replace(prefix, "") if text else text

    return body.model_copy(update={
        "message": strip(body.message), "file": strip(body.file), "hint": strip(body.hint),
        "problems": [relative_to(p, folder) for p in body.problems]})


def _answer(status: int, body: ErrorBody, headers: dict[str, str] | None = None
            ) -> JSONResponse:
    return JSONResponse(ErrorResponse(error=body).model_dump(mode="json"), status_code=status,
                        headers=headers)


_HTTP_TYPES = {400: "invalid_request", 401: "unauthenticated", 403: "forbidden",
               404: "not_found", 405: "method_not_allowed", 409: "conflict",
               422: "invalid_request"}


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return _answer(exc.status, exc.body or ErrorBody(type=exc.type, message=exc.message,
                                                         hint=exc.hint))

    @app.exception_handler(DtegError)
    async def _dteg_error(request: Request, exc: DtegError) -> JSONResponse:
        body = error_body(exc)
        context = getattr(request.app.state, "dteg", None)
        if context is not None:
            body = relative_to(body, context.pipelines_dir)
        return _answer(422, body)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [ErrorBody(type="invalid_request", message=_describe(e))
                    for e in exc.errors()]
        message = "; ".join(p.message for p in problems) or "the request is not valid"
        return _answer(422, ErrorBody(type="invalid_request", message=message,
                                      hint="See /api/v1/openapi.json for what this route "
                                      "takes.", problems=problems))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = _HTTP_TYPES.get(exc.status_code, "error")
        return _answer(exc.status_code, ErrorBody(type=kind, message=str(exc.detail)),
                       headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed: %s: %s", request.method, request.url.path,
                  type(exc).__name__, exc)
        return _answer(500, ErrorBody(
            type="internal", message=f"the server failed: {type(exc).__name__}",
            hint="This is a bug in dteg; the server's log has the details."))


def _describe(error: dict[str, Any]) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    return f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg"))
