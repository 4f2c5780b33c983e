"""`erpo policy validate|show`: check a safety policy file and print its rules."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("policy", help="validate or show a safety policy (default: the packaged 14-rule policy)")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    validate = verbs.add_parser("validate", help="report every problem of a policy file with its line")
    validate.add_argument("file", nargs="?", default="default", help="policy YAML (default: the packaged one)")
    validate.set_defaults(func=_validate)
    show = verbs.add_parser("show", help="print the rules as a table")
    show.add_argument("file", nargs="?", default="default", help="policy YAML (default: the packaged one)")
    show.add_argument("--id", dest="rule_id", default=None, help="show only this rule (e.g. R04), in full")
    show.set_defaults(func=_show)


def _validate(args: argparse.Namespace) -> int:
    from erpo.policy import PolicyError, load_policy_file
    try:
        policy = load_policy_file(args.file)
    except PolicyError as exc:
        for problem in exc.problems:
            print(problem)
        print(f"{len(exc.problems)} problem(s) found")
        return 1
    modes = sorted({r.response_mode for r in policy.rules})
    examples = sum(len(r.examples) for r in policy.rules)
    print(f"OK: policy {policy.name!r} v{policy.version}: {len(policy.rules)} rules, "
          f"{examples} examples, response modes: {', '.join(modes)}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from erpo.policy import load_policy_file
    policy = load_policy_file(args.file)
    rules = [policy.get(args.rule_id)] if args.rule_id else policy.rules
    console = Console()
    if args.rule_id:
        rule = rules[0]
        console.print(f"[bold]{rule.citation}[/bold]  response mode: {rule.response_mode}")
        console.print(f"[red]Not allowed:[/red] {rule.rule}")
        console.print(f"[green]Allowed:[/green] {rule.allowed}")
        console.print("Examples:\n" + "\n".join(f"  - {e}" for e in rule.examples))
        return 0
    table = Table("id", "name", "mode", "not allowed", "examples", title=f"policy {policy.name} v{policy.version}",
                  show_lines=True)
    for rule in rules:
        table.add_row(rule.id, rule.name, rule.response_mode, rule.rule, str(len(rule.examples)))
    console.print(table)
    return 0
