"""Jailbreak attack registry: `get_attack(name)` → `fn(prompt: str, seed: int = 0) -> str`.

Every attack rewrites a harmful request into an attacked prompt, deterministically for a given
(prompt, seed), so a jailbreak suite can be re-run and re-judged exactly. Built-ins live in
`erpo.attacks.transforms` (after Wei et al. 2023 "Jailbroken", Andriushchenko & Flammarion 2024
"past tense", and the PyRIT / garak DAN template collections), and three styles of harmful
request that plain refusal training misses: `multi_part` (long, specific, with invented context),
`without_getting_caught` and `method_list`. Register your own with
`ATTACKS.add("name", "package.module:function")`.
"""

from __future__ import annotations

from typing import Callable

from erpo.registry import Registry

Attack = Callable[..., str]

ATTACKS = Registry("attack")
for _name in ("none", "template", "aim", "prefix_injection", "refusal_suppression", "style_injection",
              "roleplay", "base64", "rot13", "leetspeak", "payload_splitting", "few_shot", "past_tense",
              "combination", "multi_part", "without_getting_caught", "method_list"):
    ATTACKS.add(_name, f"erpo.attacks.transforms:{_name}")


def get_attack(name: str) -> Attack:
    """The attack function registered under `name` ("did you mean" on a typo)."""
    return ATTACKS.get(name)


__all__ = ["ATTACKS", "Attack", "get_attack"]
