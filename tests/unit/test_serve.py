"""erpo serve: a real uvicorn server on a free loopback port, driven by the official openai client."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from erpo.generation import MockBackend, SamplingParams
from erpo.reasoning.format import split_reply
from erpo.serve import ServeConfig, build_backend, create_app, demo_reply, serve_in_thread
from erpo.serve.batcher import BatchWorker, WorkerStopped

API_KEY = "test-key-123"
THOUGHT = "The user wants a greeting. Checking the policy: [no rule applies]."


def scripted_reply(conversation: list[dict], sample_index: int) -> str:
    """Exact replies keyed by the last user turn, so assertions can be exact."""
    prompt = conversation[-1]["content"]
    if prompt == "truncate me":   # a thought the token budget cuts off
        return "<think>\n" + "step " * 40 + "\n</think>\n\nnever reached"
    if prompt.startswith("echo "):
        return f"<think>\nEchoing.\n</think>\n\n{prompt[5:]} #{sample_index}"
    return f"<think>\n{THOUGHT}\n</think>\n\nHello there! STOP-HERE and more."


class CountingBackend(MockBackend):
    """The mock backend, counting generate calls and taking a little time like a real model."""

    def __init__(self, replies, delay_s: float = 0.05):
        super().__init__(replies)
        self.delay_s, self.batch_sizes = delay_s, []
        self._lock = threading.Lock()

    def generate(self, conversations, params, *, progress=None):
        with self._lock:
            self.batch_sizes.append(len(conversations))
        time.sleep(self.delay_s)
        return super().generate(conversations, params, progress=progress)


@pytest.fixture(scope="module")
def mock_server():
    config = ServeConfig(model="erpo-mock", backend="mock", port=0, api_key=API_KEY, max_tokens_limit=1000)
    backend = CountingBackend(scripted_reply, delay_s=0.0)
    with serve_in_thread(config, backend) as url:
        yield url, backend


@pytest.fixture
def client(mock_server):
    return openai.OpenAI(base_url=mock_server[0] + "/v1", api_key=API_KEY, max_retries=0)


def test_non_streaming_reply_splits_thought_from_answer(client):
    reply = client.chat.completions.create(model="erpo-mock", messages=[{"role": "user", "content": "hi"}])
    message = reply.choices[0].message
    assert message.content == "Hello there! STOP-HERE and more."
    assert message.reasoning_content == THOUGHT
    assert "<think>" not in message.content and "</think>" not in message.content
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage.prompt_tokens == 1
    assert reply.usage.completion_tokens == len(scripted_reply([{"content": "hi"}], 0).split())
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_streaming_sends_reasoning_first_then_content(client):
    stream = client.chat.completions.create(model="erpo-mock", messages=[{"role": "user", "content": "hi"}],
                                            stream=True, stream_options={"include_usage": True})
    order, reasoning, content, finish, usage = [], "", "", None, None
    for chunk in stream:
        if not chunk.choices:
            usage = chunk.usage
            continue
        delta = chunk.choices[0].delta
        piece = getattr(delta, "reasoning_content", None)
        if piece:
            reasoning += piece
            order.append("r")
        if delta.content:
            content += delta.content
            order.append("c")
        finish = chunk.choices[0].finish_reason or finish
    assert reasoning.strip() == THOUGHT
    assert content == "Hello there! STOP-HERE and more."
    assert order == sorted(order, reverse=True) and "r" in order and "c" in order   # all r before any c
    assert finish == "stop" and usage.completion_tokens > 0


def test_reasoning_can_be_switched_off_per_request(client):
    reply = client.chat.completions.create(model="erpo-mock", messages=[{"role": "user", "content": "hi"}],
                                           extra_body={"include_reasoning": False})
    assert reply.choices[0].message.content == "Hello there! STOP-HERE and more."
    assert "reasoning_content" not in reply.choices[0].message.model_dump(exclude_none=True)


def test_truncated_thought_gives_empty_answer_and_length(client):
    reply = client.chat.completions.create(model="erpo-mock", max_tokens=10,
                                           messages=[{"role": "user", "content": "truncate me"}])
    choice = reply.choices[0]
    assert choice.message.content == ""
    assert choice.message.reasoning_content.startswith("step step")
    assert choice.finish_reason == "length"


def test_stop_sequences_n_and_multi_turn(client):
    reply = client.chat.completions.create(model="erpo-mock", stop=["STOP-HERE"],
                                           messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "Hello there! "
    reply = client.chat.completions.create(model="erpo-mock", n=2, messages=[
        {"role": "system", "content": "be kind"}, {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "echo again"}])
    assert [c.message.content for c in reply.choices] == ["again #0", "again #1"]


def test_models_and_health(mock_server, client):
    assert [m.id for m in client.models.list().data] == ["erpo-mock"]
    assert client.models.retrieve("erpo-mock").id == "erpo-mock"
    health = httpx.get(mock_server[0] + "/health").json()
    assert health["status"] == "ok" and health["model"] == "erpo-mock"


def _bad_requests(url: str) -> list[tuple[str, httpx.Response]]:
    auth = {"Authorization": f"Bearer {API_KEY}"}
    post = lambda **kw: httpx.post(url + "/v1/chat/completions", timeout=10, **kw)  # noqa: E731
    ok_msgs = [{"role": "user", "content": "hi"}]
    return [
        ("no api key", post(json={"messages": ok_msgs})),
        ("wrong api key", post(json={"messages": ok_msgs}, headers={"Authorization": "Bearer nope"})),
        ("models without key", httpx.get(url + "/v1/models")),
        ("messages not a list", post(json={"messages": "hi"}, headers=auth)),
        ("max_tokens a string", post(json={"messages": ok_msgs, "max_tokens": "many"}, headers=auth)),
        ("temperature a list", post(json={"messages": ok_msgs, "temperature": [1]}, headers=auth)),
        ("content a number", post(json={"messages": [{"role": "user", "content": 5}]}, headers=auth)),
        ("unknown role", post(json={"messages": [{"role": "wizard", "content": "hi"}]}, headers=auth)),
        ("empty messages", post(json={"messages": []}, headers=auth)),
        ("unknown field", post(json={"messages": ok_msgs, "max_token": 5}, headers=auth)),
        ("huge max_tokens", post(json={"messages": ok_msgs, "max_tokens": 10**9}, headers=auth)),
        ("n zero", post(json={"messages": ok_msgs, "n": 0}, headers=auth)),
        ("unknown model", post(json={"model": "gpt-9", "messages": ok_msgs}, headers=auth)),
        ("invalid utf-8", post(content=b'{"messages": [{"role": "user", "content": "\xff\xfe"}]}', headers=auth)),
        ("lone surrogate", post(content=b'{"messages": [{"role": "user", "content": "\\ud800"}]}', headers=auth)),
        ("NaN temperature", post(content=b'{"messages": [], "temperature": NaN}', headers=auth)),
        ("malformed json", post(content=b'{"messages": [', headers=auth)),
        ("empty body", post(content=b"", headers=auth)),
        ("json array", post(content=b"[1, 2]", headers=auth)),
        ("deep nesting", post(content=b"[" * 100_000, headers=auth)),
        ("oversized body", post(content=b'{"messages": "' + b"x" * (2 << 20) + b'"}', headers=auth)),
        ("oversized chunked body", post(content=iter([b'{"messages": "', b"x" * (2 << 20), b'"}']), headers=auth)),
        ("wrong method", httpx.get(url + "/v1/chat/completions", headers=auth)),
    ]


def test_bad_input_battery_gets_openai_style_4xx_and_server_keeps_serving(mock_server, client):
    url = mock_server[0]
    results = _bad_requests(url)
    for name, resp in results:
        assert 400 <= resp.status_code < 500, (name, resp.status_code, resp.text[:200])
        error = resp.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}, name
        assert error["message"], name
    status = {name: resp.status_code for name, resp in results}
    assert status["no api key"] == status["wrong api key"] == status["models without key"] == 401
    assert status["oversized body"] == status["oversized chunked body"] == 413
    assert status["unknown model"] == 404
    params = {name: resp.json()["error"]["param"] for name, resp in results}
    assert params["unknown field"] == "max_token" and params["huge max_tokens"] == "max_tokens"
    # after all of that, a normal request still succeeds
    reply = client.chat.completions.create(model="erpo-mock", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "Hello there! STOP-HERE and more."


def _concurrent_echoes(url: str, count: int) -> list[str]:
    def one(i: int) -> str:
        body = {"messages": [{"role": "user", "content": f"echo request-{i}"}], "max_tokens": 20}
        resp = httpx.post(url + "/v1/chat/completions", json=body, timeout=30)
        resp.raise_for_status()
        return resp.json()["choices"][0]["message"]["content"]
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


@pytest.mark.parametrize("max_batch_size", [8, 1])
def test_concurrent_requests_are_batched(max_batch_size):
    backend = CountingBackend(scripted_reply, delay_s=0.1)
    config = ServeConfig(model="m", backend="mock", port=0, max_batch_size=max_batch_size, batch_wait_ms=50)
    with serve_in_thread(config, backend) as url:
        answers = _concurrent_echoes(url, 8)
    assert answers == [f"request-{i} #0" for i in range(8)]   # every client got its own answer
    assert sum(backend.batch_sizes) == 8
    if max_batch_size == 1:
        assert len(backend.batch_sizes) == 8
    else:
        assert len(backend.batch_sizes) < 8 and max(backend.batch_sizes) > 1


def test_hf_backend_on_tiny_model_matches_direct_generation(tiny_model_dir):
    config = ServeConfig(model=str(tiny_model_dir), port=0, dtype="fp32", served_model_name="tiny")
    backend = build_backend(config)
    messages = [{"role": "user", "content": "How do I kill a Python process?"}]
    direct = backend.generate([messages], SamplingParams(max_new_tokens=12))[0][0]
    expected = split_reply(direct.text)
    with serve_in_thread(config, backend) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
        reply = client.chat.completions.create(model="tiny", messages=messages, max_tokens=12)
        streamed = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
            model="tiny", messages=messages, max_tokens=12, stream=True) if c.choices)
    assert reply.choices[0].message.content == expected.answer == streamed
    assert (getattr(reply.choices[0].message, "reasoning_content", None) or "") == expected.thought
    assert reply.usage.completion_tokens == direct.completion_tokens == 12
    assert reply.choices[0].finish_reason == "length"


def test_config_level_no_reasoning_and_lifespan_stops_worker():
    from fastapi.testclient import TestClient
    config = ServeConfig(model="m", backend="mock", include_reasoning=False)
    app = create_app(config, MockBackend(demo_reply))
    with TestClient(app) as test_client:
        body = test_client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "yo"}]}).json()
        assert body["choices"][0]["message"] == {"role": "assistant", "content": "You said: yo"}
        body = test_client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "yo"}],
                                                              "include_reasoning": True}).json()
        assert "[no rule applies]" in body["choices"][0]["message"]["reasoning_content"]
        assert app.state.worker.running
    assert not app.state.worker.running   # shutdown ended the batch thread


def test_worker_serves_queued_work_on_stop_then_refuses():
    backend = CountingBackend(scripted_reply, delay_s=0.05)
    worker = BatchWorker(backend, max_batch_size=2, max_wait_ms=1).start()
    futures = [worker.submit([{"role": "user", "content": f"echo {i}"}], SamplingParams()) for i in range(5)]
    worker.stop()
    assert [f.result(timeout=5)[0].text.endswith(f"{i} #0") for i, f in enumerate(futures)] == [True] * 5
    assert not worker.running
    with pytest.raises(WorkerStopped):
        worker.submit([{"role": "user", "content": "late"}], SamplingParams())


def test_backend_failure_is_a_500_and_the_worker_survives():
    from fastapi.testclient import TestClient
    calls = []

    def flaky(conversation, i):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("out of memory")
        return "<think>\nfine\n</think>\n\nok"
    with TestClient(create_app(ServeConfig(model="m"), MockBackend(flaky))) as test_client:
        msgs = {"messages": [{"role": "user", "content": "x"}]}
        first = test_client.post("/v1/chat/completions", json=msgs)
        assert first.status_code == 500 and "out of memory" in first.json()["error"]["message"]
        assert test_client.post("/v1/chat/completions", json=msgs).json()["choices"][0]["message"]["content"] == "ok"


def test_sse_wire_format_ends_with_done(mock_server):
    body = {"messages": [{"role": "user", "content": "hi"}], "stream": True}
    resp = httpx.post(mock_server[0] + "/v1/chat/completions", json=body,
                      headers={"Authorization": f"Bearer {API_KEY}"})
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = [line[len("data: "):] for line in resp.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
