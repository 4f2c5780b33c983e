"""The FastAPI application: OpenAI-compatible `/v1/chat/completions`, `/v1/models`, `/health`.

The model's reply `<think>thought</think>answer` is split with `erpo.reasoning.format.split_reply`:
`message.content` carries the final answer only and `message.reasoning_content` the thought (the
convention of DeepSeek's and vLLM's reasoning APIs), unless reasoning is switched off.

Streaming: the reply is generated in full by the batch worker, then sent as SSE chunks
(`delta.reasoning_content` pieces first, then `delta.content`). Token-by-token streaming would need
batch size 1 and would give up the batching that makes the server fast on a CPU; clients see the
same protocol either way.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import time
import uuid
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Iterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from erpo.generation import Generation, SamplingParams
from erpo.reasoning.format import split_reply
from erpo.serve.batcher import BatchWorker, QueueFull, WorkerStopped
from erpo.serve.config import ServeConfig
from erpo.serve.schemas import ApiError, ChatCompletionRequest, parse_request, validation_error

_WORDS = re.compile(r"\s*\S+\s*|\s+")
log = logging.getLogger("uvicorn.error")   # uvicorn configures this logger: our lines share its format


def create_app(config: ServeConfig, backend: Any) -> FastAPI:
    """An app serving `backend` with the limits in `config`; the batch worker lives with the app."""
    worker = BatchWorker(backend, max_batch_size=config.max_batch_size, max_wait_ms=config.batch_wait_ms,
                         max_queue=config.max_queue)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker.start()
        try:
            yield
        finally:   # uvicorn runs this after SIGTERM/SIGINT once in-flight requests are done
            await asyncio.get_running_loop().run_in_executor(None, worker.stop)
            log.info("erpo serve: batch worker stopped after %d requests in %d generate calls",
                     worker.requests_served, worker.generate_calls)

    app = FastAPI(title="erpo serve", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.config, app.state.worker, app.state.started = config, worker, int(time.time())
    _add_error_handlers(app)
    _add_routes(app)
    return app


# ---- routes -----------------------------------------------------------------------------------

def _add_routes(app: FastAPI) -> None:
    config: ServeConfig = app.state.config
    worker: BatchWorker = app.state.worker

    @app.get("/health")   # no API key on purpose: load balancers probe it, and it shows no content
    async def health() -> dict:
        return {"status": "ok" if worker.running else "stopping", "model": config.name(),
                "pending": worker.pending(), "generate_calls": worker.generate_calls,
                "requests_served": worker.requests_served}

    @app.get("/v1/models")
    async def list_models(request: Request) -> dict:
        _check_api_key(request, config)
        return {"object": "list", "data": [_model_card(app)]}

    @app.get("/v1/models/{model_id:path}")
    async def get_model(model_id: str, request: Request) -> dict:
        _check_api_key(request, config)
        if model_id != config.name():
            raise ApiError(404, f"The model {model_id!r} does not exist; this server serves {config.name()!r}",
                           param="model", code="model_not_found")
        return _model_card(app)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Any:
        _check_api_key(request, config)
        body = parse_request(_decode_json(await _read_body(request, config.max_body_bytes)))
        params, fresh_seed = _sampling_params(body, config)
        gens = await _generate(worker, body, params, fresh_seed)
        include_reasoning = config.include_reasoning if body.include_reasoning is None else body.include_reasoning
        choices = [_choice_parts(g, body.stop or [], include_reasoning) for g in gens]
        reply = _ReplyMeta(config.name(), gens)
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            return StreamingResponse(_sse(_stream_chunks(reply, choices, include_usage)),
                                     media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        return _completion_body(reply, choices)


def _model_card(app: FastAPI) -> dict:
    return {"id": app.state.config.name(), "object": "model", "created": app.state.started, "owned_by": "erpo"}


# ---- request checks ---------------------------------------------------------------------------

def _check_api_key(request: Request, config: ServeConfig) -> None:
    if not config.api_key:
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    # compare_digest: the time taken must not reveal how much of a guessed key was right
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), config.api_key.encode()):
        raise ApiError(401, "Missing or incorrect API key: send 'Authorization: Bearer <key>'.",
                       type="authentication_error", code="invalid_api_key")


async def _read_body(request: Request, limit: int) -> bytes:
    """Read at most `limit` bytes: trust neither a Content-Length header nor its absence."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise ApiError(413, f"request body larger than {limit} bytes", code="request_too_large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"request body larger than {limit} bytes", code="request_too_large")
        chunks.append(chunk)
    return b"".join(chunks)


def _decode_json(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"request body is not valid UTF-8 (byte {exc.start})", code="invalid_encoding") from None
    if not text.strip():
        raise ApiError(400, "request body is empty; send a JSON object", code="invalid_json")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc}", code="invalid_json") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _sampling_params(body: ChatCompletionRequest, config: ServeConfig) -> tuple[SamplingParams, bool]:
    if body.model is not None and body.model not in config.accepted_names():
        raise ApiError(404, f"The model {body.model!r} does not exist; this server serves {config.name()!r}",
                       param="model", code="model_not_found")
    requested = body.requested_tokens()
    if requested is not None and requested > config.max_tokens_limit:
        param = "max_completion_tokens" if body.max_completion_tokens else "max_tokens"
        raise ApiError(400, f"{param}: {requested} is above this server's limit of {config.max_tokens_limit}",
                       param=param, code="invalid_value")
    params = SamplingParams(max_new_tokens=requested or min(config.default_max_tokens, config.max_tokens_limit),
                            temperature=body.temperature, top_p=body.top_p, n=body.n, seed=body.seed or 0)
    return params, body.seed is None and body.temperature > 0


async def _generate(worker: BatchWorker, body: ChatCompletionRequest, params: SamplingParams,
                    fresh_seed: bool) -> list[Generation]:
    try:
        future = worker.submit(body.conversation(), params, fresh_seed=fresh_seed)
    except QueueFull as exc:
        raise ApiError(503, f"server busy: {exc}; retry later", type="server_error", code="overloaded") from None
    except WorkerStopped as exc:
        raise ApiError(503, str(exc), type="server_error", code="shutting_down") from None
    try:
        return await asyncio.wrap_future(future)
    except WorkerStopped as exc:
        raise ApiError(503, str(exc), type="server_error", code="shutting_down") from None
    except Exception as exc:  # a backend failure is the server's fault, not the client's
        raise ApiError(500, f"generation failed: {type(exc).__name__}: {exc}", type="server_error") from None


# ---- replies ----------------------------------------------------------------------------------

class _ReplyMeta:
    def __init__(self, model: str, gens: list[Generation]):
        self.id, self.created, self.model = f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), model
        completion = sum(g.completion_tokens for g in gens)
        prompt = gens[0].prompt_tokens if gens else 0
        self.usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _choice_parts(gen: Generation, stops: list[str], include_reasoning: bool) -> tuple[str | None, str, str]:
    """(reasoning, content, finish_reason) of one generation.

    Stop sequences cut the answer only: the thought is the model's own work and a client's stop
    string (often a newline) must not end the reply before the answer has begun.
    """
    parsed = split_reply(gen.text)
    content, finish = parsed.answer, gen.finish_reason
    if parsed.truncated:   # the token budget ran out inside the thought
        finish = "length"
    cut = min((i for i in (content.find(s) for s in stops) if i >= 0), default=-1)
    if cut >= 0:
        content, finish = content[:cut], "stop"
    reasoning = (parsed.thought or None) if include_reasoning else None
    return reasoning, content, finish


def _completion_body(reply: _ReplyMeta, choices: list[tuple[str | None, str, str]]) -> dict:
    out = []
    for index, (reasoning, content, finish) in enumerate(choices):
        message: dict = {"role": "assistant", "content": content}
        if reasoning is not None:
            message["reasoning_content"] = reasoning
        out.append({"index": index, "message": message, "finish_reason": finish, "logprobs": None})
    return {"id": reply.id, "object": "chat.completion", "created": reply.created, "model": reply.model,
            "choices": out, "usage": reply.usage}


def _stream_chunks(reply: _ReplyMeta, choices: list[tuple[str | None, str, str]],
                   include_usage: bool) -> Iterator[dict]:
    def chunk(index: int, delta: dict, finish: str | None = None) -> dict:
        return {"id": reply.id, "object": "chat.completion.chunk", "created": reply.created, "model": reply.model,
                "choices": [{"index": index, "delta": delta, "finish_reason": finish, "logprobs": None}]}

    for index, (reasoning, content, finish) in enumerate(choices):
        yield chunk(index, {"role": "assistant", "content": ""})
        for piece in _WORDS.findall(reasoning or ""):
            yield chunk(index, {"reasoning_content": piece})
        for piece in _WORDS.findall(content):
            yield chunk(index, {"content": piece})
        yield chunk(index, {}, finish)
    if include_usage:
        yield {"id": reply.id, "object": "chat.completion.chunk", "created": reply.created, "model": reply.model,
               "choices": [], "usage": reply.usage}


async def _sse(chunks: Iterator[dict]) -> AsyncIterator[str]:
    for data in chunks:
        yield f"data: {json.dumps(data, ensure_ascii=False)}\n\n"
    yield "data: [DONE]\n\n"


# ---- errors -----------------------------------------------------------------------------------

def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def request_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        err = validation_error(list(exc.errors()))
        return JSONResponse(err.body(), status_code=err.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        err = ApiError(exc.status_code, str(exc.detail), code=code)
        return JSONResponse(err.body(), status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        err = ApiError(500, f"internal error: {type(exc).__name__}", type="server_error")
        return JSONResponse(err.body(), status_code=500)
