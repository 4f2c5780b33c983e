"""Dynamic batching for the server: many HTTP requests, few `backend.generate` calls.

One background thread owns the backend (transformers models are not safe to call from several
threads at once). It waits for a request, then keeps collecting for `max_wait_ms` or until
`max_batch_size` requests are pending, and answers the whole batch with ONE `generate` call per
distinct set of sampling parameters (the backend API takes one `SamplingParams` per call; in
practice clients send the same settings, so a batch is one call). The hf backend then sorts the
batch by prompt length, so batching costs little padding.
"""

from __future__ import annotations

import dataclasses
import queue
import random
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from erpo.generation import Conversation, Generation, SamplingParams

_STOP = object()   # queue sentinel: everything queued before it is still served


@dataclass
class PendingRequest:
    conversation: Conversation
    params: SamplingParams
    fresh_seed: bool             # sampling without a client seed: draw one per batch
    future: Future               # resolves to list[Generation] (n of them)

    def group_key(self) -> tuple:
        return (self.params, self.fresh_seed)


class QueueFull(Exception):
    """More requests are waiting than the server accepts; the client should retry later."""


class WorkerStopped(Exception):
    """The server is shutting down and takes no new work."""


class BatchWorker:
    def __init__(self, backend: Any, *, max_batch_size: int = 8, max_wait_ms: float = 10.0,
                 max_queue: int = 256):
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be >= 1")
        self.backend = backend
        self.max_batch_size, self.max_wait_s = max_batch_size, max_wait_ms / 1000.0
        self._queue: queue.Queue = queue.Queue(maxsize=max_queue)
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.generate_calls = 0          # statistics shown by /health and used by the bench
        self.requests_served = 0

    # ---- lifecycle --------------------------------------------------------------------------
    def start(self) -> "BatchWorker":
        self._thread = threading.Thread(target=self._loop, name="erpo-batch-worker", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Serve what is already queued, then end the thread; later submissions fail."""
        self._stopping = True
        if self._thread is None:
            return
        self._queue.put(_STOP)           # blocks only while the queue is full, i.e. briefly
        self._thread.join(timeout)
        self._fail_leftovers()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def pending(self) -> int:
        return self._queue.qsize()

    # ---- producer side (event loop) ---------------------------------------------------------
    def submit(self, conversation: Conversation, params: SamplingParams, *, fresh_seed: bool = False) -> Future:
        if self._stopping or not self.running:
            raise WorkerStopped("the server is shutting down")
        request = PendingRequest(conversation, params, fresh_seed, Future())
        try:
            self._queue.put_nowait(request)
        except queue.Full:
            raise QueueFull(f"{self._queue.maxsize} requests are already waiting") from None
        return request.future

    # ---- consumer side (worker thread) ------------------------------------------------------
    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch, stop_seen = self._collect([first])
            self._run_batch(batch)
            if stop_seen:
                return

    def _collect(self, batch: list[PendingRequest]) -> tuple[list[PendingRequest], bool]:
        """Keep taking requests until the batch is full or the wait window has passed."""
        deadline = time.monotonic() + self.max_wait_s
        while len(batch) < self.max_batch_size:
            remaining = deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                return batch, True
            batch.append(item)
        return batch, False

    def _run_batch(self, batch: list[PendingRequest]) -> None:
        # A request whose client went away was cancelled; don't spend compute on it.
        live = [r for r in batch if r.future.set_running_or_notify_cancel()]
        groups: dict[tuple, list[PendingRequest]] = {}
        for request in live:
            groups.setdefault(request.group_key(), []).append(request)
        for (params, fresh_seed), requests in groups.items():
            if fresh_seed:
                params = dataclasses.replace(params, seed=random.randrange(2**31))
            try:
                self.generate_calls += 1
                results: list[list[Generation]] = self.backend.generate(
                    [r.conversation for r in requests], params, progress=None)
            except Exception as exc:  # the error goes to every waiting client, the worker lives on
                for r in requests:
                    r.future.set_exception(exc)
                continue
            for r, gens in zip(requests, results):
                r.future.set_result(gens)
            self.requests_served += len(requests)

    def _fail_leftovers(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP and item.future.set_running_or_notify_cancel():
                item.future.set_exception(WorkerStopped("the server shut down before this request ran"))
