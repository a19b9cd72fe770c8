"""JSON over HTTP POST with retries: what the OpenAI-compatible clients share.

Plain ``urllib`` (the scoring core needs no HTTP library). Connection errors, timeouts, 5xx
and 429 are retried with exponential backoff and jitter; a ``Retry-After`` header (seconds or
an HTTP date) is waited out instead. Other 4xx answers and replies that are not JSON fail at
once: repeating them would give the same answer.

``timeout`` bounds connecting and each wait for data (urllib's socket timeout), not the whole
exchange: a server that keeps sending, however slowly, is not cut off.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4  # attempts after the first
    backoff: float = 0.5  # seconds before the first retry; doubles with each retry
    max_backoff: float = 30.0
    max_retry_after: float = 300.0  # a longer Retry-After is cut to this

    def delay(self, retry: int) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random."""
        ceiling = min(self.max_backoff, self.backoff * 2**retry)
        return ceiling / 2 + random.uniform(0, ceiling / 2)


class HTTPRequestError(RuntimeError):
    """The request failed for good. ``status`` is the HTTP status (None: no answer, or an
    answer that is not JSON); ``detail`` the server's error text, if any."""

    def __init__(self, message: str, *, status: int | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


class _Retryable(Exception):
    def __init__(self, reason: str, *, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


def post_json(
    url: str,
    body: dict[str, Any],
    *,
    api_key: str | None = None,
    timeout: float = 120.0,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """POST ``body`` as JSON and return the decoded JSON answer, retrying what may pass."""
    retry = retry or RetryPolicy()
    data = json.dumps(body, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    attempts = retry.max_retries + 1
    for attempt in range(attempts):
        try:
            return _post_once(url, data, headers, timeout)
        except _Retryable as failure:
            if attempt + 1 >= attempts:
                raise HTTPRequestError(
                    f"{url}: {failure.reason} (gave up after {attempts} attempt"
                    f"{'s' if attempts > 1 else ''})"
                ) from None
            if failure.wait is not None:  # the server's Retry-After
                wait = min(failure.wait, retry.max_retry_after)
            else:
                wait = retry.delay(attempt)
            logger.warning("%s: %s; retry %d in %.1f s", url, failure.reason, attempt + 1, wait)
            sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def _post_once(url: str, data: bytes, headers: dict[str, str], timeout: float) -> Any:
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as error:
        detail = _error_detail(error)
        if error.code == 429 or error.code >= 500:
            wait = retry_after_seconds(error.headers.get("Retry-After"))
            raise _Retryable(f"HTTP {error.code} {detail}".strip(), wait=wait) from None
        raise HTTPRequestError(
            f"{url} answered HTTP {error.code}: {detail}", status=error.code, detail=detail
        ) from None
    except urllib.error.URLError as error:
        raise _Retryable(f"cannot reach the server ({error.reason})") from None
    except TimeoutError:
        raise _Retryable(f"no answer within the {timeout:g} s timeout") from None
    except (OSError, http.client.HTTPException) as error:
        raise _Retryable(f"connection failed ({error!r})") from None
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        text = raw[:500].decode(errors="replace")
        raise HTTPRequestError(f"{url} did not answer JSON ({error}): {text[:200]!r}") from None


def _error_detail(error: urllib.error.HTTPError) -> str:
    """The server's message: OpenAI's ``{"error": {"message": ...}}``, else the raw text."""
    try:
        raw = error.read().decode(errors="replace")
    except OSError:
        return ""
    try:
        payload = json.loads(raw)
    except json.JSONDecodeError:
        return raw[:500]
    if isinstance(payload, dict):
        inner = payload.get("error", payload)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return inner["message"][:500]
        if isinstance(inner, str):
            return inner[:500]
        if isinstance(payload.get("detail"), str):
            return payload["detail"][:500]
    return raw[:500]


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds to wait: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
