from erpo.reasoning.format import cited_rules, format_reply, split_reply, states_no_rule


def test_round_trip_well_formed():
    text = format_reply("Intent: build a bomb. [R04 Weapons of mass harm] applies.", "I can't help with that.")
    parsed = split_reply(text)
    assert parsed.has_format and not parsed.truncated
    assert parsed.thought.startswith("Intent") and parsed.answer == "I can't help with that."
    assert cited_rules(parsed.thought) == ["R04"]


def test_missing_open_tag_still_splits():
    parsed = split_reply("thinking here</think>answer")
    assert parsed.thought == "thinking here" and parsed.answer == "answer" and not parsed.has_format


def test_truncated_thought():
    parsed = split_reply("<think>I was cut off mid")
    assert parsed.truncated and parsed.thought == "I was cut off mid" and parsed.answer == ""


def test_no_tags_is_all_answer():
    parsed = split_reply("Just an answer.")
    assert parsed.thought == "" and parsed.answer == "Just an answer." and not parsed.has_format


def test_rule_citations_and_no_rule():
    assert cited_rules("[R01 Violent crime] then [R03] then [R01 Violent crime]") == ["R01", "R03"]
    assert states_no_rule("The request is benign; [no rule applies].")
    assert not states_no_rule("[R02 Fraud] applies")
