"""`erpo serve MODEL`: an OpenAI-compatible chat server for an aligned model."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    from erpo.serve.config import ServeConfig  # pydantic only: keeps `erpo --help` instant
    fields = ServeConfig.model_fields

    def help_of(name: str) -> str:
        return f"{fields[name].description} (default: {fields[name].default})"

    p = sub.add_parser("serve", help="serve a model behind an OpenAI-compatible API (/v1/chat/completions)",
                       description="Serve MODEL on /v1/chat/completions, /v1/models and /health. The reply's "
                       "content is the final answer; the thought comes back as reasoning_content.")
    p.add_argument("model", help=fields["model"].description)
    p.add_argument("--backend", default="hf", choices=["hf", "vllm", "mock"], help=help_of("backend"))
    p.add_argument("--served-model-name", default=None, help=fields["served_model_name"].description)
    p.add_argument("--host", default="127.0.0.1", help=help_of("host"))
    p.add_argument("--port", type=int, default=8000, help=help_of("port"))
    p.add_argument("--api-key", default=None, help=fields["api_key"].description)
    p.add_argument("--no-reasoning", action="store_true", help="never return reasoning_content")
    for name, kind in [("max_batch_size", int), ("batch_wait_ms", float), ("max_queue", int),
                       ("max_tokens_limit", int), ("default_max_tokens", int), ("max_body_bytes", int)]:
        p.add_argument("--" + name.replace("_", "-"), type=kind, default=fields[name].default, help=help_of(name))
    p.add_argument("--dtype", default="auto", choices=["auto", "bf16", "fp16", "fp32"], help=help_of("dtype"))
    p.add_argument("--device", default=None, help=fields["device"].description)
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from erpo.errors import ErpoError
    from erpo.serve import ServeConfig, run_server
    options = {k: v for k, v in vars(args).items()
               if k in ServeConfig.model_fields and v is not None}
    options["include_reasoning"] = not args.no_reasoning
    try:
        config = ServeConfig(**options)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ErpoError(f"--{str(first['loc'][0]).replace('_', '-')}: {first['msg']}") from None
    print(f"erpo serve: loading {config.model} ({config.backend} backend) ...", flush=True)
    run_server(config, log_level=args.log_level)
    return 0
