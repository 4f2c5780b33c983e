"""Pipeline stages, each readable top to bottom: build_data, sft, dpo, iterate, evaluate, report."""
