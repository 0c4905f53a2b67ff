"""Printing a dataset diff report as rich tables."""

from __future__ import annotations

from typing import Any

from fcsynth.diff.revisions import SCORE_LEVELS


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _signed(value: float | int | None) -> str:
    if value is None:
        return "-"
    text = f"{value:+.3f}" if isinstance(value, float) else f"{value:+d}"
    style = "green" if value > 0 else "red" if value < 0 else "dim"
    return f"[{style}]{text}[/{style}]"


def _hist(summary: dict[str, Any] | None) -> str:
    if not summary:
        return "-"
    return " ".join(f"{level}:{summary['histogram'][level]}" for level in SCORE_LEVELS)


def _ids(ids: list[str], limit: int = 8) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f", … (+{len(ids) - limit})" if len(ids) > limit else "")


def render(report: dict[str, Any], console: Any | None = None) -> None:
    """Print the report as rich tables."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    a, b = report["a"], report["b"]
    conv = report["conversations"]

    summary = Table(title=f"dataset diff: {a['rev']} → {b['rev']}", title_justify="left")
    summary.add_column("")
    summary.add_column(a["rev"], justify="right")
    summary.add_column(b["rev"], justify="right")
    summary.add_column("Δ", justify="right")
    summary.add_row("conversations", str(a["records"]), str(b["records"]), _signed(b["records"] - a["records"]))
    for split in sorted(set(a["splits"]) | set(b["splits"])):
        na, nb = a["splits"].get(split, 0), b["splits"].get(split, 0)
        summary.add_row(f"  {split}", str(na), str(nb), _signed(nb - na))
    rate = report["acceptance_rate"]
    summary.add_row("acceptance rate", _fmt(rate["a"]), _fmt(rate["b"]), _signed(rate["delta"]))
    cov = report["tool_coverage"]
    summary.add_row("tools used", str(cov["a"]), str(cov["b"]), _signed(cov["b"] - cov["a"]))
    summary.add_row("tools offered", str(a["tools_offered"]), str(b["tools_offered"]),
                    _signed(b["tools_offered"] - a["tools_offered"]))
    console.print(summary)

    changes = Table(title="conversations", title_justify="left")
    changes.add_column("change")
    changes.add_column("count", justify="right")
    changes.add_column("ids")
    for kind in ("added", "removed", "changed"):
        changes.add_row(kind, str(len(conv[kind])), _ids(conv[kind]))
    changes.add_row("unchanged", str(conv["unchanged"]), "")
    console.print(changes)

    if report["selections"]:
        sel = Table(title="per selection", title_justify="left")
        sel.add_column("selection")
        sel.add_column(a["rev"], justify="right")
        sel.add_column(b["rev"], justify="right")
        sel.add_column("Δ", justify="right")
        for name, row in report["selections"].items():
            sel.add_row(name, str(row["a"]), str(row["b"]), _signed(row["delta"]))
        console.print(sel)

    if report["scores"]:
        scores = Table(title="judge scores (mean, histogram 1..5)", title_justify="left")
        scores.add_column("dimension")
        scores.add_column(f"mean {a['rev']}", justify="right")
        scores.add_column(f"mean {b['rev']}", justify="right")
        scores.add_column("Δ", justify="right")
        scores.add_column(f"hist {a['rev']}")
        scores.add_column(f"hist {b['rev']}")
        for dim, row in report["scores"].items():
            scores.add_row(dim, _fmt(row["a"] and row["a"]["mean"]), _fmt(row["b"] and row["b"]["mean"]),
                           _signed(row["mean_delta"]), _hist(row["a"]), _hist(row["b"]))
        console.print(scores)

    if cov["newly_covered"] or cov["lost"]:
        console.print(f"tools newly covered: {_ids(cov['newly_covered'], 20) or '-'}")
        console.print(f"tools no longer covered: {_ids(cov['lost'], 20) or '-'}")
