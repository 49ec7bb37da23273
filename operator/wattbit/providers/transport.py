"""One HTTP GET that returns parsed JSON or raises a typed, secret-free `ProviderError`.

This module's one job is to map what can go wrong on the wire to `ProblemReason`s:
connection refused → Unreachable, connect or read timeout → Timeout, 401/403 → Unauthorized,
404 → NotFound, 429 → RateLimited (with Retry-After), 5xx → ServerError (with Retry-After if
sent), other 4xx → InvalidConfig, a body that is not JSON → Malformed (with a short redacted
excerpt).

WARNING: every request has a (connect, read) timeout. Messages name the host and path only:
never the query string, headers or credentials, and every excerpt is passed through `redact`
(reliability.md §6.4). It does not retry; the caller schedules retries with `backoff`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from wattbit.core.signals import ProblemReason
from wattbit.providers.backoff import parse_retry_after
from wattbit.providers.base import ProviderError, excerpt, redact


def safe_url(url: str) -> str:
    """`scheme://host[:port]/path` of `url`: no user info, query or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


@dataclass(frozen=True, slots=True, kw_only=True)
class JsonRequest:
    """What to GET, and which values must never appear in an error message."""

    url: str
    params: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout_seconds: float = 10.0
    basic_auth: tuple[str, str] | None = None
    secrets: Sequence[str] = ()
    """Header values, tokens and passwords used by this request, redacted from messages."""


def get_json(session: requests.Session, request: JsonRequest, now: datetime) -> Any:
    """GET `request.url` and return its parsed JSON body; raise only `ProviderError`.

    `now` is used to turn an HTTP-date Retry-After into seconds.
    """
    where = redact(safe_url(request.url), request.secrets)
    try:
        response = session.get(
            request.url,
            params=dict(request.params),
            headers=dict(request.headers),
            auth=request.basic_auth,
            timeout=(request.timeout_seconds, request.timeout_seconds),
            # requests keeps custom headers such as `auth-token` across redirects, even to
            # another host; a feed that redirects is reported (3xx) instead of followed.
            allow_redirects=False,
        )
    except requests.Timeout:
        raise ProviderError(
            ProblemReason.TIMEOUT,
            f"{where}: no answer within {request.timeout_seconds:g} s",
        ) from None
    except requests.ConnectionError:
        raise ProviderError(ProblemReason.UNREACHABLE, f"{where}: connection failed") from None
    except requests.RequestException as error:
        # The exception text may quote the URL with its query string: name the type only.
        raise ProviderError(
            ProblemReason.UNREACHABLE, f"{where}: request failed ({type(error).__name__})"
        ) from None
    with response:
        return _parse(response, where=where, request=request, now=now)


def _parse(response: requests.Response, *, where: str, request: JsonRequest, now: datetime) -> Any:
    status = response.status_code
    retry_after_seconds = parse_retry_after(response.headers.get("Retry-After"), now)
    if status in (401, 403):
        raise ProviderError(
            ProblemReason.UNAUTHORIZED,
            f"{where}: HTTP {status}: credentials rejected (check the referenced Secret)",
        )
    if status == 404:
        raise ProviderError(ProblemReason.NOT_FOUND, f"{where}: HTTP 404")
    if status == 429:
        wait = "" if retry_after_seconds is None else f", retry after {retry_after_seconds:g} s"
        raise ProviderError(
            ProblemReason.RATE_LIMITED,
            f"{where}: HTTP 429 rate limited{wait}",
            retry_after_seconds=retry_after_seconds,
        )
    if status >= 500:
        raise ProviderError(
            ProblemReason.SERVER_ERROR,
            f"{where}: HTTP {status}",
            retry_after_seconds=retry_after_seconds,
        )
    if status >= 300:
        raise ProviderError(
            ProblemReason.INVALID_CONFIG,
            f"{where}: HTTP {status}: {excerpt(response.text, request.secrets)}",
        )
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        body = excerpt(response.text, request.secrets) or "(empty body)"
        raise ProviderError(
            ProblemReason.MALFORMED, f"{where}: response is not JSON: {body}"
        ) from None
