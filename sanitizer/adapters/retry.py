"""Retries around the model call only: transient errors, bounded attempts and total time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Status codes worth another try: rate limited, timeouts and server-side failures.
RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetrySettings:
    attempts: int = 3
    total_seconds: float = 60.0
    initial_wait: float = 0.5
    max_wait: float = 8.0


def is_transient(exc: BaseException) -> bool:
    """Rate limits, timeouts, connection errors and 5xx; never a 4xx user error."""
    import litellm

    transient = (litellm.RateLimitError, litellm.Timeout, litellm.APIConnectionError,
                 litellm.InternalServerError, litellm.ServiceUnavailableError,
                 litellm.BadGatewayError)
    if isinstance(exc, transient):
        return True
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and status in RETRY_STATUS


def retrying_kwargs(settings: RetrySettings) -> dict[str, Any]:
    """Arguments for ``tenacity.Retrying`` / ``AsyncRetrying``."""
    from tenacity import (
        retry_if_exception,
        stop_after_attempt,
        stop_after_delay,
        wait_exponential_jitter,
    )

    return {
        "retry": retry_if_exception(is_transient),
        "stop": stop_after_attempt(settings.attempts) | stop_after_delay(settings.total_seconds),
        "wait": wait_exponential_jitter(initial=settings.initial_wait, max=settings.max_wait),
        "reraise": True,
    }
