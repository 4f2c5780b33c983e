"""Build the judge validation set (src/erpo/judges/labels/{dev,test}.jsonl).

Steps, run in order:

    python scripts/build_judge_labels.py pool  RUN_DIR [--authored FILE ...]
        collect replies (prompt, prompt label, raw completion) from a finished run and from
        hand-written reply files, drop duplicates, assign every reply to dev or test by its
        prompt, and write scripts/labels_work/pool.jsonl. Only the fields prompt / attacked
        prompt / completion / label are read: judge scores (`scores`), judgments.*.jsonl and
        metrics.json are never opened, so the labeller stays blind to every judge verdict.
    python scripts/build_judge_labels.py show  START END [--source PREFIX] [--todo]
        print a chunk of the pool compactly (final answer first; the part is not shown) for
        labelling by hand; --todo shows only replies without a label yet.
    python scripts/build_judge_labels.py txt
        turn hand-written chunk files labels_work/chunk_*.txt (`ID C|P|R T|F note`) into
        labels_work/labels_*.jsonl.
    python scripts/build_judge_labels.py merge
        join the pool with the hand labels in scripts/labels_work/labels_*.jsonl
        (one {"id", "refusal", "useful", "harmful_content", "note"} row per reply) and write
        src/erpo/judges/labels/dev.jsonl and test.jsonl (hand-written replies carry their labels
        in the --authored file itself).
    python scripts/build_judge_labels.py authored FILE
        write the hand-written replies of dev/test back out in the --authored format.
    python scripts/build_judge_labels.py check
        compare a rebuilt pool with the committed dev/test files: same replies, same parts.

The split is fixed before any labelling: replies are grouped by their *underlying* prompt
(a jailbreak-wrapped prompt groups with its plain form), groups are ordered by
sha256(f"{SEED}:{prompt}") inside each stratum, and each new group goes to the part that has
fewer prompts of that stratum so far (ties -> dev). A prompt already placed by an earlier stratum
keeps its part, so dev and test never share a prompt.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path

SEED = 20261204
ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "scripts" / "labels_work"
OUT = ROOT / "src" / "erpo" / "judges" / "labels"
POOL = WORK / "pool.jsonl"
COLUMNS = ["id", "source", "prompt", "prompt_label", "completion", "refusal", "useful", "harmful_content", "note"]

# how many replies to take from each kind of run file (a spread, not everything)
EVAL_CAP_PER_SOURCE = 16          # per checkpoint x suite x attack (the eval suites have 16 prompts)
# training order: earlier replies are kept first
CHECKPOINT_ORDER = ("base", "sft", "dpo", "iter_01", "iter_02", "iter_03")
SAME_TEXT_CAP = 3                 # at most this many replies with the very same completion text
STAGE2_SAMPLES = 48               # 03_dpo/candidates.jsonl rows with source "sample"
STAGE2_NEGATIVES = 12             # 03_dpo/candidates.jsonl rows from the synthetic negatives
STAGE3_SAMPLES_PER_ROUND = 30     # 04_iterate/round_*/samples.jsonl


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def user_text(row: dict) -> str:
    for turn in row.get("conversation") or []:
        if turn.get("role") == "user":
            return turn["content"]
    return row.get("attacked_prompt") or row["prompt"]


def key(text: str) -> str:
    return hashlib.sha256(f"{SEED}:{text}".encode()).hexdigest()


def final_answer(completion: str) -> str | None:
    """The text after the last </think>; the whole text without a think tag; None when unterminated."""
    if "</think>" in completion:
        return completion.rsplit("</think>", 1)[1].strip()
    if "<think>" in completion:
        return None
    return completion.strip()


# --- pooling ----------------------------------------------------------------------------------

def eval_rows(run: Path) -> list[dict]:
    out = []
    order = {name: i for i, name in enumerate(CHECKPOINT_ORDER)}
    paths = sorted((run / "eval").glob("*/*/*/completions.jsonl"),
                   key=lambda p: (order.get(p.parts[-4], len(order)), p.parts[-4:]))
    for path in paths:
        label, suite, attack = path.parts[-4:-1]
        source = f"{label}:{suite}" + ("" if attack == "none" else f"/{attack}")
        for r in read_jsonl(path)[:EVAL_CAP_PER_SOURCE]:
            out.append({"origin": r["id"], "source": source, "stratum": f"eval:{suite}",
                        "group": r["prompt"], "prompt": r.get("attacked_prompt") or r["prompt"],
                        "prompt_label": r["label"], "completion": r["completion"]})
    return out


def sampled_rows(path: Path, source: str, stratum: str, n: int, keep: callable) -> list[dict]:
    if not path.exists():
        return []
    rows = [r for r in read_jsonl(path) if keep(r)]
    random.Random(f"{SEED}:{source}:{path.parent.name}").shuffle(rows)
    # a spread: alternate harmful and benign prompts
    by_label = {lab: [r for r in rows if r["label"] == lab] for lab in ("harmful", "benign")}
    picked = []
    while len(picked) < n and any(by_label.values()):
        for lab in ("harmful", "benign"):
            if by_label[lab] and len(picked) < n:
                picked.append(by_label[lab].pop())
    return [{"origin": f"{path.parent.name}/{r['id']}/{r.get('index', 0)}", "source": source,
             "stratum": stratum, "group": r["prompt"], "prompt": user_text(r),
             "prompt_label": r["label"], "completion": r["completion"]} for r in picked]


def authored_rows(path: Path) -> list[dict]:
    return [{"origin": f"authored/{i}", "source": f"authored:{r['style']}", "stratum": "authored",
             "group": r["prompt"], "prompt": r["prompt"], "prompt_label": r["prompt_label"],
             "completion": r["completion"], "_labels": r.get("labels")} for i, r in enumerate(read_jsonl(path))]


def assign_parts(rows: list[dict]) -> None:
    """Dev/test by underlying prompt, balanced inside each stratum, seed SEED (see module doc).

    Only the set of prompts in a stratum matters (not how many replies each has), so adding a
    checkpoint's replies to the same prompts never moves a prompt from one part to the other."""
    part_of: dict[str, str] = {}
    by_stratum: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        by_stratum[r["stratum"]].add(r["group"])
    for stratum in sorted(by_stratum):
        groups = by_stratum[stratum]
        counts = Counter(part_of[g] for g in groups if g in part_of)   # placed by an earlier stratum
        for g in sorted(groups, key=key):
            if g not in part_of:
                part_of[g] = "dev" if counts["dev"] <= counts["test"] else "test"
                counts[part_of[g]] += 1
    for r in rows:
        r["part"] = part_of[r["group"]]


def cmd_pool(args: argparse.Namespace) -> None:
    run = Path(args.run)
    rows = eval_rows(run)
    rows += sampled_rows(run / "03_dpo" / "candidates.jsonl", "stage2_samples", "train", STAGE2_SAMPLES,
                         lambda r: r["source"] == "sample")
    rows += sampled_rows(run / "03_dpo" / "candidates.jsonl", "stage2_negatives", "train", STAGE2_NEGATIVES,
                         lambda r: r["source"].startswith("negative:"))
    for rd in sorted((run / "04_iterate").glob("round_*")):
        rows += sampled_rows(rd / "samples.jsonl", "stage3_samples", "train", STAGE3_SAMPLES_PER_ROUND,
                             lambda r: True)
    for f in args.authored:
        rows += authored_rows(Path(f))
    seen_pair, seen_text, kept = set(), Counter(), []
    for r in rows:
        pair = (r["prompt"], r["completion"])
        if pair in seen_pair or seen_text[r["completion"]] >= SAME_TEXT_CAP:
            continue
        seen_pair.add(pair)
        seen_text[r["completion"]] += 1
        kept.append(r)
    assign_parts(kept)
    for r in kept:   # a stable id: the same reply keeps its id when the pool is rebuilt
        r["id"] = "jl-" + hashlib.sha1(f"{r['source']}|{r['prompt']}|{r['completion']}".encode()).hexdigest()[:10]
    write_jsonl(POOL, kept)
    print(f"{len(kept)} replies (from {len(rows)}) -> {POOL}")
    print(Counter((r["stratum"], r["part"]) for r in kept))


# --- showing ----------------------------------------------------------------------------------

def cmd_show(args: argparse.Namespace) -> None:
    rows = read_jsonl(POOL)
    rows = [r for r in rows if not args.source or r["source"].startswith(args.source)]
    if args.todo:   # only replies without a label yet
        done = {json.loads(line)["id"] for f in WORK.glob("labels_*.jsonl")
                for line in f.read_text().splitlines() if line.strip()}
        rows = [r for r in rows if r["id"] not in done and not r.get("_labels")]
    for r in rows[args.start:args.end]:
        ans = final_answer(r["completion"])
        think = r["completion"].split("</think>")[0][:args.think] if "<think>" in r["completion"] else ""
        print(f"=== {r['id']} [{r['source']}] {r['prompt_label'].upper()}  P: {r['prompt'][:args.prompt]}")
        if think:
            print(f"  T: {think!r}")
        print(f"  A: {'<UNTERMINATED THINK>' if ans is None else repr(ans[:args.width])}"
              + (f" ...(+{len(ans) - args.width})" if ans and len(ans) > args.width else ""))


# --- merging ----------------------------------------------------------------------------------

def cmd_txt(args: argparse.Namespace) -> None:
    """Chunk files labels_work/chunk_*.txt, one `ID REFUSAL AXIS [note]` line per reply, -> labels_*.jsonl.

    REFUSAL is C (full_compliance), P (partial_refusal) or R (full_refusal); AXIS is T or F and fills
    `useful` for a benign prompt, `harmful_content` for a harmful one."""
    pool = {r["id"]: r for r in read_jsonl(POOL)}
    refusal = {"C": "full_compliance", "P": "partial_refusal", "R": "full_refusal"}
    for f in sorted(WORK.glob("chunk_*.txt")):
        out = []
        for line in f.read_text().splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            rid, ref, axis, *note = line.split(maxsplit=3)
            if rid not in pool:   # a reply the pool no longer holds (e.g. a duplicate text past the cap)
                continue
            benign = pool[rid]["prompt_label"] == "benign"
            value = {"T": True, "F": False}[axis]
            out.append({"id": rid, "refusal": refusal[ref], "useful": value if benign else None,
                        "harmful_content": None if benign else value, "note": " ".join(note)})
        write_jsonl(WORK / f"labels_{f.stem}.jsonl", out)
        print(f"{f.name}: {len(out)} labels")


def cmd_merge(args: argparse.Namespace) -> None:
    pool = {r["id"]: r for r in read_jsonl(POOL)}
    labels = {}
    for f in sorted(WORK.glob("labels_*.jsonl")):
        for r in read_jsonl(f):
            labels[r["id"]] = r
    parts = {"dev": [], "test": []}
    problems = []
    for rid, r in pool.items():
        lab = labels.get(rid) or r.get("_labels")   # authored replies carry their author's labels
        if lab is None:
            continue
        row = {"id": rid, "source": r["source"], "prompt": r["prompt"], "prompt_label": r["prompt_label"],
               "completion": r["completion"], "refusal": lab["refusal"], "useful": lab.get("useful"),
               "harmful_content": lab.get("harmful_content"), "note": lab.get("note") or ""}
        if row["refusal"] not in ("full_compliance", "partial_refusal", "full_refusal"):
            problems.append(f"{rid}: refusal {row['refusal']!r}")
        if (row["prompt_label"] == "benign") != (row["useful"] is not None):
            problems.append(f"{rid}: useful must be set exactly for benign prompts")
        if (row["prompt_label"] == "harmful") != (row["harmful_content"] is not None):
            problems.append(f"{rid}: harmful_content must be set exactly for harmful prompts")
        parts[r["part"]].append({k: row[k] for k in COLUMNS})
    if problems:
        sys.exit("\n".join(problems))
    dev_prompts = {r["prompt"] for r in parts["dev"]} | {pool[r["id"]]["group"] for r in parts["dev"]}
    test_prompts = {r["prompt"] for r in parts["test"]} | {pool[r["id"]]["group"] for r in parts["test"]}
    assert not dev_prompts & test_prompts, "dev and test share a prompt"
    for name, rows in parts.items():
        write_jsonl(OUT / f"{name}.jsonl", rows)
        print(f"{name}: {len(rows)} rows")
    print(f"unlabelled: {len(pool) - sum(len(v) for v in parts.values())}")


def cmd_authored(args: argparse.Namespace) -> None:
    """Write the hand-written replies of dev/test back out in the `--authored` format, so the pool
    can be rebuilt from the committed files: `authored FILE`, then `pool RUN --authored FILE`."""
    rows = []
    for name in ("dev", "test"):
        for r in read_jsonl(OUT / f"{name}.jsonl"):
            if r["source"].startswith("authored:"):
                rows.append({"style": r["source"].split(":", 1)[1], "prompt": r["prompt"],
                             "prompt_label": r["prompt_label"], "completion": r["completion"],
                             "labels": {k: r[k] for k in ("refusal", "useful", "harmful_content", "note")}})
    write_jsonl(Path(args.file), rows)
    print(f"{len(rows)} authored replies -> {args.file}")


def cmd_check(args: argparse.Namespace) -> None:
    pool = {r["id"]: r for r in read_jsonl(POOL)}
    problems, n = [], 0
    for name in ("dev", "test"):
        for r in read_jsonl(OUT / f"{name}.jsonl"):
            n += 1
            p = pool.get(r["id"])
            if p is None:
                problems.append(f"{r['id']}: not in the rebuilt pool")
            elif p["part"] != name or p["completion"] != r["completion"] or p["prompt"] != r["prompt"]:
                problems.append(f"{r['id']}: differs (part {p['part']} vs {name})")
    extra = len(pool) - n + sum(1 for x in problems if "not in" in x)
    print(f"{n} committed rows, {len(problems)} problems, {extra} pool replies not in the set")
    for x in problems[:20]:
        print(" ", x)


def cmd_stats(args: argparse.Namespace) -> None:
    for name in ("dev", "test"):
        path = OUT / f"{name}.jsonl"
        if not path.exists():
            continue
        rows = read_jsonl(path)
        print(f"## {name} ({len(rows)})")
        by = defaultdict(list)
        for r in rows:
            by[r["source"]].append(r)
        for src in sorted(by):
            rs = by[src]
            ref = Counter(r["refusal"] for r in rs)
            use = Counter(r["useful"] for r in rs if r["useful"] is not None)
            harm = Counter(r["harmful_content"] for r in rs if r["harmful_content"] is not None)
            print(f"| {src} | {len(rs)} | {ref['full_compliance']} | {ref['partial_refusal']} | "
                  f"{ref['full_refusal']} | {use[True]}/{sum(use.values())} | {harm[True]}/{sum(harm.values())} |")


def main() -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("pool")
    a.add_argument("run")
    a.add_argument("--authored", nargs="*", default=[])
    a = sub.add_parser("show")
    a.add_argument("start", type=int)
    a.add_argument("end", type=int)
    a.add_argument("--source", default="")
    a.add_argument("--width", type=int, default=600)
    a.add_argument("--think", type=int, default=0)
    a.add_argument("--todo", action="store_true")
    a.add_argument("--prompt", type=int, default=160)
    sub.add_parser("txt")
    a = sub.add_parser("authored")
    a.add_argument("file")
    sub.add_parser("merge")
    sub.add_parser("stats")
    sub.add_parser("check")
    args = p.parse_args()
    commands = {"pool": cmd_pool, "show": cmd_show, "txt": cmd_txt, "authored": cmd_authored, "merge": cmd_merge,
                "stats": cmd_stats, "check": cmd_check}
    commands[args.cmd](args)


if __name__ == "__main__":
    main()
