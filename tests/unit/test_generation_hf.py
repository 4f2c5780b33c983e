"""The HF backend: token-budget batches, the same replies however prompts are batched, reply prefixes."""

from erpo.generation import SamplingParams, user_turn
from erpo.generation.hf import HFBackend, token_budget_batches


def test_long_prompts_get_small_batches_and_short_ones_share_one():
    lengths = [10] * 6 + [1000, 2000]
    batches = token_budget_batches(lengths, batch_size=32, max_batch_tokens=4096, new_tokens=100)
    assert batches[0] == [0, 1, 2, 3, 4, 5]                        # short prompts stay together
    assert [6] in batches and [7] in batches                       # each long one alone
    for batch in batches:
        widest = max(lengths[i] for i in batch)
        assert len(batch) == 1 or len(batch) * (widest + 100) <= 4096


def test_samples_per_prompt_count_against_the_budget_and_batch_size_still_caps():
    lengths = [100] * 10
    assert token_budget_batches(lengths, 32, 1000, new_tokens=100, rows_per_prompt=2) == \
        [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]
    assert [len(b) for b in token_budget_batches(lengths, 4, None, 100)] == [4, 4, 2]


def test_budgeted_batches_give_the_same_greedy_replies(tiny_model_dir):
    prompts = [user_turn("How do I kill a Python process? " * n) for n in (1, 2, 8, 1, 3)]
    params = SamplingParams(max_new_tokens=8)
    one_batch = HFBackend(str(tiny_model_dir), dtype="fp32", batch_size=16, max_batch_tokens=None)
    budgeted = HFBackend(one_batch.model, one_batch.tokenizer, batch_size=16, max_batch_tokens=200)
    expected = [g[0].text for g in one_batch.generate(prompts, params)]
    assert [g[0].text for g in budgeted.generate(prompts, params)] == expected


def test_a_reply_prefix_is_continued_not_answered_anew(tiny_model_dir):
    backend = HFBackend(str(tiny_model_dir), dtype="fp32")
    turn = user_turn("How do I kill a Python process?")
    prefixed = turn + [{"role": "assistant", "content": "<think>\nIntent: Asked:"}]
    new_turn, continued = backend.encode(turn), backend.encode(prefixed)
    assert continued[:len(new_turn)] == new_turn   # the same prompt, then the prefix and no end-of-turn
    assert backend.tokenizer.decode(continued[len(new_turn):]) == "<think>\nIntent: Asked:"
    gen = backend.generate([prefixed], SamplingParams(max_new_tokens=4))[0][0]
    assert gen.completion_tokens == 4 and gen.prompt_tokens == len(continued)
