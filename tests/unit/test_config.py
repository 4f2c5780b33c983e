"""The config surface: grouped stage-3 settings, old flat keys, deprecations, recipe inheritance."""

from __future__ import annotations

import warnings

import pytest

from erpo.config import DPOConfig, IterateConfig, PairRule, load_config
from erpo.errors import InputError


def test_old_flat_keys_move_into_their_groups_with_a_warning_naming_both():
    with pytest.warns(FutureWarning, match=r"iterate\.greedy_candidate is now iterate\.candidates\.greedy"):
        cfg = IterateConfig(greedy_candidate=True, guard_prompts=4, samples_per_prompt=6, brief_opened_samples=2)
    assert cfg.candidates.greedy and cfg.candidates.samples == 6 and cfg.candidates.brief_opened == 2
    assert cfg.guard.prompts == 4 and cfg.candidates.temperature == 0.8
    with pytest.warns(FutureWarning, match=r"dpo\.sample_temperature is now dpo\.candidates\.temperature"):
        assert DPOConfig(sample_temperature=1.0).candidates.temperature == 1.0
    with pytest.raises(ValueError, match="give only iterate.guard.prompts"):
        IterateConfig(guard_prompts=4, guard={"prompts": 8})


def test_an_old_key_in_an_override_wins_over_the_new_key_in_the_file(tmp_path):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("iterate:\n  candidates:\n    greedy: false\n    samples: 6\n")
    with pytest.warns(FutureWarning, match=r"--set: iterate\.greedy_candidate is now iterate\.candidates\.greedy"):
        config = load_config(cfg, ["iterate.greedy_candidate=true"])
    assert config.iterate.candidates.greedy and config.iterate.candidates.samples == 6


def test_new_keys_load_without_warnings(tmp_path):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("dpo:\n  candidates: {samples: 3}\niterate:\n  candidates: {samples: 6, greedy: true}\n"
                   "  guard: {prompts: 48, useful_tolerance: 0.125}\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        config = load_config(cfg, ["iterate.guard.rollback_lr_factor=0.5"])
    assert config.dpo.candidates.samples == 3 and config.iterate.guard.rollback_lr_factor == 0.5


def test_a_misplaced_group_key_names_the_file_line_and_field(tmp_path):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("iterate:\n  guard:\n    prompts: 8\n    greedy: true\n")
    with pytest.raises(InputError) as err:
        load_config(cfg)
    assert f"{cfg}:4" in str(err.value) and "iterate.guard.greedy" in str(err.value)


@pytest.mark.parametrize("build, what", [
    (lambda: PairRule(length_pair_labels=["benign"]), "pair_rule.length_pair_labels"),
    (lambda: PairRule(length_key="thought"), "pair_rule.length_key"),
    (lambda: PairRule(citation="require"), "pair_rule.citation: require"),
    (lambda: PairRule(citation="ignore"), "pair_rule.citation: ignore"),
    (lambda: IterateConfig(guard={"min_length_gain": 0.0}), "iterate.guard.min_length_gain"),
    (lambda: DPOConfig(ld_alpha=0.5), "ld_alpha"),
    (lambda: load_config(None, ["build_data.reasoning_backend=llm"]), "build_data.reasoning_backend: llm"),
    (lambda: load_config(None, ["build_data.llm_retries=3"]), "build_data.llm_retries"),
])
def test_deprecated_settings_warn_with_the_removal_version_and_still_work(build, what):
    with pytest.warns(FutureWarning, match=f"{what} is deprecated and will be removed in erpo 0.3"):
        assert build() is not None


def test_default_values_of_deprecated_settings_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        PairRule(citation="prefer", length_key="reply", length_pair_labels=["harmful", "benign"])
        load_config(None, ["build_data.reasoning_backend=template", "iterate.guard.min_length_gain=null"])
