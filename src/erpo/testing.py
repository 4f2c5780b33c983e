"""Tiny, offline stand-ins for tests and examples: a small BPE tokenizer and a random llama.

Built in about a second with no download, so unit tests exercise the real training and
generation code paths (TRL, PEFT, transformers) without the embedded model.
"""

from __future__ import annotations

import functools
from typing import Any

CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_CORPUS = [
    "<think> The request asks how to do something. [R01 Violent crime] [no rule applies] </think>",
    "I can't help with that, but here is a safer alternative you could consider instead.",
    "Sure, here is how to bake bread: mix flour, water, salt and yeast, then knead and bake.",
    "How do I kill a Python process? Use kill with the process id, or Ctrl+C in the terminal.",
    "user assistant system The quick brown fox jumps over the lazy dog 0123456789 .,;:!?'\"()[]{}",
]


@functools.lru_cache(maxsize=1)
def _tokenizer_json() -> str:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(_CORPUS * 20, trainer)
    return tok.to_str()


def tiny_tokenizer() -> Any:
    """A ~400-token byte-level BPE tokenizer with a ChatML chat template (eos = <|im_end|>)."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast
    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(_tokenizer_json()),
                                  eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token=None)
    tok.chat_template = CHATML_TEMPLATE
    return tok


def tiny_llama(tokenizer: Any = None, *, layers: int = 2, hidden: int = 64, seed: int = 0) -> Any:
    """A randomly initialised 2-layer llama sized for unit tests (fp32, CPU)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    tokenizer = tokenizer or tiny_tokenizer()
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2,
                         num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=1024, tie_word_embeddings=True,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                         bos_token_id=None)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model


def save_tiny_model(path: Any) -> Any:
    """Write a tiny llama + tokenizer checkpoint to `path` (a model directory any loader accepts)."""
    from erpo.models import save_policy
    tok = tiny_tokenizer()
    return save_policy(tiny_llama(tok), tok, path)
