"""The `web` activity: one HTTP call to a connection of type `http`; the response is the output.

Headers come from the connection, then the activity; a value may be a `secret:NAME` reference, looked up when
the call is made and masked in logs and outputs. A status outside `expected_status` (default: any 2xx) fails
the activity with the status and the start of the body; 5xx, 429 and network failures are marked transient,
so the activity's `retry` applies to them and not to, say, a 404.
"""

from __future__ import annotations

import http.client
import json
import logging
import urllib.error
import urllib.request
from email.message import Message
from typing import Any

from lockgate.engine.secrets import SecretValues
from lockgate.errors import EngineError, SourceLocation
from lockgate.model.activities import WebActivity
from lockgate.model.project import HttpConnection
from lockgate.services.activities.context import ActivityContext

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
"""Bytes of a response body kept in the output; `bodyTruncated` says when there were more."""
_ERROR_BODY_CHARS = 300


class WebRequestError(EngineError):
    """An HTTP call failed or answered with an unexpected status; ``transient`` when a retry may succeed."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        location: SourceLocation | None = None,
        transient: bool = False,
        status: int | None = None,
    ):
        super().__init__(message, hint=hint, location=location, transient=transient)
        self.status = status


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Hands 3xx responses back as they are, for calls that expect one."""

    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


def run_web_activity(activity: WebActivity, context: ActivityContext) -> dict[str, Any]:
    connection = _http_connection(activity, context)
    url = _url(str(context.render(connection.base_url, "connection")), str(context.render(activity.path, "path")))
    headers = _headers(activity, connection, context)
    data = _body(activity, context, headers)
    expected = activity.expected_status
    try:
        request = urllib.request.Request(url, data=data, headers=headers, method=activity.method)
    except ValueError as exc:
        raise context.field_error(f"not a valid URL: {url!r} ({exc})", "path") from exc
    logger.debug("web activity %s: %s %s", context.activity_name, activity.method, url)
    status, response_headers, raw, truncated = _send(request, connection.timeout, follow=not _any_redirect(expected))
    body = _decoded(raw, response_headers, truncated=truncated)
    if not (status in expected if expected else 200 <= status < 300):
        raise _status_error(activity.method, url, status, raw, expected)
    return {
        "statusCode": status,
        "headers": dict(response_headers.items()),
        "body": body,
        "bodyTruncated": truncated,
    }


def _http_connection(activity: WebActivity, context: ActivityContext) -> HttpConnection:
    name = str(context.render(activity.connection, "connection"))
    connection = context.connection(name, "connection")
    if not isinstance(connection, HttpConnection):
        raise context.field_error(
            f"connection {name!r} is of type {connection.type!r}, but a web activity needs a connection of type 'http'",
            "connection",
            hint="declare one in lockgate.yaml: `connections: {api: {type: http, base_url: https://...}}`",
        )
    return connection


def _url(base: str, path: str) -> str:
    path = path.strip()
    if not path:
        return base
    if path.startswith(("?", "#")):
        return base + path
    return base.rstrip("/") + "/" + path.lstrip("/")


def _headers(activity: WebActivity, connection: HttpConnection, context: ActivityContext) -> dict[str, str]:
    """The connection's headers, then the activity's, with expressions rendered and secrets looked up."""
    rendered = {name: str(context.render(value, "connection")) for name, value in connection.headers.items()}
    for name, value in activity.headers.items():
        rendered = {key: item for key, item in rendered.items() if key.lower() != name.lower()}
        rendered[name] = str(context.render(value, "headers", name))
    resolved = SecretValues(rendered, context.secrets, context.environment.secret_scope)
    return {name: str(resolved[name]) for name in resolved}


def _body(activity: WebActivity, context: ActivityContext, headers: dict[str, str]) -> bytes | None:
    """The request body: a string as it is, anything else as JSON (setting Content-Type unless given)."""
    if activity.body is None:
        return None
    body = context.render(activity.body, "body")
    has_type = any(name.lower() == "content-type" for name in headers)
    if isinstance(body, str):
        if not has_type:
            headers["Content-Type"] = "text/plain; charset=utf-8"
        return body.encode("utf-8")
    if not has_type:
        headers["Content-Type"] = "application/json"
    return json.dumps(body, default=str).encode("utf-8")


def _any_redirect(expected: tuple[int, ...]) -> bool:
    return any(300 <= status < 400 for status in expected)


def _send(request: urllib.request.Request, timeout: float, *, follow: bool) -> tuple[int, Message, bytes, bool]:
    """Status, headers, body (at most :data:`MAX_BODY_BYTES`) and whether the body was cut."""
    opener = urllib.request.build_opener() if follow else urllib.request.build_opener(_NoRedirect)
    where = f"{request.get_method()} {request.full_url}"
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.headers, *_read_capped(response)
    except urllib.error.HTTPError as exc:  # a response with a status urllib counts as an error: still a response
        with exc:
            return exc.code, exc.headers, *_read_capped(exc)
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(reason, TimeoutError):
            raise WebRequestError(
                f"{where}: no response within {timeout:g}s",
                hint="the service may be slow or down; raise the connection's `timeout`, or add `retry:`",
                transient=True,
            ) from exc
        raise WebRequestError(
            f"{where} failed: {reason}",
            hint="check the connection's base_url and that the service is reachable",
            transient=True,
        ) from exc


def _read_capped(response: Any) -> tuple[bytes, bool]:
    raw = response.read(MAX_BODY_BYTES + 1)
    return raw[:MAX_BODY_BYTES], len(raw) > MAX_BODY_BYTES


def _decoded(raw: bytes, headers: Message, *, truncated: bool) -> Any:
    """The body as JSON data when the response says it is JSON (and is whole), else as text."""
    text = raw.decode(headers.get_content_charset() or "utf-8", errors="replace")
    content_type = headers.get_content_type()
    if not truncated and (content_type == "application/json" or content_type.endswith("+json")):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _status_error(method: str, url: str, status: int, raw: bytes, expected: tuple[int, ...]) -> WebRequestError:
    snippet = " ".join(raw[: _ERROR_BODY_CHARS * 4].decode("utf-8", errors="replace").split())[:_ERROR_BODY_CHARS]
    wanted = ", ".join(str(s) for s in expected) if expected else "2xx"
    transient = status >= 500 or status == 429
    return WebRequestError(
        f"{method} {url} answered HTTP {status} (expected {wanted})" + (f": {snippet}" if snippet else ""),
        hint="the service may recover; add `retry:` to the activity"
        if transient
        else "check the request (path, headers, body) or set `expected_status`",
        transient=transient,
        status=status,
    )
