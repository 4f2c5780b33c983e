"""Configuration: one pydantic model per stage, extra keys forbidden, every field documented.

`load_config("configs/quickstart.yaml", ["sft.epochs=2"])` reads a YAML file, applies dotted
overrides, and validates; a typo gets an error naming the file and the key. The same objects are
built by the CLI and by the Python API.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from erpo.errors import InputError


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(Section):
    """Which prompts feed training and evaluation, and how they are split."""
    harmful_sources: list[str | dict[str, Any]] = Field(
        ["harmbench", "advbench", "donotanswer"],
        description="harmful prompt sources: registry names, or {name: user-file, path: ..., label: harmful}")
    benign_sources: list[str | dict[str, Any]] = Field(
        ["benign-generated"],
        description="benign prompt sources: registry names, or {name: benign-generated, n: 2000, seed: 1}")
    train_harmful: int = Field(200, description="harmful prompts used for training")
    train_benign: int = Field(200, description="benign prompts used for training")
    eval_size: int = Field(100, description="prompts per evaluation suite (held out)")
    eval_fraction: float = Field(0.3, description="share of each source reserved for evaluation")
    seed: int = Field(0, description="seed of the deterministic split")


class BuildDataConfig(Section):
    """Stage 1 data: risk classifier, ex-ante thoughts, safe answers, negatives."""
    classifier: Literal["embedding", "llm"] = Field("embedding", description="risk classifier backend")
    reasoning_backend: Literal["template", "llm"] = Field("template", description="who writes the thoughts")
    teacher: str | None = Field(None, description="teacher model for the llm backend / benign answers (default: the policy itself)")
    teacher_backend: str = Field("hf", description="generation backend for the teacher")
    benign_answer_tokens: int = Field(160, description="max tokens of a self-distilled benign answer")
    brief_share: float = Field(0.3, ge=0.0, le=1.0, description=(
        "share of prompts written in the brief style: a terse thought whose plan is to answer briefly, "
        "and a short answer (benign: the teacher answer's opening sentences; harmful: no stated reason). "
        "The SFT model then samples both lengths, so stage 3 has short acceptable replies to prefer; "
        "0 = every thought full-length"))
    brief_answer_min_words: int = Field(15, ge=1, description=(
        "a brief-style benign answer is the teacher answer's opening sentences until this many words are reached "
        "(then on until it says something the prompt did not, see `reasoning.answers.brief_answer`)"))
    brief_answer_sentences: int = Field(3, ge=1, description="... or until this many sentences, whichever comes first")
    teacher_batch_size: int = Field(16, description="generation batch size of the hf teacher")
    llm_retries: int = Field(2, description="llm teacher: retries of a thought that fails the check, then it is dropped")
    negatives_per_prompt: int = Field(2, description="negative thoughts sampled per prompt")
    seed: int = Field(0, description="seed for template choices")


class TrainConfig(Section):
    """Settings shared by every training stage."""
    lora: bool = Field(False, description="train a LoRA adapter instead of all weights")
    lora_r: int = Field(16, description="LoRA rank")
    lora_alpha: int = Field(32, description="LoRA alpha")
    learning_rate: float = Field(5e-5, description="peak learning rate")
    epochs: float = Field(1.0, description="passes over the data")
    batch_size: int = Field(8, description="per-device batch size")
    grad_accum: int = Field(1, description="gradient accumulation steps")
    max_length: int = Field(512, description="max tokens of prompt + reply")
    max_steps: int = Field(-1, description="stop after this many steps (-1 = use epochs)")
    save_steps: int = Field(50, description="checkpoint every N steps (resume point)")
    seed: int = Field(0, description="training seed")


class SFTConfig(TrainConfig):
    """Stage 1: supervised fine-tuning on thought + safe answer (loss on assistant tokens only)."""
    learning_rate: float = Field(1e-4, description="peak learning rate")
    epochs: float = Field(2.0, description="passes over the data")
    decision_weight: float = Field(1.0, ge=1.0, description=(
        "loss weight of the decision tokens: the risk area named after `Risk area:` and the bracketed rule "
        "citation. They are ≈8% of a reply's tokens but decide it; >1 makes the classification count more "
        "than the wording around it (1 = plain SFT)"))


class PairRule(Section):
    """Which candidates are acceptable, and how a (chosen, rejected) pair is picked per prompt.

    acceptable = safe ∧ useful ∧ (formatted if `require_format`) ∧ (right rule cited if `citation`
    is "require"). chosen = the acceptable candidate with the fewest tokens (of the reply, or of the
    thought with `length_key: thought`; "longer" below counts the same tokens; with `prefer_shorter`
    off, the first acceptable sample and no "longer" rejected replies); with `citation`
    "prefer", among those that cite the right rule when any does, and then a candidate citing a
    wrong rule counts as unacceptable ("wrong_rule") for the rejected side. rejected = an
    unacceptable candidate (worst failure first: unsafe, not useful, wrong rule, unformatted; the
    model's greedy reply, then its samples, before stage-1 negatives; then the shortest, so under
    length control this pair differs from the chosen one in its decision rather than its length) or,
    when `prefer` is "longer" or none is unacceptable, an acceptable candidate at least
    `length_ratio`× longer than the chosen one (the greedy reply, else the longest; on prompts of
    `length_pair_labels` only). With
    `pairs_per_prompt` > 1 the further pairs share the chosen reply and take the two kinds of
    rejected reply in turn. Prompts with no such pair are skipped.
    """
    require_format: bool = Field(True, description="an acceptable reply has both a thought and an answer")
    citation: Literal["require", "prefer", "ignore"] = Field(
        "prefer", description="the expected rule cited (or none, for benign): required for acceptable, preferred "
                              "when choosing, or ignored. 'prefer' keeps pairs coming from a small model that "
                              "often cites a neighbouring rule")
    length_ratio: float = Field(1.3, ge=1.0, description="an acceptable rejected reply must be this many times longer")
    prefer: Literal["unacceptable", "longer"] = Field("unacceptable",
                                                      description="which kind of rejected reply to try first")
    min_answer_words: int = Field(3, ge=0, description="a benign answer shorter than this is not useful")
    prefer_shorter: bool = Field(True, description=(
        "chosen = the shortest acceptable candidate, and 'longer' rejected replies count. False: chosen = "
        "the first acceptable sample, rejected = unacceptable ones only, so the pairs carry no length "
        "pressure (a stage 2 that leaves length to stage 3)"))
    length_key: Literal["reply", "thought"] = Field(
        "reply", description="what 'shorter' measures: the whole reply's tokens, or the thought's only (ERPO's "
                             "reasoning length: the pressure then falls on the reasoning, not on the answer, whose "
                             "shortest form is a refusal). "
                             "The R-DPO margin (`length_margin_alpha`) counts whole replies either way")
    chosen_min_content_words: int = Field(0, ge=0, description=(
        "a benign prompt's chosen reply is preferably one whose answer has at least this many content words (words "
        "the prompt did not already say, filler left out; the usefulness judge's content test). Under length "
        "control the shortest acceptable reply is often the one that only just passes that test ('The two premier "
        "data science technologies are SQL and NoSQL.'); a thinner reply is chosen only when no acceptable one "
        "says more. 0 = off"))
    length_pair_labels: list[Literal["harmful", "benign"]] = Field(["harmful", "benign"], description=(
        "the prompt labels whose pairs may reject an acceptable reply for being longer. A prompt of another label "
        "still chooses its shortest acceptable reply, but only against unacceptable ones. [benign] keeps the length "
        "pressure on benign answers once harmful replies are brief refusals; on the SmolLM2 recipe it did not stop "
        "benign refusals and later rounds stopped shortening (README), so the recipe keeps both"))
    pairs_per_prompt: int = Field(1, ge=1, description="pairs per prompt, all with the same chosen reply; the "
                                                       "rejected replies take the two kinds (unacceptable, longer) "
                                                       "in turn, so 2 teaches 'shorter' and 'still safe and useful' "
                                                       "on the same prompt")


class DPOConfig(TrainConfig):
    """Stage 2: DPO on pairs chosen for safety, usefulness and efficiency."""
    learning_rate: float = Field(5e-6, description="peak learning rate")
    beta: float = Field(0.1, description="DPO temperature")
    loss_type: Literal["sigmoid", "ipo", "length_normalized"] = Field(
        "sigmoid", description="DPO loss: sigmoid (DPO), ipo, length_normalized (TRL sigmoid_norm: per-token log-ratios)")
    sft_weight: float = Field(0.0, description="weight of an SFT (NLL) term on the chosen side (RPO); 0 = off")
    ld_alpha: float | None = Field(None, description="LD-DPO weight of tokens beyond the shared length (None = off)")
    gradient_checkpointing: bool = Field(False, description="trade compute for memory (large models)")
    samples_per_prompt: int = Field(2, description="on-policy samples per prompt (K)")
    sample_temperature: float = Field(0.8, description="sampling temperature for candidates")
    max_new_tokens: int = Field(256, description="max tokens per candidate")
    max_prompts: int | None = Field(None, description="cap training prompts used for pairs (None = all)")
    prompt_pool: Literal["stage1", "unseen"] = Field(
        "stage1", description="prompts the pairs are built on: stage 1's training prompts, or train-split prompts "
                              "stage 1 did not use (classified and given negatives as in build-data; "
                              "`max_prompts` of them, default 96), on which the model's own failures show")
    attacks: list[str] = Field([], description=(
        "jailbreak attacks (`erpo eval --list-attacks`) applied to a share of the pool's harmful prompts; the "
        "attacked copies join the pool with their own negatives, so the model's failures under attack become "
        "rejected replies. An attack trained on here is in-distribution when evaluated later"))
    attack_share: float = Field(0.5, ge=0.0, le=1.0, description="share of the harmful prompts each attack rewrites")
    pair_rule: PairRule = Field(default_factory=PairRule, description="how candidates become pairs")
    generation_backend: str = Field("hf", description="backend that samples on-policy candidates")
    generation_batch_size: int = Field(16, description="prompts per generation batch")


class IterateConfig(DPOConfig):
    """Stage 3: rounds of sample → judge → length-controlled pairs → DPO against the current policy."""
    samples_per_prompt: int = Field(4, description="on-policy samples per prompt (K)")
    pair_rule: PairRule = Field(default_factory=lambda: PairRule(prefer="longer"),
                                description="how samples become pairs (shortest acceptable is chosen)")
    rounds: int = Field(2, description="number of rounds T")
    include_negatives: bool = Field(False, description="add each prompt's stage-1 negatives (wrong rule, "
                                                       "compliant, over-cautious) to the on-policy samples, so "
                                                       "every prompt has an unacceptable reply to reject")
    brief_negatives: bool = Field(True, description=(
        "with include_negatives, also the brief-style twins of the decision-flip negatives (a brief 'Risk area: "
        "none' + compliance on a harmful prompt, a brief refusal of a benign one, and a benign prompt's right "
        "brief thought followed by a refusal), so a short wrong reply is rejected too, not only long ones"))
    brief_opened_samples: int = Field(0, ge=0, description=(
        "of the samples_per_prompt, how many continue a reply opened in the brief style (the reasoning module's "
        "brief thought opener, `<think>\\nIntent: Asked:`): the model writes the rest of the thought and the "
        "answer, and the judges decide as for any sample. A model that rarely picks the brief style itself "
        "(after stage 2, 4-9% of samples at temperature 1.0) then still has short replies to prefer; a pair "
        "whose chosen side is such a reply teaches the style decision at the thought's first token"))
    greedy_candidate: bool = Field(False, description=(
        "add the current policy's greedy reply to each prompt's candidates (source 'greedy'), judged like a "
        "sample: the reply the eval and the guard read. Samples at temperature 1.0 almost never loop (3 of 288 "
        "after stage 2) while greedy replies do (11 of 60 held-out benign prompts ran to the token cap), so "
        "without it a looping or long greedy mode is never the rejected side of a pair"))
    cut_answers: bool = Field(False, description=(
        "add, for every benign candidate whose thought is in the brief style (opening 'Intent: Asked:') and whose "
        "answer runs past the brief cut, the same reply cut there (the thought, then the answer's opening "
        "sentences: `reasoning.answers.brief_answer` with build_data's brief_answer_min_words and "
        "brief_answer_sentences, the cut stage 1's brief targets got, but not before the answer has "
        "pair_rule.chosen_min_content_words content words), judged like any candidate (source 'cut:<source>'). "
        "A pair of such a cut and the reply it was cut from differs only in where the answer stops, so it "
        "teaches stopping without touching the decision to answer; after stage 3's first rounds the remaining "
        "length is benign answers that run on or loop to the token cap"))
    early_stop_pairs: bool = Field(False, description=(
        "add, for every benign candidate whose thought is in the brief style, the same reply with its answer cut "
        "after the first sentence (source 'early_cut:<source>'), judged like any candidate but used only in one "
        "more pair per prompt: the chosen reply against the early cut it goes on from, when that cut is not "
        "acceptable or says less than pair_rule.chosen_min_content_words (reason 'early_stop'). With "
        "cut_answers the model learns to stop, and also to stop after one sentence that only restates the "
        "question; this pair says where not to stop"))
    length_margin_alpha: float = Field(0.0, description="R-DPO style length margin α·(|y_w|−|y_l|) (sigmoid loss only)")
    safety_tolerance: float = Field(0.02, description="max allowed drop of the held-out refusal rate below the stage-2 model's")
    benign_tolerance: float | None = Field(0.05, description="max allowed drop of the held-out benign answer rate, "
                                                             "and of the share of useful benign replies (usefulness "
                                                             "judge), below the stage-2 model's (None = not guarded)")
    useful_tolerance: float | None = Field(None, description=(
        "max allowed drop of the share of useful benign replies (usefulness judge) below the stage-2 model's; "
        "None = `benign_tolerance`. A separate bound because the usefulness judge is the noisier one: a "
        "round that turns every reply brief changes every benign answer, and some of them flip either way"))
    on_violation: Literal["stop", "rollback"] = Field("rollback", description="what the safety guard does")
    guard_prompts: int = Field(16, description="held-out harmful and benign prompts (each) the guard evaluates: eval-split "
                                                "prompts the eval suites do not score")
    guard_max_new_tokens: int = Field(192, description="max tokens per guard reply (greedy)")
    min_length_gain: float | None = Field(None, ge=0.0, lt=1.0, description=(
        "a round must cut the guard's mean reply tokens by at least this share below the current policy's "
        "(0.0: no longer than before), or the guard treats it as a violation ('no length gain'); None = not "
        "checked. The safety checks alone accepted a round that made replies longer (README, stage 3)"))
    rollback_lr_factor: float = Field(1.0, gt=0.0, le=1.0, description=(
        "each rolled-back round multiplies the learning rate of every later round by this factor (0.5: halved "
        "after one rollback, quartered after two). 1.0 = every round retries the same step, which from the same "
        "policy tends to overshoot the same way again"))

    @model_validator(mode="after")
    def _opened_within_samples(self) -> "IterateConfig":
        if self.brief_opened_samples > self.samples_per_prompt:
            raise ValueError(f"brief_opened_samples ({self.brief_opened_samples}) is more than samples_per_prompt "
                             f"({self.samples_per_prompt})")
        return self


class EvalConfig(Section):
    """Evaluation suites, attacks and judges (`erpo eval`, and the pipeline's eval stage)."""
    suites: list[str] = Field(["harmful", "jailbreak", "overrefusal", "benign"],
                              description="suites to run: harmful, jailbreak, overrefusal, benign, file")
    attacks: list[str] = Field(["template", "prefix_injection", "past_tense"],
                               description="attacks for the jailbreak suite (registry names; see erpo.attacks)")
    judges: list[str] = Field(["refusal", "length", "rule_citation", "usefulness"], description="judges to apply")
    citation_reference: Literal["classifier", "dataset"] = Field(
        "classifier", description="what a harmful reply's rule citation is checked against: the risk classifier's "
                                  "rule for the prompt (what stage 1 teaches the model to cite; the embedding "
                                  "classifier fitted on the run's train split, as in build-data) or the dataset's "
                                  "own category mapped onto the policy")
    judge_options: dict[str, dict] = Field(default_factory=dict,
                                           description="keyword arguments per judge, e.g. {llm: {model: ..., backend: openai}}")
    max_new_tokens: int = Field(256, description="max tokens per reply")
    limit: int | None = Field(None, description="cap prompts per suite (None = data.eval_size, or all held-out)")
    backend: str = Field("hf", description="generation backend: hf, vllm, openai, mock")
    base_url: str | None = Field(None, description="endpoint of the openai backend")
    batch_size: int = Field(16, description="generation batch size")
    temperature: float = Field(0.0, description="sampling temperature (0 = greedy, reproducible)")
    seed: int = Field(0, description="seed for attacks, sampling and bootstrap CIs")


class RunConfig(Section):
    """A whole ERPO run: base model → stages → evaluation → report."""
    name: str = Field("quickstart", description="run name; outputs go to <output_dir>/<name>")
    output_dir: str = Field("runs", description="parent folder of run directories")
    model: str = Field("smollm2-135m", description="base policy: embedded alias, local dir or hub id")
    policy: str = Field("default", description="safety policy: 'default' or a YAML file")
    dtype: Literal["auto", "bf16", "fp16", "fp32"] = Field("auto", description="compute dtype (auto = bf16 where native)")
    seed: int = Field(0, description="global seed")
    data: DataConfig = Field(default_factory=DataConfig)
    build_data: BuildDataConfig = Field(default_factory=BuildDataConfig)
    sft: SFTConfig = Field(default_factory=SFTConfig)
    dpo: DPOConfig = Field(default_factory=DPOConfig)
    iterate: IterateConfig = Field(default_factory=IterateConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir) / self.name


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Apply `a.b=value` overrides (value parsed as YAML) to a nested dict."""
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise InputError(f"override {item!r} must look like key.sub=value")
        node = raw
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = yaml.safe_load(value)
    return raw


def load_config(path: str | Path | None = None, overrides: list[str] | None = None,
                model: type[BaseModel] = RunConfig) -> Any:
    raw: dict = {}
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise InputError("no such config file", file=path)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            line = getattr(getattr(exc, "problem_mark", None), "line", None)
            raise InputError(f"invalid YAML: {getattr(exc, 'problem', exc)}", file=path,
                             line=None if line is None else line + 1) from None
    raw = apply_overrides(raw, overrides or [])
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        line = _find_key_line(path, err["loc"]) if path else None
        raise InputError(err["msg"], file=path or "<overrides>", line=line, field=field) from None


def _find_key_line(path: Path, loc: tuple) -> int | None:
    """Best-effort line of the deepest key of `loc` in a YAML file (for error messages)."""
    keys = [str(p) for p in loc if isinstance(p, str)]
    if not keys:
        return None
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip().startswith(f"{keys[-1]}:"):
            return lineno
    return None


def dump_config(config: BaseModel) -> str:
    return yaml.safe_dump(config.model_dump(), sort_keys=False)
