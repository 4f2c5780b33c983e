"""The safety policy: the packaged default loads, and a broken file reports every problem by line."""

from __future__ import annotations

import pytest

from erpo.cli import main
from erpo.errors import ErpoError
from erpo.policy import PolicyError, load_policy_file

EXPECTED_NAMES = {
    "R01": "Violent crime", "R02": "Non-violent crime and fraud", "R03": "Cyber attacks and malware",
    "R04": "Weapons of mass harm", "R05": "Regulated goods", "R06": "Sexual content and minors",
    "R07": "Hate and harassment", "R08": "Self-harm", "R09": "Privacy",
    "R10": "Misinformation and deception", "R11": "Specialized advice", "R12": "Intellectual property",
    "R13": "Elections and political manipulation", "R14": "Defamation",
}

GOOD_RULE = """\
  - id: R01
    name: Violence
    rule: no violence
    allowed: history
    response_mode: refuse
    examples: [hurt someone]
"""

# Line numbers matter: the test asserts them.
BROKEN = GOOD_RULE + """\
  - id: R01
    name: Duplicate
    rule: something
    allowed: something else
    response_mode: deny
    examples: [x]
  - id: R03
    name: Missing rule text
    allowed: fine
    response_mode: refuse
    examples: [y]
"""


def write_policy(tmp_path, rules: str):
    path = tmp_path / "my.yaml"
    path.write_text("name: test\nrules:\n" + rules, encoding="utf-8")
    return path


def test_default_policy_has_the_fourteen_shared_rules():
    policy = load_policy_file("default")
    assert {r.id: r.name for r in policy.rules} == EXPECTED_NAMES
    for rule in policy.rules:
        assert rule.rule.strip() and rule.allowed.strip()
        assert 5 <= len(rule.examples) <= 8 and len(set(rule.examples)) == len(rule.examples)
    assert policy.get("R08").response_mode == "safe_complete"
    assert policy.get("R11").response_mode == "comply_with_care"
    assert policy.get("R04").response_mode == "refuse"
    assert policy.citation("R04") == "[R04 Weapons of mass harm]"


def test_unknown_rule_id_suggests_close_ids():
    with pytest.raises(ErpoError, match="Did you mean.*R04"):
        load_policy_file().get("R4")


def test_broken_policy_reports_every_problem_with_its_line(tmp_path):
    path = write_policy(tmp_path, BROKEN)
    with pytest.raises(PolicyError) as info:
        load_policy_file(path)
    problems = info.value.problems
    # header lines: 1 name, 2 rules; rule 0 on 3-8; rule 1 on 9-14; rule 2 on 15-19
    assert f"{path}:9: rules[1].id: duplicate id 'R01' (first used by rules[0])" in problems
    assert any(p.startswith(f"{path}:13: rules[1].response_mode: must be one of refuse") for p in problems)
    assert any(p.startswith(f"{path}:15: rules[2].rule:") and "required" in p for p in problems)
    assert len(problems) == 3


def test_empty_text_bad_id_unknown_key_and_no_examples_are_located(tmp_path):
    rules = GOOD_RULE.replace("rule: no violence", 'rule: "  "').replace("id: R01", "id: 1A") \
        .replace("examples: [hurt someone]", "examples: []\n    colour: red")
    path = write_policy(tmp_path, rules)
    with pytest.raises(PolicyError) as info:
        load_policy_file(path)
    joined = "\n".join(info.value.problems)
    assert f"{path}:3: rules[0].id: must look like R01..R99" in joined
    assert f"{path}:5: rules[0].rule: must not be empty" in joined
    assert f"{path}:8: rules[0].examples: needs at least one entry" in joined
    assert f"{path}:9: rules[0].colour: unknown field" in joined


def test_cli_validate_exit_codes(tmp_path, capsys):
    assert main(["policy", "validate"]) == 0
    assert "OK: policy 'erpo-default'" in capsys.readouterr().out
    bad = write_policy(tmp_path, BROKEN)
    assert main(["policy", "validate", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "3 problem(s) found" in out and f"{bad}:13:" in out


def test_missing_policy_file_is_a_clear_error(tmp_path):
    with pytest.raises(ErpoError, match="no such policy file"):
        load_policy_file(tmp_path / "nope.yaml")


def test_default_policy_gives_every_rule_varied_allowed_examples():
    """The allowed side of each rule as data: benign requests on its topic that `allowed` permits."""
    policy = load_policy_file("default")
    examples = [ex for rule in policy.rules for ex in rule.allowed_examples]
    for rule in policy.rules:
        assert 8 <= len(rule.allowed_examples) <= 12, rule.id
        assert not set(rule.allowed_examples) & set(rule.examples)
    assert len(set(examples)) == len(examples)


def test_a_bad_allowed_example_is_located_like_a_bad_example(tmp_path):
    # line 3 id ... line 9 allowed_examples:, line 10 the first entry, line 11 the empty one
    path = write_policy(tmp_path, GOOD_RULE + "    allowed_examples:\n      - What was the Battle of Hastings?\n"
                                              "      - ''\n      - [not, a, string]\n")
    with pytest.raises(PolicyError) as info:
        load_policy_file(path)
    problems = info.value.problems
    assert f"{path}:11: rules[0].allowed_examples[1]: must not be empty" in problems
    assert any(p.startswith(f"{path}:12: rules[0].allowed_examples[2]:") for p in problems)
    assert len(problems) == 2
