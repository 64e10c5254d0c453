"""RFC 9457 problem details: the one way the HTTP API reports an error."""

from __future__ import annotations

from aiohttp import web

from koinon.errors import Reason, Rejected

_STATUS = {
    Reason.INVALID: 400,
    Reason.DUPLICATE: 409,
    Reason.POW: 403,
    Reason.BLOCKED: 403,
    Reason.RATE_LIMITED: 429,
    Reason.RESTRICTED: 403,
    Reason.AUTH_REQUIRED: 401,
    Reason.ERROR: 500,
}


def problem(status: int, title: str, detail: str, reason: str | None = None) -> web.Response:
    """A problem+json response; `reason` carries the NIP-01 prefix for machines."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if reason is not None:
        body["reason"] = reason
    return web.json_response(body, status=status, content_type="application/problem+json")


def from_rejected(rejected: Rejected) -> web.Response:
    """The problem response for a rejected request."""
    status = _STATUS[rejected.reason]
    return problem(status, rejected.reason.value, rejected.message, rejected.reason.value)
