"""Which held-out prompts the eval suites and the stage-3 guard take: every suite all of its
held-out prompts by default, the guard its own slice of them, never one prompt in both."""

from __future__ import annotations

from pathlib import Path

from erpo.config import DataConfig, EvalConfig, RunConfig, load_config
from erpo.generation import get_backend
from erpo.stages.evaluate import (
    evaluate_model,
    guard_ids,
    guard_prompts,
    held_out_prompts,
    suite_ids,
    suite_limit,
    suite_records,
)

ROOT = Path(__file__).resolve().parents[2]
HELD_OUT = ("harmful", "jailbreak", "overrefusal", "benign")


def test_by_default_every_suite_takes_all_its_held_out_prompts_but_the_guards():
    config = RunConfig()
    assert config.eval.limit is None and config.data.eval_size is None
    assert suite_limit(config.eval, config.data) is None
    guard = guard_ids(config)
    assert len(guard) == 2 * config.iterate.guard.prompts
    for suite in HELD_OUT:
        whole = {r.id for r in suite_records(suite, config.data, None, 0)}
        scored = {r.id for r in suite_records(suite, config.data, None, 0, exclude=guard)}
        assert scored == whole - guard
    assert len(suite_records("harmful", config.data, None, 0)) > 300   # not 60, not 100


def test_data_eval_size_is_still_a_cap_when_set():
    assert suite_limit(EvalConfig(), DataConfig(eval_size=25)) == 25
    assert suite_limit(EvalConfig(limit=10), DataConfig(eval_size=25)) == 10
    assert len(suite_records("benign", DataConfig(eval_size=25), 25, 0)) == 25


def test_the_guard_slice_and_the_eval_suites_never_share_a_prompt():
    for overrides in ([], ["eval.limit=40"], ["data.holdout_sources=[]", "eval.suites=[harmful, overrefusal, benign]",
                                                   "iterate.guard.prompts=48"]):
        config = load_config(None, overrides)
        guard = guard_ids(config)
        assert guard and not guard & suite_ids(config)


def test_the_guard_slice_is_deterministic_and_takes_the_sources_of_a_label_in_turn():
    config = load_config(None, ["data.holdout_sources=[]", "data.benign_sources=[benign-generated, overrefusal]"])
    first, again = guard_prompts(config), guard_prompts(config)
    assert [r["id"] for r in first] == [r["id"] for r in again]
    benign = [r["source"] for r in first if r["label"] == "benign"]
    assert benign[:2] == ["benign-generated", "overrefusal"]


def test_the_quickstart_keeps_its_eval_prompts_and_its_guard_prompts():
    """Capped suites (eval.limit 16) keep the 16 prompts they had; the guard then takes the first 8
    per label they do not score, as it always did."""
    config = load_config(ROOT / "configs" / "quickstart.yaml")
    assert (config.eval.limit, config.data.eval_size, config.iterate.guard.prompts) == (16, 16, 8)
    capped = {s: [r.id for r in suite_records(s, config.data, 16, config.eval.seed)] for s in config.eval.suites}
    guard = guard_ids(config)
    for suite, ids in capped.items():
        assert [r.id for r in suite_records(suite, config.data, 16, config.eval.seed, exclude=guard)] == ids
    scored = {i for ids in capped.values() for i in ids}
    before = held_out_prompts(None, 8, config.data, exclude=scored)   # the rule before the guard had its slice
    assert [r["id"] for r in guard_prompts(config)] == [r["id"] for r in before]


def test_evaluate_model_scores_no_guard_prompt(tmp_path):
    data = DataConfig(harmful_sources=["advbench"], holdout_sources=[])
    config = RunConfig(data=data.model_dump(), iterate={"guard": {"prompts": 5}})
    guard = guard_ids(config)
    results = evaluate_model("m", ["harmful"], tmp_path, EvalConfig(judges=["refusal"]), label="m",
                             backend=get_backend("mock", replies=["I can't help with that."]), data_config=data,
                             exclude=guard)
    from erpo.artifacts import read_jsonl
    ids = {r["id"] for r in read_jsonl(tmp_path / "m" / "harmful" / "none" / "completions.jsonl")}
    whole = {r.id for r in suite_records("harmful", data, None, 0)}
    assert ids == whole - guard and results["harmful"]["none"]["n"] == len(whole) - 5


# --- the guard states its noise level ---------------------------------------------------------

def test_one_prompt_in_points_per_label():
    from erpo.metrics import resolution
    assert resolution({"harmful": 48, "benign": 16}) == ("48 harmful prompts: one prompt = 2.1 points; "
                                                         "16 benign prompts: one prompt = 6.2 points")
    assert resolution({"harmful": None, "benign": 0}) == ""


def test_guard_log_and_report_say_how_many_points_one_guard_prompt_is(tmp_path, tiny_model_dir, capsys):
    from test_iterate import JUDGES, make_run, scripted_factory

    from erpo.artifacts import read_jsonl
    from erpo.stages import iterate as I
    from erpo.stages.report import write_report
    config = make_run(tmp_path, tiny_model_dir, rounds=1)   # 2 guard prompts per label
    I.run_iterate(config, backend_factory=scripted_factory(None, []), judges=JUDGES)
    noise = "2 harmful prompts: one prompt = 50.0 points; 2 benign prompts: one prompt = 50.0 points"
    assert f"guard: {noise}" in capsys.readouterr().out
    guard = read_jsonl(config.run_dir / "04_iterate" / "guard.jsonl")[0]
    assert (guard["harmful_prompts"], guard["benign_prompts"], guard["noise"]) == (2, 2, noise)
    metrics = read_jsonl(config.run_dir / "04_iterate" / "metrics.jsonl")
    assert [(m["harmful_prompts"], m["benign_prompts"]) for m in metrics] == [(2, 2), (2, 2)]
    report = write_report(config.run_dir)[0].read_text()
    assert any(line.startswith("## Stage 3 rounds (guard prompts") and noise in line for line in report.splitlines())


def test_saved_replies_to_prompts_the_guard_now_takes_are_not_scored(tmp_path):
    """An eval folder written before the guard had its slice holds replies to guard prompts: a
    re-run drops them from completions.jsonl without generating anything."""
    from erpo.artifacts import read_jsonl
    data = DataConfig(harmful_sources=["advbench"], holdout_sources=[])
    config = RunConfig(data=data.model_dump(), iterate={"guard": {"prompts": 5}})
    ev, backend = EvalConfig(judges=["refusal"]), get_backend("mock", replies=["I can't help with that."])
    evaluate_model("m", ["harmful"], tmp_path, ev, label="m", backend=backend, data_config=data)
    calls = len(backend.calls)
    results = evaluate_model("m", ["harmful"], tmp_path, ev, label="m", backend=backend, data_config=data,
                             exclude=guard_ids(config))
    ids = {r["id"] for r in read_jsonl(tmp_path / "m" / "harmful" / "none" / "completions.jsonl")}
    assert not ids & guard_ids(config) and results["harmful"]["none"]["n"] == len(ids)
    assert len(backend.calls) == calls   # nothing generated again


def test_a_suite_limit_caps_one_suite_and_keeps_its_prompts_out_of_the_guard():
    config = load_config(None, ["eval.suite_limits={jailbreak: 30}"])
    assert suite_limit(config.eval, config.data, "jailbreak") == 30
    assert suite_limit(config.eval, config.data, "harmful") is None
    jailbreak = {r.id for r in suite_records("jailbreak", config.data, 30, config.eval.seed)}
    assert len(jailbreak) == 30 and not jailbreak & guard_ids(config)


def test_eval_checkpoints_picks_the_labels_the_eval_stage_scores(tmp_path):
    from erpo.layout import RunLayout
    from erpo.stages.evaluate import run_checkpoints
    layout = RunLayout(tmp_path)
    for folder in (layout.sft_model, layout.dpo_model, tmp_path / "04_iterate/round_01/model",
                   tmp_path / "04_iterate/round_02/model"):
        folder.mkdir(parents=True)
        (folder / "config.json").write_text("{}")
    every = run_checkpoints(load_config(None, []), tmp_path)
    assert list(every) == ["base", "sft", "dpo", "iter_01", "iter_02"]
    chosen = run_checkpoints(load_config(None, ["eval.checkpoints=[base, dpo, final]"]), tmp_path)
    assert list(chosen) == ["base", "dpo", "iter_02"]
