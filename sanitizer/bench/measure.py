"""Time and memory of one measured call.

Memory is the process's resident set size (RSS) from ``/proc/self/status``: the peak
(``VmHWM``) is reset through ``/proc/self/clear_refs`` before a run, so the figure is the
peak RSS during that run minus the RSS when it started — native allocations of spaCy, ONNX
Runtime or RE2 included, which ``tracemalloc`` would not see. Where ``/proc`` cannot be used
the figures are ``None``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
MEMORY_METHOD = ("peak RSS delta: VmHWM of /proc/self/status, reset through "
                 "/proc/self/clear_refs before each run, minus VmRSS at its start (MiB)")


def _status_kib(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def rss_mib() -> float | None:
    kib = _status_kib("VmRSS")
    return kib / 1024 if kib is not None else None


def reset_peak() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def peak_mib() -> float | None:
    kib = _status_kib("VmHWM")
    return kib / 1024 if kib is not None else None


@dataclass(frozen=True, slots=True)
class Measured:
    seconds: float
    cpu_seconds: float
    peak_rss_delta_mib: float | None


def measure(call: Callable[[], T]) -> tuple[T, Measured]:
    """Run ``call`` once: wall time, CPU time (all threads of the process) and peak RSS
    growth above the RSS at the start."""
    resettable = reset_peak()
    before = rss_mib()
    started, cpu = time.perf_counter(), time.process_time()
    result = call()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    peak = peak_mib() if resettable else None
    delta = max(0.0, peak - before) if peak is not None and before is not None else None
    return result, Measured(seconds, cpu_seconds, delta)
