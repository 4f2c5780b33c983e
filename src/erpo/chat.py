"""Terminal chat with an aligned model (`erpo chat`): the thought shown dimmed above the answer.

`ChatSession` keeps the multi-turn history and talks to any generation backend; `run_chat` is the
loop, reading from any iterable of lines and writing to a rich `Console`, so tests drive it with a
list of strings and the mock backend. Commands: `/reset`, `/think on|off`, `/help`, `/exit`.

Only the final answers go back into the history, not the thoughts: the model was trained to
reason about the *current* request, and old thoughts would only eat the context window.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from rich.console import Console
from rich.text import Text

from erpo.generation import Conversation, SamplingParams
from erpo.reasoning.format import ParsedReply, split_reply

HELP = ("commands: /reset (forget the conversation) · /think on|off (show or hide the reasoning) · "
        "/help · /exit")


class ChatSession:
    def __init__(self, backend: Any, params: SamplingParams | None = None, *, system: str | None = None,
                 show_thoughts: bool = True):
        self.backend, self.params, self.system = backend, params or SamplingParams(), system
        self.show_thoughts = show_thoughts
        self.history: Conversation = []

    def reset(self) -> None:
        self.history = []

    def conversation(self, user_text: str) -> Conversation:
        system = [{"role": "system", "content": self.system}] if self.system else []
        return system + self.history + [{"role": "user", "content": user_text}]

    def ask(self, user_text: str) -> tuple[ParsedReply, str]:
        """One turn: generate, remember (user, answer), return the parsed reply and finish reason."""
        generation = self.backend.generate([self.conversation(user_text)], self.params, progress=None)[0][0]
        reply = split_reply(generation.text)
        self.history += [{"role": "user", "content": user_text}, {"role": "assistant", "content": reply.answer}]
        return reply, generation.finish_reason


def render_reply(console: Console, reply: ParsedReply, finish_reason: str, show_thoughts: bool) -> None:
    # Text objects, never markup strings: a rule citation like "[R04 Weapons]" would parse as a tag.
    if show_thoughts and reply.thought:
        suffix = " (cut off: token limit reached)" if reply.truncated else ""
        console.print(Text("thinking" + suffix, style="dim bold"))
        console.print(Text(reply.thought, style="dim italic"))
    answer = reply.answer or ("(no answer: the reasoning used the whole token budget)" if reply.truncated else "")
    console.print(Text("assistant: ", style="bold green") + Text(answer))
    if finish_reason == "length" and not reply.truncated:
        console.print(Text("(answer cut off at the token limit)", style="dim"))


def handle_command(session: ChatSession, line: str, console: Console) -> bool:
    """Apply a /command; False means the chat should end."""
    word, _, arg = line[1:].strip().partition(" ")
    word, arg = word.lower(), arg.strip().lower()
    if word in ("exit", "quit"):
        return False
    if word == "reset":
        session.reset()
        console.print(Text("(conversation reset)", style="dim"))
    elif word == "think" and arg in ("on", "off"):
        session.show_thoughts = arg == "on"
        console.print(Text(f"(reasoning {'shown' if session.show_thoughts else 'hidden'})", style="dim"))
    elif word == "think":
        console.print(Text(f"usage: /think on|off (now {'on' if session.show_thoughts else 'off'})", style="yellow"))
    elif word == "help":
        console.print(Text(HELP, style="dim"))
    else:
        console.print(Text(f"unknown command /{word}; {HELP}", style="yellow"))
    return True


def run_chat(session: ChatSession, lines: Iterable[str], console: Console) -> int:
    """The chat loop; returns the number of model turns taken. Ends at /exit or when input ends."""
    turns = 0
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if line.startswith("/"):
            if not handle_command(session, line, console):
                break
            continue
        with console.status("thinking…", spinner="dots"):
            reply, finish = session.ask(line)
        render_reply(console, reply, finish, session.show_thoughts)
        turns += 1
    return turns


def terminal_lines(console: Console, prompt: str = "you> ") -> Iterator[str]:
    """Lines typed at the terminal until EOF (Ctrl-D) or Ctrl-C."""
    while True:
        try:
            yield console.input(Text(prompt, style="bold cyan"))
        except (EOFError, KeyboardInterrupt):
            console.print()
            return
