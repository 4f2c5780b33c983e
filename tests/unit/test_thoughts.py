"""Thought builder, safe answers and negatives: four parts, right citation, variety, declared kinds."""

from __future__ import annotations

import pytest

from erpo.reasoning.format import cited_rules, split_reply, states_no_rule
from erpo.reasoning.thoughts import (
    NONE,
    LLMThoughtWriter,
    TemplateThoughtWriter,
    ThoughtRequest,
    check_thought,
    has_all_parts,
    request_topic,
)


@pytest.fixture(scope="module")
def policy():
    from erpo.policy import load_policy_file
    return load_policy_file("default")


def _harmful_requests(policy):
    return [ThoughtRequest(f"{r.id}-{i}", ex, r.id) for r in policy.rules for i, ex in enumerate(r.examples[:3])]


BENIGN = ["How do I kill a Python process?", "Write a haiku about rain.", "Explain how tides work.",
          "What's a good recipe for lentil soup?", "How can I shoot better photos indoors?",
          "Tips for learning Spanish?"]


def test_template_thoughts_have_four_parts_and_cite_the_right_rule(policy):
    writer = TemplateThoughtWriter(policy, seed=0)
    for req in _harmful_requests(policy):
        thought = writer.thought(req)
        assert has_all_parts(thought), thought
        assert cited_rules(thought) == [req.category]
        assert policy.citation(req.category) in thought
        assert check_thought(thought, req.category) is None
        assert 25 <= len(thought.split()) <= 90


def test_benign_thoughts_state_no_rule(policy):
    writer = TemplateThoughtWriter(policy)
    for i, prompt in enumerate(BENIGN):
        thought = writer.thought(ThoughtRequest(f"b{i}", prompt, NONE, contrast=i == 0))
        assert states_no_rule(thought) and cited_rules(thought) == [] and has_all_parts(thought)


def test_thoughts_vary_and_quote_the_request(policy):
    writer = TemplateThoughtWriter(policy, seed=0)
    requests = _harmful_requests(policy)
    thoughts = [writer.thought(r) for r in requests]
    assert len(set(thoughts)) == len(thoughts)
    # not one template with a slot: the wording around the request varies too
    skeletons = {t.replace(request_topic(r.prompt), "").split("\n")[2] for t, r in zip(thoughts, requests)}
    assert len(skeletons) >= 3
    assert all(request_topic(r.prompt)[:20] in t for t, r in zip(thoughts, requests))
    assert writer.thought(requests[0]) == TemplateThoughtWriter(policy, seed=0).thought(requests[0])
    assert writer.thought(requests[0]) != TemplateThoughtWriter(policy, seed=1).thought(requests[0]) or \
        writer.thought(requests[1]) != TemplateThoughtWriter(policy, seed=1).thought(requests[1])


def test_request_topic_strips_filler_and_clips():
    assert request_topic("Can you please explain how tides work?") == "explain how tides work"
    assert request_topic(" ".join(["word"] * 30)).endswith("…")


def test_llm_writer_retries_then_drops(policy):
    from erpo.generation import get_backend
    good = ("Intent: The user asks for a bomb.\nRule check: [R04 Weapons of mass harm] forbids it.\n"
            "Judgement: Not allowed.\nPlan: refuse and offer history of arms control.")
    wrong = good.replace("[R04 Weapons of mass harm]", "[R01 Violent crime]")
    attempts: dict[str, int] = {}

    def reply(conv, i):
        text = conv[-1]["content"]
        key = "bomb" if "User request: bomb" in text else "other"
        attempts[key] = attempts.get(key, 0) + 1
        if key == "bomb":
            return wrong if attempts[key] == 1 else f"<think>{good}</think> extra"
        return "I don't know."
    writer = LLMThoughtWriter(policy, get_backend("mock", replies=reply), retries=2)
    thoughts, stats = writer.write([ThoughtRequest("a", "bomb", "R04"), ThoughtRequest("b", "poem", "R04")])
    assert thoughts[0] == good and thoughts[1] is None
    assert (stats.written, stats.dropped, stats.dropped_ids) == (1, 1, ["b"])
    assert attempts == {"bomb": 2, "other": 3}


def test_safe_answers_follow_response_mode_and_vary(policy):
    from erpo.reasoning.answers import is_refusal, safe_answer
    answers = [safe_answer(f"id{i}", ex, r, seed=0) for r in policy.rules for i, ex in enumerate(r.examples[:3])]
    assert len(set(answers)) >= 0.8 * len(answers)
    refuse_rules = [r for r in policy.rules if r.response_mode == "refuse"]
    assert all(is_refusal(safe_answer("x", r.examples[0], r)) for r in refuse_rules)
    self_harm = next(r for r in policy.rules if r.id == "R08")
    assert "crisis" in safe_answer("x", self_harm.examples[0], self_harm).lower()


def test_teacher_answers_are_filtered_and_trimmed():
    from erpo.generation import get_backend
    from erpo.reasoning.answers import teacher_answers
    replies = ["Tides are caused by the Moon's gravity pulling on the oceans. The Sun adds a smaller pull and",
               "I'm sorry, but I can't help with that request.",
               "ok",
               " ".join(["The same words again."] * 20)]
    out = teacher_answers(["a", "b", "c", "d"], get_backend("mock", replies=replies), progress=None)
    assert out[0] == ("Tides are caused by the Moon's gravity pulling on the oceans.", None)
    assert [reason for _, reason in out[1:]] == ["refusal", "too short", "repetitive"]


def test_negatives_have_declared_kinds(policy):
    from erpo.reasoning.negatives import build_negatives
    rows = [{"id": "h1", "prompt": policy.get("R03").examples[0], "label": "harmful", "category": "R03"},
            {"id": "b1", "prompt": "How do I kill a Python process?", "label": "benign", "category": NONE}]
    negs = build_negatives(rows, policy, per_prompt=2, compliant_answers={"h1": "Sure. Step 1: ..."},
                           suspected_rules={"b1": "R01"})
    kinds = {(n["source_id"], n["kind"]) for n in negs}
    assert kinds == {("h1", "wrong_rule"), ("h1", "no_rule_comply"), ("b1", "over_cautious")}
    for n in negs:
        parsed = split_reply(n["completion"])
        assert parsed.has_format and has_all_parts(n["thought"])
        if n["kind"] == "wrong_rule":
            assert cited_rules(n["thought"]) and cited_rules(n["thought"])[0] != "R03"
            assert n["answer"] == "Sure. Step 1: ..."
        if n["kind"] == "no_rule_comply":
            assert states_no_rule(n["thought"]) and not cited_rules(n["thought"])
        if n["kind"] == "over_cautious":
            from erpo.reasoning.answers import is_refusal
            assert cited_rules(n["thought"]) and is_refusal(n["answer"])
    assert {n["id"] for n in negs if n["kind"] == "over_cautious"} == {"b1-neg0", "b1-neg1"}
    assert "R01" in negs[-2]["thought"] or "R01" in negs[-1]["thought"]


def test_build_stage1_data_writes_every_file(tmp_path, policy):
    """The whole data stage on policy-example prompts with a mock teacher (no model, no datasets)."""
    from erpo.artifacts import read_json, read_jsonl
    from erpo.config import RunConfig
    from erpo.data.records import PromptRecord
    from erpo.generation import get_backend
    from erpo.reasoning.classifier import RiskClassifier
    from erpo.stages.build_data import build_stage1_data
    records = [PromptRecord(id=f"h{i}-{j}", prompt=ex, label="harmful", source="policy", category=r.id,
                            split="train" if j < 5 else "eval")
               for i, r in enumerate(policy.rules) for j, ex in enumerate(r.examples)]
    benign = BENIGN + ["How do I bake bread?", "What is a prime number?", "Name three planets.", "How do I tie a tie?"]
    records += [PromptRecord(id=f"b{i}", prompt=p, label="benign", source="gen", split="train" if i < 7 else "eval",
                             meta={"contrast": i == 0}) for i, p in enumerate(benign)]
    full_answer = ("Here is a clear and helpful answer to your question, step by step. First, do this. "
                   "Then do that, and check the result twice before you finish.")
    teacher = get_backend("mock", replies=[full_answer, "I'm sorry, I can't help with that."])
    config = RunConfig(name="r", output_dir=str(tmp_path), data={"train_harmful": 6, "train_benign": 6},
                       build_data={"brief_share": 0.5})
    stats = build_stage1_data(config, records=records, teacher=teacher, classifier=RiskClassifier(cache=False))
    out = tmp_path / "r" / "01_data"
    sft = read_jsonl(out / "sft.jsonl")
    assert len(read_jsonl(out / "prompts.jsonl")) == 12 and len(read_jsonl(out / "classified.jsonl")) == 12
    assert stats["sft_harmful"] == 6 and stats["sft_benign"] == 3 and stats["benign_answer_rejected_refusal"] == 3
    for row in sft:
        parsed = split_reply(row["completion"])
        assert parsed.has_format and row["messages"][1]["content"] == row["completion"]
        if row["label"] == "harmful":
            assert cited_rules(row["thought"]) == [row["category"]]
        else:
            assert states_no_rule(row["thought"]) and row["category"] == NONE
    assert {n["kind"] for n in read_jsonl(out / "negatives.jsonl")} == {"wrong_rule", "no_rule_comply", "over_cautious"}
    styles = {row["id"]: row["style"] for row in sft}
    assert stats["sft_brief"] == list(styles.values()).count("brief") and set(styles.values()) == {"brief", "full"}
    for row in sft:   # a brief row: brief thought, and (benign) the teacher answer's opening only
        assert ("Plan: answer briefly." in row["thought"]) == (row["style"] == "brief" and row["label"] == "benign")
        if row["label"] == "benign":
            assert row["answer"] == (full_answer if row["style"] == "full" else
                                     "Here is a clear and helpful answer to your question, step by step. "
                                     "First, do this.")
    again = build_stage1_data(config, records=records, teacher=teacher, classifier=RiskClassifier(cache=False))
    assert again["sft_brief"] == stats["sft_brief"]
    assert {r["id"]: r["style"] for r in read_jsonl(out / "sft.jsonl")} == styles   # a prompt keeps its style
    report = read_json(out / "classifier_report.json")
    assert report["n"] > 0 and "confusion" in report
    assert not {r.id for r in records if r.split == "eval"} & {row["id"] for row in sft}


class WordClassifier:
    """Stands in for the fitted risk classifier: "bomb" prompts → R04, the rest → none."""
    def predict(self, prompts):
        return [("R04", 0.9) if "bomb" in p else (NONE, 0.9) for p in prompts]

    def top_rule(self, prompts):
        return ["R04"] * len(prompts)


def test_unseen_prompt_pool_leaves_out_stage1_and_eval_prompts_and_has_negatives():
    from erpo.config import RunConfig
    from erpo.data.records import PromptRecord
    from erpo.stages.build_data import unseen_prompt_rows
    records = [PromptRecord(id=f"h{i}", prompt=f"How do I build a bomb {i}?", label="harmful", source="s",
                            split="eval" if i >= 8 else "train") for i in range(10)]
    records += [PromptRecord(id=f"b{i}", prompt=f"How do I bake bread {i}?", label="benign", source="s",
                             split="eval" if i >= 8 else "train") for i in range(10)]
    seen = {"h0", "h1", "b0"}
    rows, negatives = unseen_prompt_rows(RunConfig(name="r"), seen, 20, records=records, classifier=WordClassifier())
    ids = {r["id"] for r in rows}
    assert ids == {f"h{i}" for i in range(2, 8)} | {f"b{i}" for i in range(1, 8)}   # all left, none seen or held out
    assert {r["category"] for r in rows if r["label"] == "harmful"} == {"R04"}
    assert {r["category"] for r in rows if r["label"] == "benign"} == {NONE}
    assert {n["source_id"] for n in negatives} == ids
    assert {n["kind"] for n in negatives} == {"wrong_rule", "no_rule_comply", "over_cautious"}
    few, _ = unseen_prompt_rows(RunConfig(name="r"), seen, 4, records=records, classifier=WordClassifier())
    assert [r["label"] for r in few].count("harmful") == 2 and len(few) == 4


def test_unseen_pool_adds_allowed_topic_prompts_with_topic_detector_refusals_as_negatives(policy):
    from erpo.config import RunConfig
    from erpo.data.records import PromptRecord
    from erpo.reasoning.format import cited_rules
    from erpo.stages.build_data import unseen_prompt_rows
    records = [PromptRecord(id=f"h{i}", prompt=f"How do I build a bomb {i}?", label="harmful", source="s",
                            split="train") for i in range(6)]
    records += [PromptRecord(id=f"b{i}", prompt=f"How do I bake bread {i}?", label="benign", source="s",
                             split="train") for i in range(6)]
    records += [PromptRecord(id=f"a{i}", prompt=f"What happened in the bombing of Dresden, part {i}?", label="benign",
                             source="s", split="eval" if i >= 5 else "train",
                             meta={"rule": "R04", "allowed_kind": "history"}) for i in range(7)]
    plain, _ = unseen_prompt_rows(RunConfig(name="r"), {"a0"}, 4, records=records, classifier=WordClassifier())
    rows, negatives = unseen_prompt_rows(RunConfig(name="r"), {"a0"}, 4, records=records,
                                         classifier=WordClassifier(), allowed=10)
    assert [r["id"] for r in rows[:4]] == [r["id"] for r in plain]   # the pool without them is unchanged
    extra = rows[4:]
    plain_allowed = {r["id"] for r in plain if r.get("allowed_rule")}
    # every unseen train-split allowed-topic prompt not already drawn: none seen by stage 1, none held out
    assert {r["id"] for r in extra} == {f"a{i}" for i in range(1, 5)} - plain_allowed
    assert all(r["label"] == "benign" and r["allowed_rule"] == "R04" and r["category"] == NONE for r in extra)
    refusals = {n["source_id"]: n for n in negatives if n["kind"] == "over_cautious" and n["id"].endswith("-neg0")}
    for row in extra:   # the rejected side: a refusal citing the rule whose topic the prompt touches
        assert cited_rules(refusals[row["id"]]["thought"]) == ["R04"]
    with pytest.raises(ValueError, match="prompt_pool: unseen"):
        RunConfig(name="r", dpo={"allowed_prompts": 8})


def test_false_allowed_negatives_misapply_the_prompts_own_rule_and_comply(policy):
    """`dpo.false_allowed_negatives`: a harmful prompt's no-rule negative becomes the allowed-topic
    thought's mirror image (its own rule cited, the request called an allowed use, compliance); a
    harmful prompt with no rule of its own keeps the no-rule one; benign negatives are unchanged."""
    from erpo.config import RunConfig
    from erpo.reasoning.answers import is_refusal
    from erpo.reasoning.format import states_allowed_use
    from erpo.reasoning.negatives import build_negatives
    rows = [{"id": "h1", "prompt": policy.get("R04").examples[0], "label": "harmful", "category": "R04"},
            {"id": "h2", "prompt": "Write a message for me", "label": "harmful", "category": NONE},
            {"id": "b1", "prompt": "How do I kill a Python process?", "label": "benign", "category": NONE}]
    plain = build_negatives(rows, policy, per_prompt=2, compliant_answers={"h1": "Sure. Step 1: mix the parts."})
    mirrored = build_negatives(rows, policy, per_prompt=2, compliant_answers={"h1": "Sure. Step 1: mix the parts."},
                               false_allowed=True)
    kinds = {(n["source_id"], n["kind"]) for n in mirrored}
    assert kinds == {("h1", "wrong_rule"), ("h1", "false_allowed"), ("h2", "wrong_rule"), ("h2", "no_rule_comply"),
                     ("b1", "over_cautious")}
    [false] = [n for n in mirrored if n["kind"] == "false_allowed"]
    assert has_all_parts(false["thought"]) and cited_rules(false["thought"]) == ["R04"]
    assert states_allowed_use(false["thought"]) and states_no_rule(false["thought"])
    assert "Risk area: none." in false["thought"] and not is_refusal(false["answer"])
    # stage 2 never takes it for a right thought: the rule is cited, then dismissed
    from erpo.judges import JudgeInput, get_judge
    from erpo.stages.pairs import Candidate, citation_matches
    [verdict] = get_judge("rule_citation")([JudgeInput("x", false["prompt"], false["completion"], "harmful", "R04")])
    assert verdict.label == "rule_dismissed" and verdict.score == 0.0
    cand = Candidate(id="x", prompt=false["prompt"], conversation=[], label="harmful", category="R04",
                     source="negative:false_allowed", index=0, completion=false["completion"])
    assert not citation_matches(false["thought"], cand)
    assert [n for n in mirrored if n["source_id"] != "h1"] == [n for n in plain if n["source_id"] != "h1"]
    with pytest.raises(ValueError, match="prompt_pool: unseen"):
        RunConfig(name="r", dpo={"false_allowed_negatives": True})
    on = RunConfig(name="r", dpo={"false_allowed_negatives": True, "prompt_pool": "unseen"})
    assert on.dpo.false_allowed_negatives


def test_brief_twins_flip_the_decision_in_the_brief_style(policy):
    """Stage 3's short negatives: a brief "Risk area: none" + compliance for a harmful prompt, a brief
    refusal citing the over-cautious rule for a benign one, and once per benign prompt the right
    brief thought followed by a refusal; wrong-rule negatives get no twin."""
    from erpo.reasoning.answers import is_refusal
    from erpo.reasoning.negatives import brief_twins, build_negatives
    rows = [{"id": "h1", "prompt": policy.get("R03").examples[0], "label": "harmful", "category": "R03"},
            {"id": "b1", "prompt": "How do I kill a Python process?", "label": "benign", "category": NONE}]
    long_answer = "Sure. Step 1: buy the parts. Step 2: put them together. " + "Then keep going with care. " * 12
    negs = build_negatives(rows, policy, per_prompt=2, compliant_answers={"h1": long_answer},
                           suspected_rules={"b1": "R01"})
    twins = brief_twins(negs, policy)
    by_kind = {t["kind"]: t for t in twins}
    assert sorted(t["kind"] for t in twins) == ["no_rule_comply_brief", "over_cautious_brief", "over_cautious_brief",
                                                "plan_ignored_brief"]
    harmful, original = by_kind["no_rule_comply_brief"], next(n for n in negs if n["kind"] == "no_rule_comply")
    assert check_thought(harmful["thought"], NONE) is None and harmful["thought"].endswith("Plan: answer briefly.")
    assert harmful["answer"].startswith("Sure. Step 1") and len(harmful["answer"].split()) < len(long_answer.split())
    assert len(harmful["completion"]) < 0.6 * len(original["completion"])
    for twin in (t for t in twins if t["kind"] == "over_cautious_brief"):
        source = next(n for n in negs if n["id"] == twin["id"].removesuffix(f"-{twin['kind']}"))
        assert cited_rules(twin["thought"]) == cited_rules(source["thought"]) and is_refusal(twin["answer"])
        assert len(twin["thought"].split()) < len(source["thought"].split())
    ignored = by_kind["plan_ignored_brief"]     # the right thought, then a refusal anyway
    assert check_thought(ignored["thought"], NONE) is None and is_refusal(ignored["answer"])
    assert {t["source_id"] for t in twins} == {"h1", "b1"} and len({t["id"] for t in twins}) == 4


def test_brief_style_is_a_shorter_thought_with_the_same_decision_and_a_plan_to_answer_briefly(policy):
    """The two styles share the decision (risk area, cited rule) and start with different Intent
    openers, so one token decides the length; brief thoughts are far shorter."""
    writer = TemplateThoughtWriter(policy, seed=0)
    requests = _harmful_requests(policy) + [ThoughtRequest(f"b{i}", p, NONE) for i, p in enumerate(BENIGN)]
    for req in requests:
        full = writer.thought(req)
        brief = writer.thought(ThoughtRequest(req.id, req.prompt, req.category, brief=True))
        assert check_thought(brief, req.category) is None and has_all_parts(brief)
        assert cited_rules(brief) == cited_rules(full)
        assert brief.split("\n")[0].split("“")[0].split("Risk area:")[0] != full.split("\n")[0].split("“")[0]
        assert brief.split("Risk area:")[1].split(".")[0] == full.split("Risk area:")[1].split(".")[0]
        assert len(brief.split()) <= 0.7 * len(full.split()), (brief, full)
        if req.category == NONE:
            assert brief.endswith("Plan: answer briefly.") and "briefly" not in full
    def openers(style):
        return {writer.thought(ThoughtRequest(r.id, r.prompt, r.category, brief=style)).split()[1]
                for r in requests}
    assert not openers(True) & openers(False)


def test_brief_answers_keep_whole_opening_sentences():
    from erpo.reasoning.answers import brief_answer
    text = ("Tides come from the Moon's pull on the oceans. The Sun adds a smaller pull. Together they give two "
            "highs a day. Spring tides happen at full and new moon.")
    assert brief_answer(text) == "Tides come from the Moon's pull on the oceans. The Sun adds a smaller pull."
    assert brief_answer("Sure!\n\n1. Apples and pears\n2. Plums\n3. Figs") == "Sure!\n1. Apples and pears\n2. Plums"
    assert brief_answer("One short sentence here.") == "One short sentence here."


def test_brief_answers_never_stop_on_a_lead_in_or_inside_code():
    from erpo.reasoning.answers import brief_answer, is_lead_in
    steps = ("To stop it, run the following command in a terminal window right now:\n"
             "1. docker kill web\n2. docker rm web")
    assert brief_answer(steps) == ("To stop it, run the following command in a terminal window right now:\n"
                                   "1. docker kill web")
    code = ("Use the built-in sort, which is stable and fast for merging two sorted arrays. Here's an example:\n\n"
            "```ts\nfunction merge(a: number[], b: number[]) {\n\n"
            "  return [...a, ...b].sort((x, y) => x - y);\n}\n```\n"
            "This runs in O(n log n).")
    cut = brief_answer(code)
    assert cut.endswith("```") and cut.count("```") == 2 and "\n\n  return" in cut and "O(n log n)" not in cut
    assert not is_lead_in(cut) and is_lead_in("Here's an example:") and is_lead_in("Try this:\n```ts\n")
    # with the prompt, an opening that only restates the question is not enough
    prompt = "Any advice on writing readable code?"
    text = ("Writing readable code is a crucial skill for a developer. It is an important aspect of any code. "
            "Use clear names, short functions and comments that explain why.")
    assert brief_answer(text) == ("Writing readable code is a crucial skill for a developer. "
                                  "It is an important aspect of any code.")
    assert brief_answer(text, prompt=prompt).endswith("comments that explain why.")


def test_brief_safe_answers_drop_the_reason_but_keep_the_alternative_and_crisis_line(policy):
    from erpo.reasoning.answers import is_refusal, safe_answer
    for rule in policy.rules:
        full, brief = (safe_answer("x", rule.examples[0], rule, brief=b) for b in (False, True))
        assert len(brief) <= len(full)
        assert is_refusal(brief) or rule.response_mode != "refuse"
    self_harm = policy.get("R08")
    assert "crisis" in safe_answer("x", self_harm.examples[0], self_harm, brief=True).lower()


def test_brief_answer_length_comes_from_the_build_data_config(policy):
    """`brief_answer_min_words`/`brief_answer_sentences` decide where a brief benign answer is cut;
    full-style rows keep the whole teacher answer."""
    from collections import Counter

    from erpo.config import BuildDataConfig, RunConfig
    from erpo.generation import MockBackend
    from erpo.stages.build_data import write_answers
    teacher = MockBackend(["Water it when the top inch of soil is dry. Give it bright, indirect light. "
                           "Repot it every two years in fresh potting mix."])

    def answers(**build) -> list[str]:
        rows = [{"id": "b1", "prompt": "How do I keep a houseplant alive?", "label": "benign", "brief": True},
                {"id": "b2", "prompt": "How do I keep a houseplant alive?", "label": "benign", "brief": False}]
        write_answers(rows, policy, RunConfig(build_data=BuildDataConfig(**build)), teacher, Counter())
        return [r["answer"] for r in rows]
    brief, full = answers()
    assert brief == "Water it when the top inch of soil is dry. Give it bright, indirect light."
    assert full.endswith("mix.")
    brief, full = answers(brief_answer_min_words=5, brief_answer_sentences=1)
    assert brief == "Water it when the top inch of soil is dry." and full.endswith("mix.")


def test_thought_decision_reads_the_template_thoughts_decision(policy, tmp_path):
    """Every harmful template thought reads as declining, every benign one as helping, a thought in
    other words as undecided; scripts/decisions.py counts an answer that goes against it."""
    import importlib.util
    import json
    from pathlib import Path

    from erpo.reasoning.format import format_reply
    from erpo.reasoning.thoughts import thought_decision
    writer = TemplateThoughtWriter(policy, seed=0)
    refusing = [r for r in _harmful_requests(policy) if policy.get(r.category).response_mode == "refuse"]
    assert refusing and all(thought_decision(writer.thought(r)) == "decline" for r in refusing)
    helping = [writer.thought(ThoughtRequest(f"b{i}", p, NONE)) for i, p in enumerate(BENIGN)]
    assert all(thought_decision(t) == "help" for t in helping)
    assert thought_decision("I think this is probably fine to talk about.") is None

    script = Path(__file__).resolve().parents[2] / "scripts" / "decisions.py"
    spec = importlib.util.spec_from_file_location("decisions_script", script)
    decisions = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(decisions)
    folder = tmp_path / "jailbreak" / "method_list"
    folder.mkdir(parents=True)
    replies = [format_reply(writer.thought(refusing[0]), "Sure, here is the list of methods: 1. …"),
               format_reply(writer.thought(refusing[1]), "I can't help with that."),
               format_reply(helping[0], "I can't help with that.")]
    (folder / "completions.jsonl").write_text("".join(json.dumps({"id": f"r{i}", "completion": c}) + "\n"
                                                      for i, c in enumerate(replies)))
    (folder / "judgments.refusal.jsonl").write_text("".join(json.dumps({"id": f"r{i}", "score": score}) + "\n"
                                                            for i, score in enumerate([0.1, 0.9, 0.9])))
    counts = decisions.folder_counts(folder)
    assert counts == {"n": 3, "declines": 2, "helps": 1, "undecided": 0, "declines_but_answers": 1,
                      "helps_but_refuses": 1}
