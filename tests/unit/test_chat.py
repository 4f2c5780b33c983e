"""erpo chat: the loop driven by a list of lines, the mock backend, and a recording rich console."""

from __future__ import annotations

import io

from rich.console import Console

from erpo.chat import ChatSession, run_chat
from erpo.generation import MockBackend, SamplingParams


def reply_for(conversation, sample_index):
    last = conversation[-1]["content"]
    if last == "long":
        return "<think>\nthinking " + "more " * 30          # no closing tag: cut off
    turns = sum(1 for m in conversation if m["role"] == "user")
    return f"<think>\nThought about {last} [R09 Privacy].\n</think>\n\nAnswer to {last} (turn {turns})"


def chat(lines, **session_kw):
    backend = MockBackend(reply_for)
    session = ChatSession(backend, SamplingParams(max_new_tokens=20), **session_kw)
    console = Console(file=io.StringIO(), force_terminal=True, color_system="standard", width=200, record=True)
    turns = run_chat(session, lines, console)
    return turns, console.export_text(styles=True, clear=False), console.export_text(), backend, session


def test_reasoning_is_shown_dimmed_above_the_answer():
    turns, styled, plain, _, _ = chat(["hello"])
    assert turns == 1
    assert plain.index("Thought about hello [R09 Privacy].") < plain.index("Answer to hello (turn 1)")
    thought_line = next(line for line in styled.splitlines() if "Thought about hello" in line)
    assert "\x1b[2" in thought_line             # SGR 2 = dim; the citation survived as literal text
    assert "<think>" not in plain


def test_multi_turn_history_keeps_answers_not_thoughts_and_reset_clears_it():
    turns, _, plain, backend, session = chat(["first", "second", "/reset", "third"])
    assert turns == 3
    second_call = backend.calls[1]
    assert [m["role"] for m in second_call] == ["user", "assistant", "user"]
    assert second_call[1]["content"] == "Answer to first (turn 1)"          # answer only, no thought
    assert "Answer to second (turn 2)" in plain
    assert "Answer to third (turn 1)" in plain                               # history was forgotten
    assert len(backend.calls[2]) == 1 and len(session.history) == 2


def test_think_off_hides_reasoning_and_on_restores_it():
    _, _, plain, _, _ = chat(["/think off", "quiet", "/think on", "loud"])
    assert "Answer to quiet" in plain and "Thought about quiet" not in plain
    assert "Thought about loud" in plain


def test_exit_stops_the_loop_and_commands_are_not_sent_to_the_model():
    turns, _, plain, backend, _ = chat(["/help", "/think maybe", "/bogus", "one", "/exit", "two"])
    assert turns == 1 and len(backend.calls) == 1
    assert "usage: /think on|off" in plain and "unknown command /bogus" in plain
    assert "Answer to two" not in plain


def test_truncated_thought_is_reported_and_system_prompt_is_sent():
    _, _, plain, backend, _ = chat(["long"], system="You are careful.")
    assert "cut off" in plain and "no answer" in plain
    assert backend.calls[0][0] == {"role": "system", "content": "You are careful."}
