"""OpenAI-compatible server for an aligned model (`erpo serve`).

`create_app(config, backend)` builds the FastAPI app (see `erpo.serve.app`), `build_backend(config)`
loads the model, `run_server(config)` does both and runs uvicorn until SIGINT/SIGTERM.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

from erpo.serve.config import ServeConfig

__all__ = ["ServeConfig", "build_backend", "create_app", "demo_reply", "run_server", "serve_in_thread"]


def demo_reply(conversation: list[dict], sample_index: int = 0) -> str:
    """The mock backend's scripted reply: a well-formed thought that quotes the last user turn."""
    last = next((m["content"] for m in reversed(conversation) if m["role"] == "user"), "")
    return (f"<think>\nThe user asks: {last!r}. Checking it against the policy: [no rule applies].\n"
            f"</think>\n\nYou said: {last}")


def build_backend(config: ServeConfig) -> Any:
    """The generation backend named in `config`, with its model loaded (slow for real models)."""
    from erpo.generation import get_backend
    if config.backend == "mock":
        return get_backend("mock", replies=demo_reply, model=config.model)
    return get_backend(config.backend, model=config.model, dtype=config.dtype, device=config.device,
                       batch_size=config.max_batch_size)


def create_app(config: ServeConfig, backend: Any) -> Any:
    from erpo.serve.app import create_app as _create_app
    return _create_app(config, backend)


def run_server(config: ServeConfig, backend: Any = None, *, log_level: str = "info") -> None:
    """Serve until interrupted; uvicorn turns SIGTERM into a graceful shutdown of app and worker."""
    import uvicorn
    app = create_app(config, backend if backend is not None else build_backend(config))
    uvicorn.run(app, host=config.host, port=config.port, log_level=log_level, timeout_graceful_shutdown=30)


@contextmanager
def serve_in_thread(config: ServeConfig, backend: Any, *, startup_timeout_s: float = 30.0) -> Iterator[str]:
    """Run the server in a background thread (tests, notebooks); yields its base URL, e.g.
    `http://127.0.0.1:43121`. With `config.port == 0` the OS picks a free port, so parallel
    test runs never collide."""
    import uvicorn
    server = uvicorn.Server(uvicorn.Config(create_app(config, backend), host=config.host, port=config.port,
                                           log_level="warning", timeout_graceful_shutdown=10))
    thread = threading.Thread(target=server.run, name="erpo-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{config.host}:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
