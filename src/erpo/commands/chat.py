"""`erpo chat MODEL`: talk to a model in the terminal, its reasoning shown dimmed above each answer."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("chat", help="chat with a model in the terminal (reasoning shown dimmed)",
                       description="Multi-turn terminal chat. Commands: /reset, /think on|off, /help, /exit.")
    p.add_argument("model", help="embedded alias, local checkpoint dir or hub id; with --backend openai, "
                   "the model name the server expects")
    p.add_argument("--backend", default="hf", choices=["hf", "mock", "openai"],
                   help="hf: load the model here; openai: talk to a running server (e.g. erpo serve); "
                   "mock: scripted demo replies (default: hf)")
    p.add_argument("--base-url", default=None, help="server URL for --backend openai (default: "
                   "$OPENAI_BASE_URL or http://127.0.0.1:8000/v1)")
    p.add_argument("--system", default=None, help="system prompt")
    p.add_argument("--max-tokens", type=int, default=512, help="max new tokens per reply (default: 512)")
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default: 0)")
    p.add_argument("--no-think", action="store_true", help="start with the reasoning hidden (/think on shows it)")
    p.add_argument("--dtype", default="auto", choices=["auto", "bf16", "fp16", "fp32"], help="model dtype")
    p.set_defaults(func=_chat)


def _chat(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.text import Text

    from erpo.chat import HELP, ChatSession, run_chat, terminal_lines
    from erpo.errors import ErpoError
    from erpo.generation import SamplingParams, get_backend
    from erpo.serve import demo_reply
    if args.max_tokens < 1 or args.temperature < 0:
        raise ErpoError("--max-tokens must be >= 1 and --temperature >= 0")
    console = Console()
    if args.backend == "mock":
        backend = get_backend("mock", replies=demo_reply)
    elif args.backend == "openai":
        backend = get_backend("openai", model=args.model, base_url=args.base_url)
    else:
        with console.status(f"loading {args.model} …"):
            backend = get_backend("hf", model=args.model, dtype=args.dtype, batch_size=1)
    params = SamplingParams(max_new_tokens=args.max_tokens, temperature=args.temperature)
    session = ChatSession(backend, params, system=args.system, show_thoughts=not args.no_think)
    console.print(Text(f"erpo chat · {args.model} · {HELP}", style="dim"))
    run_chat(session, terminal_lines(console), console)
    return 0
