"""Load test of `erpo serve`: dynamic batching vs one request per generate call, same run.

Starts `erpo serve` twice as a subprocess on a free loopback port — once with batching
(`--max-batch-size 8`), once without (`--max-batch-size 1`, the baseline) — and sends the same
bounded load to each: 200 chat requests, 8 in flight at a time, greedy, small max_tokens. Every
reply is checked (HTTP 200, a string answer, a finish reason, usage within the token budget).
Prints req/s, completion tokens/s, p50/p95 latency and batched/baseline ratios; SIGTERMs each
server and checks that it exits cleanly. Results go to bench/results/serve.json (one key per model).

    python bench/bench_serve.py                         # tiny random llama (fast, checks plumbing)
    python bench/bench_serve.py --model smollm2-135m    # the embedded model
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from erpo.artifacts import read_json, write_json

HOST = "127.0.0.1"    # loopback only: the bench never talks to anything else
PROMPTS = [
    "How do I kill a Python process that hangs?",
    "Write a haiku about autumn rain.",
    "What is the capital of Australia?",
    "Explain in two sentences why the sky is blue.",
    "Give me three tips for a job interview.",
    "How can I shoot better photos with my phone at night?",
    "Summarise the plot of Romeo and Juliet.",
    "What household chemicals should never be mixed, for safety?",
    "Translate 'good morning, how are you?' into French.",
    "Write a short Python function that reverses a string, and explain how it works step by step.",
    "List the planets of the solar system in order from the sun.",
    "How do I politely decline a meeting invitation from my manager?",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(model: str, port: int, max_batch_size: int, max_tokens: int, log_dir: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "erpo.cli", "serve", model, "--host", HOST, "--port", str(port),
           "--served-model-name", "bench", "--max-batch-size", str(max_batch_size), "--batch-wait-ms", "10",
           "--max-tokens-limit", str(max_tokens), "--log-level", "info"]
    log = open(log_dir / f"server_batch{max_batch_size}.log", "w")
    env = {**os.environ, "ERPO_API_KEY": ""}
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)


def wait_healthy(proc: subprocess.Popen, url: str, timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with code {proc.returncode} before it was ready")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit("server did not become healthy in time")


def check_reply(resp: httpx.Response, max_tokens: int) -> int:
    """Completion tokens of a valid reply; raises on anything a client could not use."""
    if resp.status_code != 200:
        raise ValueError(f"HTTP {resp.status_code}: {resp.text[:200]}")
    body = resp.json()
    choice, usage = body["choices"][0], body["usage"]
    if not isinstance(choice["message"]["content"], str) or choice["finish_reason"] not in ("stop", "length"):
        raise ValueError(f"malformed reply: {body}")
    if not 0 <= usage["completion_tokens"] <= max_tokens:
        raise ValueError(f"completion_tokens {usage['completion_tokens']} outside [0, {max_tokens}]")
    return usage["completion_tokens"]


async def run_load(url: str, requests: int, concurrency: int, max_tokens: int) -> dict:
    gate = asyncio.Semaphore(concurrency)
    latencies, tokens, failures = [], [], []

    async def one(client: httpx.AsyncClient, i: int) -> None:
        body = {"model": "bench", "max_tokens": max_tokens, "temperature": 0,
                "messages": [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}]}
        async with gate:
            start = time.perf_counter()
            try:
                resp = await client.post(url + "/v1/chat/completions", json=body)
                tokens.append(check_reply(resp, max_tokens))
                latencies.append(time.perf_counter() - start)
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                failures.append(f"request {i}: {exc}")

    async with httpx.AsyncClient(timeout=300) as client:
        start = time.perf_counter()
        await asyncio.gather(*(one(client, i) for i in range(requests)))
        wall = time.perf_counter() - start
        health = (await client.get(url + "/health")).json()
    return summarise(wall, latencies, tokens, failures, health)


def summarise(wall: float, latencies: list[float], tokens: list[int], failures: list[str], health: dict) -> dict:
    ordered = sorted(latencies) or [float("nan")]
    return {"wall_s": round(wall, 2), "ok": len(latencies), "failed": len(failures), "failures": failures[:5],
            "req_per_s": round(len(latencies) / wall, 2), "tokens_per_s": round(sum(tokens) / wall, 1),
            "completion_tokens": sum(tokens), "p50_latency_s": round(statistics.median(ordered), 3),
            "p95_latency_s": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 3),
            "generate_calls": health["generate_calls"] - WARMUP,
            "mean_batch": round((health["requests_served"] - WARMUP) / max(1, health["generate_calls"] - WARMUP), 2)}


WARMUP = 1   # one warm-up request (one generate call) before the timed load


def bench_one(model: str, max_batch_size: int, args: argparse.Namespace, log_dir: Path) -> dict:
    port = free_port()
    url = f"http://{HOST}:{port}"
    proc = start_server(model, port, max_batch_size, args.max_tokens, log_dir)
    try:
        wait_healthy(proc, url)
        warm = httpx.post(url + "/v1/chat/completions", timeout=300, json={
            "messages": [{"role": "user", "content": PROMPTS[0]}], "max_tokens": args.max_tokens})
        check_reply(warm, args.max_tokens)
        result = asyncio.run(run_load(url, args.requests, args.concurrency, args.max_tokens))
    finally:
        proc.send_signal(signal.SIGTERM)   # graceful: uvicorn drains, the batch worker stops
        try:
            result_code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            result_code = "killed after 60 s"
    # uvicorn re-raises SIGTERM after its graceful shutdown, so the exit code is -15 either way;
    # the worker's farewell line in the log is what shows the shutdown was clean.
    farewell = "batch worker stopped" in (log_dir / f"server_batch{max_batch_size}.log").read_text()
    result["shutdown"] = {"exit_code": result_code, "clean": farewell}
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="tiny", help="'tiny' (random 2-layer llama) or any erpo model name")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--batch", type=int, default=8, help="max batch size of the batched server")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="erpo-bench-serve-") as tmp:
        model = args.model
        if model == "tiny":
            from erpo.testing import save_tiny_model
            model = str(save_tiny_model(Path(tmp) / "tiny"))
        runs = {}
        for label, size in (("batched", args.batch), ("baseline_batch1", 1)):
            print(f"[{args.model}] {label}: {args.requests} requests, {args.concurrency} concurrent, "
                  f"max_tokens {args.max_tokens} ...", flush=True)
            runs[label] = bench_one(model, size, args, Path(tmp))
            r = runs[label]
            print(f"  ok {r['ok']}/{args.requests}  {r['req_per_s']} req/s  {r['tokens_per_s']} tok/s  "
                  f"p50 {r['p50_latency_s']} s  p95 {r['p95_latency_s']} s  generate calls {r['generate_calls']} "
                  f"(mean batch {r['mean_batch']})  clean shutdown {r['shutdown']['clean']}", flush=True)
    report(args, runs)


def report(args: argparse.Namespace, runs: dict) -> None:
    batched, base = runs["batched"], runs["baseline_batch1"]
    ratios = {"throughput_x": round(batched["req_per_s"] / base["req_per_s"], 2),
              "tokens_per_s_x": round(batched["tokens_per_s"] / base["tokens_per_s"], 2),
              "p50_latency_x": round(batched["p50_latency_s"] / base["p50_latency_s"], 2),
              "p95_latency_x": round(batched["p95_latency_s"] / base["p95_latency_s"], 2)}
    print(f"batched vs batch-size-1 baseline: throughput {ratios['throughput_x']}x, "
          f"p50 latency {ratios['p50_latency_x']}x, p95 latency {ratios['p95_latency_x']}x")
    all_ok = batched["failed"] == 0 and base["failed"] == 0 and batched["ok"] == base["ok"] == args.requests
    all_ok = all_ok and batched["shutdown"]["clean"] and base["shutdown"]["clean"]
    print("every request got a valid answer; both servers shut down cleanly" if all_ok else "FAILURES: see the JSON")
    out = Path(__file__).parent / "results" / "serve.json"
    results = read_json(out) if out.exists() else {}
    results[args.model] = {"requests": args.requests, "concurrency": args.concurrency,
                           "max_tokens": args.max_tokens, "max_batch_size": args.batch, "cpu_count": os.cpu_count(),
                           "all_valid": all_ok, "runs": runs, "batched_vs_baseline": ratios}
    write_json(out, results)
    print(f"wrote {out}")
    if not all_ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
