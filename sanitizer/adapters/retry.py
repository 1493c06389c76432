"""Retries around the model call only: transient errors, bounded attempts and total time.

The request is sanitized once, before the first attempt; litellm's and the provider SDK's
own retries are switched off (``num_retries=0``, ``max_retries=0``) so attempts never
multiply. A streamed call is retried only while opening it fails: once the stream object is
returned (its first chunk may already be on the wire) an error reaches the caller as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Status codes worth another try: rate limited, timeouts and server-side failures.
RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetrySettings:
    """At most ``attempts`` tries within ``total_seconds``; exponential backoff from
    ``initial_wait`` (with as much jitter) up to ``max_wait`` between tries."""

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
        "stop": stop_after_attempt(max(1, settings.attempts))
        | stop_after_delay(settings.total_seconds),
        "wait": wait_exponential_jitter(multiplier=settings.initial_wait,
                                        jitter=settings.initial_wait, max=settings.max_wait),
        "reraise": True,
    }

