"""The report stage: plot data, `dvc plots show`, and the page as headless Chromium renders it."""

from __future__ import annotations

import csv
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from fcsynth.curate import curate, reason_keys
from fcsynth.report import PLOT_FILES, page_data, render_page, write_plots

from helpers.fabricate import conversation_row, curate_config, good_scores, judged_row
from helpers.paths import REPO

SELECTIONS = ("gmail", "googlecalendar", "gmail+googlecalendar")


@pytest.fixture(scope="module")
def judged_and_decisions():
    rows = [judged_row(conversation_row(s, k, thinking=k == 0), good_scores(tool_use_quality=5 - k))
            for s in SELECTIONS for k in range(3)]
    rows.append(judged_row(conversation_row("gmail", 9, status="truncated"), None, "upstream_failed"))
    # text that must stay text: it must neither close the data script nor become markup
    rows[0]["messages"] = rows[0]["messages"].replace("Done:", "Done </script><b>bold</b>:")
    _, decisions, _ = curate(rows, curate_config(thresholds={"tool_use_quality": 4}), lambda r: [])
    return rows, decisions


@pytest.fixture(scope="module")
def page(tmp_path_factory, judged_and_decisions):
    rows, decisions = judged_and_decisions
    out = tmp_path_factory.mktemp("report") / "index.html"
    out.write_text(render_page(page_data(rows, decisions, 500)))
    return out


def test_plot_files_hold_the_distributions(tmp_path, judged_and_decisions):
    rows, decisions = judged_and_decisions
    paths = write_plots(rows, decisions, tmp_path)
    assert sorted(p.name for p in paths.values()) == sorted(PLOT_FILES)
    read = lambda name: list(csv.DictReader((tmp_path / name).open()))
    scores = read("scores.csv")
    assert [r["score"] for r in scores] == ["1", "2", "3", "4", "5"]
    assert [int(r["tool_use_quality"]) for r in scores] == [0, 0, 3, 3, 3]
    acc = {r["selection"]: r for r in read("acceptance.csv")}
    assert acc["gmail"] == {"selection": "gmail", "conversations": "4", "accepted": "2", "acceptance_rate": "0.5"}
    assert {r["reason"]: int(r["conversations"]) for r in read("rejections.csv")} == {"score_tool_use_quality": 3, "upstream_truncated": 1}
    assert read("turns.csv") == [{"user_turns": "1", "conversations": "6"}]
    assert {r["tool_calls"]: r["conversations"] for r in read("tool_calls.csv")} == {"0": "0", "1": "4", "2": "2"}
    quality = {r["metric"]: float(r["value"]) for r in read("quality.csv")}
    assert quality["placeholder_rate before"] == quality["repeated_call_rate after"] == 0.0
    assert 0 < quality["grounding_mean before"] <= 1 and "grounded_share after" in quality
    hist = read("grounding.csv")
    assert len(hist) == 10 and sum(int(r["before"]) for r in hist) == 9 and sum(int(r["after"]) for r in hist) == 6
    assert read("grounding_judge.csv") == [{"argument_grounding": "4", "conversations": "9",
                                            "mean_grounding": str(round(sum(d["grounding"] for d in decisions if d["grounding"] is not None) / 9, 4))}]


def test_page_carries_the_rule_check_values(judged_and_decisions):
    rows, decisions = judged_and_decisions
    entries = {c["id"]: c for c in page_data(rows, decisions, 500)["conversations"]}
    q = entries["gmail_googlecalendar-0001"]["quality"]
    assert q["tool_calls"] == 2 and q["placeholder_values"] == 0 and 0 < q["grounding"] < 1
    assert "create_event /start" in q["notes"]["ungrounded"][0]
    assert entries["gmail-0009"]["quality"] is None  # truncated upstream: nothing to measure


def test_page_is_self_contained(page):
    html = page.read_text()
    assert "<script src" not in html and "<link" not in html and "http://" not in html and "https://" not in html
    assert html.count("</script>") == 2  # the data block and the code, nothing from the data


def test_page_data_caps_and_prefers_accepted(judged_and_decisions):
    rows, decisions = judged_and_decisions
    data = page_data(rows, decisions, 4)
    assert len(data["conversations"]) == 4 and data["total"] == 10
    assert all(c["accepted"] for c in data["conversations"])


def test_dvc_plots_show_renders_html(tmp_path):
    """The dvc.yaml plot definitions render with `dvc plots show` over the plot files."""
    work = tmp_path / "proj"
    work.mkdir()
    shutil.copy(REPO / "dvc.yaml", work / "dvc.yaml")
    shutil.copy(REPO / "params.yaml", work / "params.yaml")
    rows = [judged_row(conversation_row(s, k), good_scores(tool_use_quality=5 - k)) for s in SELECTIONS for k in range(2)]
    cfg = curate_config(thresholds={"tool_use_quality": 4})
    _, decisions, _ = curate(rows, cfg, lambda r: [])  # all accepted: rejections are all zeros
    write_plots(rows, decisions, work / "metrics" / "plots", reason_keys(cfg))
    subprocess.run(["git", "init", "-q"], cwd=work, check=True)
    subprocess.run(["dvc", "init", "-q"], cwd=work, check=True)
    res = subprocess.run(["dvc", "plots", "show", "-o", "plots_out"], cwd=work, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    html = (work / "plots_out" / "index.html").read_text()
    for title in ("Judge score: tool_use_quality", "Acceptance per selection", "User turns per conversation",
                  "Tool calls per conversation", "Rejections by reason", "Rule-based quality before and after curation",
                  "Argument grounding per conversation: after curation", "Rule grounding per judge argument_grounding score"):
        assert title in html, title
    assert '"selection": "gmail+googlecalendar"' in html or "gmail+googlecalendar" in html


# ---- the page in a real browser -------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> str:
    res = subprocess.run(["bash", str(REPO / "scripts" / "ensure_chromium.sh")], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"chromium could not be installed (apt-get failed): {res.stderr.strip().splitlines()[-1:]}")
    return res.stdout.strip().splitlines()[-1]


def browse(chromium: str, url: str, tmp: Path, screenshot: Path | None = None) -> str:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp / 'chromium-profile'}", "--window-size=1280,900"]
    action = [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
    res = subprocess.run([chromium, *flags, *action, url], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


class Dom(HTMLParser):
    """The parts of the rendered page a person looks at."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.items: list[dict[str, str]] = []  # the conversation list
        self.detail_id = ""
        self.roles: list[str] = []
        self.calls: list[str] = []
        self.dimensions: list[str] = []
        self.selected = ""
        self.text: list[str] = []
        self._in_detail = 0
        self._option_selected = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = a.get("class", "") or ""
        if tag == "li" and "conv" in cls.split():
            self.items.append({"id": a.get("data-id", ""), "selection": a.get("data-selection", "")})
        if tag == "section" and a.get("id") == "detail":
            self.detail_id = a.get("data-id", "")
        if "msg" in cls.split():
            self.roles.append(a.get("data-role", ""))
        if "call" in cls.split() and a.get("data-tool"):
            self.calls.append(a["data-tool"])
        if a.get("data-dimension"):
            self.dimensions.append(a["data-dimension"])
        if tag == "body":
            self.selected = a.get("data-selection", "")

    def handle_data(self, data):
        self.text.append(data)

    @property
    def all_text(self) -> str:
        return " ".join(self.text)


def test_page_in_headless_chromium(chromium, page, tmp_path, judged_and_decisions):
    rows, _ = judged_and_decisions
    url = page.as_uri()

    shot = tmp_path / "report.png"
    browse(chromium, url, tmp_path, screenshot=shot)
    assert shot.exists() and shot.stat().st_size > 20_000  # a rendered page, not a blank one

    dom = Dom(browse(chromium, url, tmp_path))
    assert [i["id"] for i in dom.items] == sorted(r["id"] for r in rows)
    first = sorted(rows, key=lambda r: r["id"])[0]
    assert dom.detail_id == first["id"]
    assert dom.roles == ["system", "user", "assistant", "tool", "assistant"]
    assert dom.calls == ["send_email"]
    assert dom.dimensions == ["user_query_clarity", "tool_use_quality", "argument_grounding", "task_completion", "naturalness"]
    text = dom.all_text
    for needle in ("You are a concise assistant for a project manager.", "Please email person0@example.com",
                   '"status": "sent"', "The calls match the request", first["scenario"], "accepted",
                   "Done </script><b>bold</b>:", "10 conversations judged · 6 accepted", "Rule checks",
                   "argument values found in earlier context"):
        assert needle in text, needle

    gmail = Dom(browse(chromium, url + "#selection=gmail", tmp_path))
    assert gmail.selected == "gmail"
    assert {i["selection"] for i in gmail.items} == {"gmail"} and len(gmail.items) == 4

    bundle = Dom(browse(chromium, url + "#selection=" + "gmail%2Bgooglecalendar" + "&id=gmail_googlecalendar-0002", tmp_path))
    assert {i["selection"] for i in bundle.items} == {"gmail+googlecalendar"}
    assert bundle.detail_id == "gmail_googlecalendar-0002" and bundle.calls == ["send_email", "create_event"]
    assert "rejected: score_tool_use_quality" in bundle.all_text and "tool_use_quality=3 < 4" in bundle.all_text

    rejected = Dom(browse(chromium, url + "#status=rejected", tmp_path))
    assert len(rejected.items) == 4
    truncated = Dom(browse(chromium, url + "#id=gmail-0009", tmp_path))
    assert truncated.detail_id == "gmail-0009" and "upstream_truncated" in truncated.all_text
