"""Base vs tuned: the deltas of their overall figures, the side-by-side plot and EVALUATION.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fcsynth.atomic import write_text_atomic

MODELS = ("base", "tuned")
# Figures that improve upward, in the order the plot and EVALUATION.md show them.
SCORES = ("function_call_match", "exact_match", "tool_name_accuracy", "argument_f1",
          "no_call_accuracy", "step_accuracy")
# Figures compared besides the scores (counts that should fall).
COUNTS = ("argument_precision", "argument_recall", "malformed_calls", "truncated")


def deltas(base: dict[str, Any], tuned: dict[str, Any]) -> dict[str, float | None]:
    """tuned - base for every score and count (None where either side has no value)."""
    out: dict[str, float | None] = {}
    for key in (*SCORES, *COUNTS):
        a, b = base.get(key), tuned.get(key)
        out[key] = None if a is None or b is None else round(b - a, 4)
    return out


def write_plot(blocks: dict[str, dict[str, Any]], path: Path) -> None:
    """`figure,score` rows, "<score> (base)" next to "<score> (tuned)": one DVC bar plot."""
    lines = ["figure,score"]
    for key in SCORES:
        for model in MODELS:
            value = blocks[model].get(key)
            lines.append(f"{key} ({model}),{'' if value is None else value}")
    write_text_atomic(path, "\n".join(lines) + "\n")


def evaluation_markdown(metrics: dict[str, Any]) -> str:
    """EVALUATION.md next to the dataset card: base and tuned on the test split."""
    base, tuned, delta = metrics["base"], metrics["tuned"], metrics["delta"]
    models = metrics["models"]
    lines = [
        "# Evaluation on the test split", "",
        f"Base model `{models['base']['name']}` and the same model after SFT on the train split "
        f"(`{models['tuned']['name']}`), scored on {base['steps']} steps of the test split "
        f"({base['call_steps']} tool-call steps, {base['text_steps']} text steps); "
        f"prompt style `{models['base']['prompt_style']}`. Written by the `evaluate` stage "
        "(metrics/evaluate.json).", "",
        "| figure | base | tuned | delta |", "|---|---:|---:|---:|",
    ]
    for key in (*SCORES, *COUNTS):
        d = delta.get(key)
        lines.append(f"| {key} | {_cell(base.get(key))} | {_cell(tuned.get(key))} | "
                     f"{'–' if d is None else f'{d:+g}'} |")
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    return "–" if value is None else str(value)


def bfcl_summaries(rows: list[dict[str, Any]], categories: list[str]) -> dict[str, Any]:
    """`{"base": summary, "tuned": summary}` of BFCL rows (fcsynth.bfcl.summarize)."""
    from fcsynth.bfcl.run import summarize

    return {model: summarize([r for r in rows if r["model"] == model], categories) for model in MODELS}


def write_bfcl_plot(bfcl: dict[str, Any], path: Path) -> None:
    """`category,model,accuracy` rows (overall last): one grouped DVC bar plot."""
    lines = ["category,model,accuracy"]
    for category in [*bfcl["base"]["categories"], "overall"]:
        for model in MODELS:
            block = bfcl[model]
            value = block["overall"] if category == "overall" else block["categories"][category]["accuracy"]
            lines.append(f"{category},{model},{'' if value is None else value}")
    write_text_atomic(path, "\n".join(lines) + "\n")


def bfcl_markdown(bfcl: dict[str, Any], full: bool) -> str:
    """The BFCL section of EVALUATION.md: accuracy per category, base and tuned (`full`:
    every entry of each category ran, else a seeded subset)."""
    base, tuned = bfcl["base"], bfcl["tuned"]
    subset = "every entry" if full else "a seeded subset of each category (`entries`)"
    lines = [
        "", "## BFCL v4", "",
        f"Scored by BFCL's own checkers (bfcl-eval) on {subset}: the AST checker for the single-turn "
        "categories, no decoded call for `irrelevance`, and the state and response checks after running "
        "the model's calls in BFCL's environments for `multi_turn_base`. Entries whose prompt does not fit "
        "the model's context count as wrong; `skipped` is their share. Overall is the unweighted mean of the "
        "categories below (BFCL's own overall weighs groups of categories this run does not all have).", "",
        "| category | entries | base | tuned | delta | skipped | unparseable (base / tuned) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for category, b in base["categories"].items():
        t = tuned["categories"][category]
        delta = "–" if b["accuracy"] is None or t["accuracy"] is None else f"{t['accuracy'] - b['accuracy']:+.3f}"
        lines.append(f"| {category} | {b['entries']} | {_cell(b['accuracy'])} | {_cell(t['accuracy'])} | {delta} | "
                     f"{_cell(b['skipped_share'])} | {b['unparseable']} / {t['unparseable']} |")
    overall = "–" if base["overall"] is None or tuned["overall"] is None else f"{tuned['overall'] - base['overall']:+.3f}"
    lines.append(f"| **overall** | {base['entries']} | {_cell(base['overall'])} | {_cell(tuned['overall'])} | {overall} | | |")
    return "\n".join(lines) + "\n"
