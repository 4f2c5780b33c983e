"""Resource use of a stage: wall time and peak memory, for the manifest and the run summary.

Peak memory is the process's resident set size (RSS) sampled every 50 ms on a background thread
while the stage runs, plus the CUDA allocator's peak when a GPU is in use. Why sample instead of
`getrusage`: its `ru_maxrss` is the peak of the whole process, and the pipeline runs every stage
in one process, so it could not tell one stage from the next.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class PeakMemory:
    """Context manager: `with PeakMemory() as peak: ...`, then `peak.as_record()`."""
    interval_s: float = 0.05
    start_rss: int = 0
    peak_rss: int = 0
    peak_cuda: int | None = None
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def __enter__(self) -> "PeakMemory":
        self.start_rss = self.peak_rss = _rss()
        if _cuda_in_use():
            import torch
            torch.cuda.reset_peak_memory_stats()
        self._thread = threading.Thread(target=self._sample, name="erpo-peak-memory", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak_rss = max(self.peak_rss, _rss())
        if _cuda_in_use():
            import torch
            self.peak_cuda = torch.cuda.max_memory_allocated()

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak_rss = max(self.peak_rss, _rss())

    def as_record(self) -> dict:
        gib = 1024 ** 3
        record = {"peak_rss_gib": round(self.peak_rss / gib, 2),
                  "rss_increase_gib": round((self.peak_rss - self.start_rss) / gib, 2)}
        if self.peak_cuda is not None:
            record["peak_cuda_gib"] = round(self.peak_cuda / gib, 2)
        return record


def _rss() -> int:
    import psutil  # a dependency of accelerate, so always installed with erpo
    return psutil.Process().memory_info().rss


def _cuda_in_use() -> bool:
    import sys
    if "torch" not in sys.modules:
        return False
    import torch
    return torch.cuda.is_available() and torch.cuda.is_initialized()


def timed_with_memory(fn, *args, **kwargs) -> tuple[object, dict]:
    """Run `fn(*args, **kwargs)`; return (result, {"seconds", "peak_rss_gib", "rss_increase_gib", ...})."""
    start = time.perf_counter()
    with PeakMemory() as peak:
        result = fn(*args, **kwargs)
    return result, {"seconds": round(time.perf_counter() - start, 1), **peak.as_record()}
