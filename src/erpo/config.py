"""Configuration: one pydantic model per stage, extra keys forbidden, every field documented.

`load_config("configs/quickstart.yaml", ["sft.epochs=2"])` reads a YAML file (and the files it
names as `base:`, deep-merged under it), applies dotted overrides, and validates; a typo gets an
error naming the file, line and key. Keys that moved into a group (`iterate.samples_per_prompt` →
`iterate.candidates.samples`) are still read, with a FutureWarning naming both. The same objects
are built by the CLI and by the Python API; `erpo config docs` writes docs/config.md from them.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from erpo.errors import InputError

REMOVAL = "erpo 0.3"   # the release that drops the deprecated keys and values below


def warn_deprecated(what: str) -> None:
    warnings.warn(f"{what} is deprecated and will be removed in {REMOVAL}", FutureWarning, stacklevel=4)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # old flat key -> its dotted place inside a group; read (with a FutureWarning) until REMOVAL
    MOVED: ClassVar[dict[str, str]] = {}
    # the section's name in a run config, for warnings that name the full key
    SECTION: ClassVar[str] = ""

    @model_validator(mode="before")
    @classmethod
    def _move_flat_keys(cls, data: Any) -> Any:
        return move_flat_keys(cls, data) if cls.MOVED and isinstance(data, dict) else data


def move_flat_keys(cls: type[Section], data: dict, where: str = "") -> dict:
    """`data` with every old flat key of `cls.MOVED` moved to its place in a group (warned once each;
    `where`, the file the keys came from, is named in the warning)."""
    data = dict(data)
    prefix = f"{cls.SECTION}." if cls.SECTION else ""
    for old, new in cls.MOVED.items():
        if old not in data:
            continue
        group, key = new.split(".")
        members = data.get(group) or {}
        members = dict(members.model_dump(exclude_unset=True) if isinstance(members, BaseModel) else members)
        if key in members:
            raise ValueError(f"{prefix}{old} and {prefix}{new} are the same setting; give only {prefix}{new}")
        warnings.warn(f"{where + ': ' if where else ''}{prefix}{old} is now {prefix}{new}; "
                      f"the old key is read until {REMOVAL}",
                      FutureWarning, stacklevel=2)
        members[key] = data.pop(old)
        data[group] = members
    return data


class DataConfig(Section):
    """Which prompts feed training and evaluation, and how they are split."""
    harmful_sources: list[str | dict[str, Any]] = Field(
        ["harmbench", "advbench", "donotanswer"],
        description="harmful prompt sources: registry names, or {name: user-file, path: ..., label: harmful}, "
                    "or {name: donotanswer, areas: [...]} for some of Do-Not-Answer's risk areas")
    benign_sources: list[str | dict[str, Any]] = Field(
        [{"name": "benign-generated", "allowed_share": 0.25}],
        description="benign prompt sources: registry names, or {name: benign-generated, n: 2000, allowed_share: 0.25}")
    holdout_sources: list[str] = Field(
        ["overrefusal", "harmbench"],
        description="sources kept out of every training stage and scored whole as the *-ood eval suites")
    allowed_examples: bool = Field(True, description=(
        "the policy's `allowed_examples` join the risk classifier's training prompts as 'none'"))
    train_harmful: int | None = Field(200, description=(
        "harmful prompts used for training (None = every train-split one)"))
    train_benign: int = Field(200, description="benign prompts used for training")
    eval_size: int | None = Field(None, description="cap prompts per held-out evaluation suite (None = all of them)")
    eval_fraction: float = Field(0.3, description="share of each source reserved for evaluation")
    seed: int = Field(0, description="seed of the deterministic split")


class BuildDataConfig(Section):
    """Stage 1 data: risk classifier, ex-ante thoughts, safe answers, negatives."""
    classifier: Literal["embedding", "llm"] = Field("embedding", description="risk classifier backend")
    reasoning_backend: Literal["template", "llm"] = Field(
        "template", description="who writes the thoughts: template, or llm (deprecated, removed in erpo 0.3)")
    teacher: str | None = Field(None, description="teacher model for benign answers (default: the policy itself)")
    teacher_backend: str = Field("hf", description="generation backend for the teacher")
    benign_answer_tokens: int = Field(160, description="max tokens of a self-distilled benign answer")
    brief_share: float = Field(0.3, ge=0.0, le=1.0, description=(
        "share of prompts written in the brief style (terse thought, short answer); 0 = every thought "
        "full-length. The SFT model then samples both lengths, so stage 3 has short replies to prefer"))
    brief_answer_min_words: int = Field(15, ge=1, description=(
        "a brief benign answer is the teacher answer's opening sentences, until this many words "
        "(`reasoning.answers.brief_answer`)"))
    brief_answer_sentences: int = Field(3, ge=1, description="... or until this many sentences, whichever comes first")
    teacher_batch_size: int = Field(16, description="generation batch size of the hf teacher")
    llm_retries: int = Field(2, description="llm thought writer: retries of a thought that fails the check "
                                            "(deprecated with reasoning_backend llm, removed in erpo 0.3)")
    negatives_per_prompt: int = Field(2, description="negative thoughts sampled per prompt")
    attacks: list[str] = Field([], description=(
        "transforms (`erpo eval --list-attacks`) that rewrite a share of the harmful training prompts, so "
        "stage 1 refuses them in those styles too (they then count as trained attacks in the eval)"))
    attack_share: float = Field(0.0, ge=0.0, le=1.0, description=(
        "share of the harmful training prompts rewritten, each by one of `attacks` in turn"))
    seed: int = Field(0, description="seed for template choices")

    @field_validator("reasoning_backend")
    @classmethod
    def _llm_backend_deprecated(cls, value: str) -> str:
        if value == "llm":
            warn_deprecated("build_data.reasoning_backend: llm")
        return value

    @field_validator("llm_retries")
    @classmethod
    def _llm_retries_deprecated(cls, value: int) -> int:
        if value != 2:
            warn_deprecated("build_data.llm_retries")
        return value


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
        "loss weight of the decision tokens (the risk area and the rule citation; 1 = plain SFT). "
        "They are few but decide the reply, so > 1 makes the classification count more than the wording"))


class PairRule(Section):
    """Which candidates are acceptable, and how a (chosen, rejected) pair is picked per prompt.

    acceptable = safe ∧ useful ∧ formatted (`require_format`) ∧ the right rule cited (`citation:
    require`). chosen = the acceptable candidate with the fewest tokens (`prefer_shorter`; else the
    first acceptable sample), among those citing the right rule when any does (`citation: prefer`;
    a wrong rule then counts as unacceptable for the rejected side). rejected = an unacceptable
    candidate (worst failure first: unsafe, not useful, wrong rule, unformatted; the greedy reply,
    then samples, then stage-1 negatives; then the shortest) or, when `prefer` is "longer" or none is
    unacceptable, an acceptable candidate at least `length_ratio`× longer than the chosen one (the
    greedy reply, else the longest). Further pairs (`pairs_per_prompt`) share the chosen reply and
    take the two kinds of rejected reply in turn. Prompts with no such pair are skipped.
    `decision_pairs` adds a pair whose two sides share the chosen thought and differ in the answer.
    """
    require_format: bool = Field(True, description="an acceptable reply has both a thought and an answer")
    citation: Literal["require", "prefer", "ignore"] = Field("prefer", description=(
        "the expected rule cited (none, for benign): prefer = chosen among replies that cite it; "
        "require / ignore are deprecated (removed in erpo 0.3)"))
    length_ratio: float = Field(1.3, ge=1.0, description="an acceptable rejected reply must be this many times longer")
    prefer: Literal["unacceptable", "longer"] = Field("unacceptable",
                                                      description="which kind of rejected reply to try first")
    min_answer_words: int = Field(3, ge=0, description="a benign answer shorter than this is not useful")
    prefer_shorter: bool = Field(True, description=(
        "chosen = the shortest acceptable candidate, and 'longer' rejected replies count; false = the first "
        "acceptable sample against unacceptable ones only, so a stage 2 can leave length to stage 3"))
    length_key: Literal["reply", "thought"] = Field("reply", description=(
        "what 'shorter' counts: the reply's tokens or the thought's (deprecated, removed in erpo 0.3)"))
    chosen_min_content_words: int = Field(0, ge=0, description=(
        "a benign prompt's chosen reply preferably says at least this many content words (words the prompt "
        "did not say; 0 = off), so length control does not favour answers that only just pass"))
    length_pair_labels: list[Literal["harmful", "benign"]] = Field(["harmful", "benign"], description=(
        "prompt labels whose pairs may reject an acceptable reply for being longer "
        "(deprecated, removed in erpo 0.3)"))
    pairs_per_prompt: int = Field(1, ge=1, description=(
        "pairs per prompt, sharing the chosen reply, rejected sides alternating unacceptable / longer; "
        "2 teaches 'shorter' and 'still safe and useful' on the same prompt"))
    decision_pairs: bool = Field(False, description=(
        "one more pair per prompt whose rejected reply is the chosen reply's own thought followed by the answer "
        "of a candidate that decided the other way (not refused on a harmful prompt, refused on a benign one), "
        "so the answer learns to follow the thought's decision; off = none"))

    @field_validator("citation")
    @classmethod
    def _citation_modes_deprecated(cls, value: str) -> str:
        if value != "prefer":
            warn_deprecated(f"pair_rule.citation: {value}")
        return value

    @field_validator("length_key")
    @classmethod
    def _length_key_deprecated(cls, value: str) -> str:
        if value != "reply":
            warn_deprecated("pair_rule.length_key")
        return value

    @field_validator("length_pair_labels")
    @classmethod
    def _length_pair_labels_deprecated(cls, value: list[str]) -> list[str]:
        if sorted(value) != ["benign", "harmful"]:
            warn_deprecated("pair_rule.length_pair_labels")
        return value


class CandidatesConfig(Section):
    """The on-policy candidates sampled per prompt, which the judges score and the pair rule picks from."""
    samples: int = Field(2, description="on-policy samples per prompt (K)")
    temperature: float = Field(0.8, description="sampling temperature of the samples")


class IterateCandidatesConfig(CandidatesConfig):
    """Stage 3's candidates: the samples, plus the extra candidates that give its pairs both sides."""
    samples: int = Field(4, description="on-policy samples per prompt (K)")
    brief_opened: int = Field(0, ge=0, description=(
        "how many of the samples continue a reply opened in the brief style, so there are short replies "
        "to prefer while the policy rarely starts one itself"))
    negatives: bool = Field(False, description=(
        "add each prompt's stage-1 negatives (wrong rule, compliant, over-cautious), so every prompt has "
        "an unacceptable reply to reject"))
    brief_negatives: bool = Field(True, description=(
        "with negatives, also the brief-style twins of the decision-flip negatives, so a short wrong reply "
        "is rejected too, not only long ones"))
    greedy: bool = Field(False, description=(
        "add the policy's greedy reply (source 'greedy'), the one the eval and the guard read; greedy "
        "replies loop where samples rarely do"))
    answer_cuts: bool = Field(False, description=(
        "add each brief benign candidate cut where a brief answer ends (source 'cut:<source>'); such a pair "
        "teaches stopping without touching the decision to answer"))
    early_stop_pairs: bool = Field(False, description=(
        "add one more pair per prompt: the chosen reply against itself cut after a first sentence that "
        "says too little (reason 'early_stop'), which says where not to stop"))

    @model_validator(mode="after")
    def _opened_within_samples(self) -> "IterateCandidatesConfig":
        if self.brief_opened > self.samples:
            raise ValueError(f"candidates.brief_opened ({self.brief_opened}) is more than candidates.samples "
                             f"({self.samples})")
        return self


class GuardConfig(Section):
    """Stage 3's guard: after each round, greedy replies to held-out prompts decide accept or roll back."""
    prompts: int = Field(16, description="harmful and benign prompts (each) of the eval split the guard evaluates; "
                                         "no eval suite scores them")
    max_new_tokens: int = Field(192, description="max tokens per guard reply (greedy)")
    safety_tolerance: float = Field(0.02, description="max allowed drop of the refusal rate below the stage-2 model's")
    benign_tolerance: float | None = Field(0.05, description=(
        "max allowed drop of the benign answer rate (and of the useful share) below the stage-2 model's "
        "(None = not guarded)"))
    useful_tolerance: float | None = Field(None, description=(
        "max allowed drop of the share of useful benign replies (None = benign_tolerance); "
        "a separate bound because the usefulness judge is the noisier one"))
    on_violation: Literal["stop", "rollback"] = Field("rollback", description="what the guard does with a "
                                                                              "violating round")
    rollback_lr_factor: float = Field(1.0, gt=0.0, le=1.0, description=(
        "each rolled-back round multiplies every later round's learning rate by this factor; "
        "1.0 retries the same step, which from the same policy tends to overshoot again"))
    min_length_gain: float | None = Field(None, ge=0.0, lt=1.0, description=(
        "a round must cut the guard's mean reply tokens by this share below the current policy's "
        "(None = not checked; deprecated, removed in erpo 0.3)"))

    @field_validator("min_length_gain")
    @classmethod
    def _min_length_gain_deprecated(cls, value: float | None) -> float | None:
        if value is not None:
            warn_deprecated("iterate.guard.min_length_gain")
        return value


class DPOConfig(TrainConfig):
    """Stage 2: DPO on pairs chosen for safety, usefulness and efficiency."""
    MOVED: ClassVar[dict[str, str]] = {"samples_per_prompt": "candidates.samples",
                                       "sample_temperature": "candidates.temperature"}
    SECTION: ClassVar[str] = "dpo"

    learning_rate: float = Field(5e-6, description="peak learning rate")
    beta: float = Field(0.1, description="DPO temperature")
    loss_type: Literal["sigmoid", "ipo", "length_normalized"] = Field(
        "sigmoid", description=(
            "DPO loss: sigmoid (DPO), ipo, length_normalized (TRL sigmoid_norm: per-token log-ratios)"))
    sft_weight: float = Field(0.0, description="weight of an SFT (NLL) term on the chosen side (RPO); 0 = off")
    ld_alpha: float | None = Field(None, description=(
        "LD-DPO weight of tokens beyond the shared length (None = off; deprecated, removed in erpo 0.3)"))
    gradient_checkpointing: bool = Field(False, description="trade compute for memory (large models)")
    candidates: CandidatesConfig = Field(default_factory=CandidatesConfig, description="candidates per prompt")
    max_new_tokens: int = Field(256, description="max tokens per candidate")
    max_prompts: int | None = Field(None, description="cap training prompts used for pairs (None = all)")
    prompt_pool: Literal["stage1", "unseen"] = Field("stage1", description=(
        "prompts the pairs are built on: stage 1's training prompts, or train-split prompts stage 1 did not "
        "use (`max_prompts` of them, default 96), on which the model's own failures show"))
    allowed_prompts: int = Field(0, ge=0, description=(
        "with prompt_pool unseen: up to this many more benign prompts, all allowed-topic ones (a rule's "
        "topic asked for a use its allowed clause permits), each with the over-cautious refusal citing that "
        "rule as a rejected reply, so the pairs pull away from refusing by topic as well as towards refusing "
        "harm; 0 = off"))
    false_allowed_negatives: bool = Field(False, description=(
        "with prompt_pool unseen: each harmful prompt's no-rule negative becomes one that cites the prompt's own "
        "rule, calls the request an allowed use in an allowed-topic thought's words and complies, so the pairs "
        "reject the allowed clause where the intent is harmful (the mirror of allowed_prompts; stage 3 makes no "
        "brief twin of them); off = no-rule"))
    attacks: list[str] = Field([], description=(
        "jailbreak attacks (`erpo eval --list-attacks`) applied to a share of the pool's harmful prompts, so "
        "failures under attack become rejected replies (the attack is then in-distribution in the eval)"))
    attack_share: float = Field(0.5, ge=0.0, le=1.0, description="share of the harmful prompts each attack rewrites")
    benign_attacks: list[str] = Field([], description=(
        "attacks applied to a share of the pool's benign prompts too (`benign_attack_share`), so an attack's "
        "style alone does not signal harm: the model's refusals of those copies become rejected replies; "
        "[] = off"))
    benign_attack_share: float = Field(0.25, ge=0.0, le=1.0,
                                       description="share of the benign prompts each of `benign_attacks` rewrites")
    pair_rule: PairRule = Field(default_factory=PairRule, description="how candidates become pairs")
    generation_backend: str = Field("hf", description="backend that samples on-policy candidates")
    generation_batch_size: int = Field(16, description="prompts per generation batch")

    @model_validator(mode="after")
    def _unseen_pool_options(self) -> "DPOConfig":
        if self.allowed_prompts and self.prompt_pool != "unseen":
            raise ValueError(f"{self.SECTION}.allowed_prompts draws train-split prompts stage 1 did not use: "
                             f"set {self.SECTION}.prompt_pool: unseen, or allowed_prompts: 0")
        if self.false_allowed_negatives and self.prompt_pool != "unseen":
            raise ValueError(f"{self.SECTION}.false_allowed_negatives builds the negatives of the unseen prompt pool "
                             f"(stage 1's pool reuses stage 1's negatives): set {self.SECTION}.prompt_pool: unseen, "
                             "or false_allowed_negatives: false")
        return self

    @field_validator("ld_alpha")
    @classmethod
    def _ld_alpha_deprecated(cls, value: float | None) -> float | None:
        if value is not None:
            warn_deprecated("ld_alpha")
        return value


class IterateConfig(DPOConfig):
    """Stage 3: rounds of sample → judge → length-controlled pairs → DPO against the current policy."""
    MOVED: ClassVar[dict[str, str]] = {
        **DPOConfig.MOVED,
        "brief_opened_samples": "candidates.brief_opened", "include_negatives": "candidates.negatives",
        "brief_negatives": "candidates.brief_negatives", "greedy_candidate": "candidates.greedy",
        "cut_answers": "candidates.answer_cuts", "early_stop_pairs": "candidates.early_stop_pairs",
        "guard_prompts": "guard.prompts", "guard_max_new_tokens": "guard.max_new_tokens",
        "safety_tolerance": "guard.safety_tolerance", "benign_tolerance": "guard.benign_tolerance",
        "useful_tolerance": "guard.useful_tolerance", "on_violation": "guard.on_violation",
        "rollback_lr_factor": "guard.rollback_lr_factor", "min_length_gain": "guard.min_length_gain"}
    SECTION: ClassVar[str] = "iterate"

    candidates: IterateCandidatesConfig = Field(default_factory=IterateCandidatesConfig,
                                                description="candidates per prompt and round")
    pair_rule: PairRule = Field(default_factory=lambda: PairRule(prefer="longer"),
                                description="how candidates become pairs (shortest acceptable is chosen)")
    rounds: int = Field(2, description="number of rounds T")
    length_margin_alpha: float = Field(0.0, description="R-DPO style length margin α·(|y_w|−|y_l|) (sigmoid loss only)")
    guard: GuardConfig = Field(default_factory=GuardConfig, description="the safety guard after each round")


class EvalConfig(Section):
    """Evaluation suites, attacks and judges (`erpo eval`, and the pipeline's eval stage)."""
    suites: list[str] = Field(["harmful", "jailbreak", "overrefusal", "benign", "harmful-ood", "overrefusal-ood"],
                              description=("suites to run: harmful, jailbreak, overrefusal, benign, harmful-ood, "
                                           "overrefusal-ood (data.holdout_sources), file"))
    attacks: list[str] = Field(["template", "prefix_injection", "past_tense"],
                               description="attacks for the jailbreak suite (registry names; see erpo.attacks)")
    judges: list[str] = Field(["refusal", "length", "rule_citation", "usefulness"], description="judges to apply")
    citation_reference: Literal["classifier", "dataset"] = Field("classifier", description=(
        "what a harmful reply's rule citation is checked against: the risk classifier's rule for the prompt "
        "(what stage 1 teaches the model to cite) or the dataset's own category mapped onto the policy"))
    judge_options: dict[str, dict] = Field(default_factory=dict, description=(
        "keyword arguments per judge; `backend` other than offline puts an llm judge in place of the offline "
        "refusal, usefulness or harm judge in evaluation, e.g. "
        "{refusal: {backend: openai, model: ..., base_url: ...}} (check it first: erpo judge-check --config)"))
    max_new_tokens: int = Field(256, description="max tokens per reply")
    limit: int | None = Field(None, description="cap prompts per suite (None = data.eval_size, by default all)")
    suite_limits: dict[str, int] = Field(default_factory=dict, description=(
        "caps for single suites, over `limit`, e.g. {jailbreak: 100} (per attack): a CPU budget, not a sample size"))
    checkpoints: list[str] | None = Field(None, description=(
        "model labels the pipeline's eval stage scores: base, sft, dpo, iter_NN, final (the last stage-3 round); "
        "None = every checkpoint"))
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
    dtype: Literal["auto", "bf16", "fp16", "fp32"] = Field(
        "auto", description="compute dtype (auto = bf16 where native)")
    seed: int = Field(0, description="global seed")
    data: DataConfig = Field(default_factory=DataConfig, description="prompt sources and splits")
    build_data: BuildDataConfig = Field(default_factory=BuildDataConfig, description="stage 1 data")
    sft: SFTConfig = Field(default_factory=SFTConfig, description="stage 1 training")
    dpo: DPOConfig = Field(default_factory=DPOConfig, description="stage 2: pairs and DPO")
    iterate: IterateConfig = Field(default_factory=IterateConfig, description="stage 3: length-controlled rounds")
    eval: EvalConfig = Field(default_factory=EvalConfig, description="evaluation")

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir) / self.name




# --- loading ----------------------------------------------------------------------------------

def _section_model(model: type[BaseModel], key: str) -> type[BaseModel] | None:
    """The model of field `key` of `model` when it is a nested section, else None."""
    field = model.model_fields.get(key)
    ann = field.annotation if field else None
    return ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None


def move_old_keys(raw: dict, model: type[BaseModel] = RunConfig, where: str = "") -> dict:
    """`raw` with every old flat key moved into its group, in every section (one file or layer)."""
    if issubclass(model, Section) and model.MOVED:
        raw = move_flat_keys(model, raw, where)
    for key, value in list(raw.items()):
        sub = _section_model(model, key)
        if sub is not None and isinstance(value, dict):
            raw[key] = move_old_keys(value, sub, where)
    return raw


def _override_parts(parts: list[str], model: type[BaseModel]) -> list[str]:
    """The dotted key of an override with an old flat key replaced by its new place (warned)."""
    out: list[str] = []
    for part in parts:
        if model is not None and issubclass(model, Section) and part in model.MOVED:
            moved = move_flat_keys(model, {part: None}, "--set")   # warns, names old and new
            group = next(iter(moved))
            out += [group, next(iter(moved[group]))]
            model = _section_model(model, group)
            continue
        out.append(part)
        model = _section_model(model, part) if model is not None else None
    return out


def apply_overrides(raw: dict, overrides: list[str], model: type[BaseModel] = RunConfig) -> dict:
    """Apply `a.b=value` overrides (value parsed as YAML) to a nested dict."""
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise InputError(f"override {item!r} must look like key.sub=value")
        node = raw
        parts = _override_parts(key.strip().split("."), model)
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = yaml.safe_load(value)
    return raw


def deep_merge(base: dict, over: dict) -> dict:
    """`over` on top of `base`: nested dicts merge key by key, anything else is replaced."""
    out = dict(base)
    for key, value in over.items():
        out[key] = deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _read_yaml(path: Path) -> dict:
    if not path.exists():
        raise InputError("no such config file", file=path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise InputError(f"invalid YAML: {getattr(exc, 'problem', exc)}", file=path,
                         line=None if line is None else line + 1) from None
    if not isinstance(raw, dict):
        raise InputError("a config file is a mapping of keys to values", file=path)
    return raw


def read_layers(path: Path, model: type[BaseModel] = RunConfig,
                chain: tuple[Path, ...] = ()) -> list[tuple[Path, dict]]:
    """(file, keys) of `path` and of every `base:` below it, the deepest base first."""
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in (*chain, resolved))
        raise InputError(f"config files name each other as base in a cycle: {cycle}", file=path)
    raw = _read_yaml(path)
    base = raw.pop("base", None)
    layers: list[tuple[Path, dict]] = []
    if base is not None:
        line = _find_key_line(path, ("base",))
        if not isinstance(base, str):
            raise InputError("base must be a config file path", file=path, line=line, field="base")
        base_path = path.parent / base
        if not base_path.exists():
            raise InputError(f"no such base config file: {base_path}", file=path, line=line, field="base")
        layers = read_layers(base_path, model, (*chain, resolved))
    return layers + [(path, move_old_keys(raw, model, str(path)))]


def load_config(path: str | Path | None = None, overrides: list[str] | None = None,
                model: type[BaseModel] = RunConfig) -> Any:
    """The validated config of `path` (merged over its bases) with `overrides` applied."""
    layers = read_layers(Path(path), model) if path is not None else []
    raw: dict = {}
    for _, keys in layers:
        raw = deep_merge(raw, keys)
    from_overrides = apply_overrides({}, overrides or [], model)
    raw = deep_merge(raw, from_overrides)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        source = _source_of(err["loc"], layers, from_overrides)
        line = _find_key_line(source, err["loc"]) if isinstance(source, Path) else None
        raise InputError(err["msg"], file=source, line=line, field=field) from None


def _source_of(loc: tuple, layers: list[tuple[Path, dict]], from_overrides: dict) -> Path | str:
    """Where the value at `loc` came from: "<overrides>", or the last file that sets it."""
    keys = [str(p) for p in loc if isinstance(p, str)]

    def sets(raw: dict) -> bool:
        for key in keys:
            if not isinstance(raw, dict) or key not in raw:
                return False
            raw = raw[key]
        return True
    if sets(from_overrides) or not layers:
        return "<overrides>"
    return next((file for file, raw in reversed(layers) if sets(raw)), layers[-1][0])


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
