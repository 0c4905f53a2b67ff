"""Every conf/ key has a comment, and docs/reference/configuration.md is generated from conf/ as it is."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from helpers.paths import REPO

SCRIPTS = REPO / "scripts"
sys.path.insert(0, str(SCRIPTS))
conf_comments = importlib.import_module("conf_comments")
config_reference = importlib.import_module("config_reference")


def test_every_conf_key_has_a_comment() -> None:
    missing = conf_comments.uncommented_keys()
    assert not missing, (
        "keys without a comment (at the end of their line or right above it; a file's top comment block "
        "describes the file, not its first key):\n" + "\n".join(missing)
    )


def test_reference_page_is_current() -> None:
    assert config_reference.main(["--check"]) == 0, "run `python scripts/config_reference.py`"


def test_check_mode_reports_a_stale_page(tmp_path: Path, monkeypatch, capsys) -> None:
    page = tmp_path / "configuration.md"
    page.write_text("# stale\n")
    monkeypatch.setattr(config_reference, "OUTPUT", page)
    assert config_reference.main(["--check"]) == 1
    assert page.read_text() == "# stale\n"
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


SAMPLE = """\
# What the group is for.

eol: 1             # said at the end of its line
# said on the line above
above: 2
long: 3            # begins here
                   # and goes on below
# above the next key, not a continuation
section:           # a section
  # the nested key's own comment
  nested: [1, 2]
  bare: x
flow: {a: 1}       # a flow mapping is one value
"""


def test_comment_extraction(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    (conf / "group").mkdir(parents=True)
    (conf / "group" / "sample.yaml").write_text(SAMPLE)
    parsed = conf_comments.read_conf_file(conf / "group" / "sample.yaml", "group")
    assert parsed.description == "What the group is for."
    assert parsed.package == ("group",)
    comments = {".".join(k.path): k.comment for k in parsed.keys}
    assert comments == {
        "eol": "said at the end of its line",
        "above": "said on the line above",
        "long": "begins here and goes on below",
        "section": "above the next key, not a continuation a section",
        "section.nested": "the nested key's own comment",
        "section.bare": "",
        "flow": "a flow mapping is one value",
    }
    assert conf_comments.uncommented_keys(conf) == ["conf/group/sample.yaml: section.bare"]


def test_global_package_group_names_need_no_comment(tmp_path: Path) -> None:
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "x.yaml").write_text(
        "# @package _global_\n# An experiment.\ndefaults:\n  - override /llm: fake\ntrain:\n  epochs: 1  # one pass\n"
    )
    parsed = conf_comments.read_conf_file(tmp_path / "experiment" / "x.yaml", "experiment")
    assert parsed.package == () and parsed.description == "An experiment."
    assert conf_comments.uncommented_keys(tmp_path) == []


def test_types_and_ranges_come_from_the_schema() -> None:
    describe, field_at = config_reference.describe, config_reference.field_at
    assert describe(*field_at(("train", "lora", "r"))) == ("int", "> 0")
    assert describe(*field_at(("dml", "max_think_chars"))) == ("int or null", "≥ 8")
    assert describe(*field_at(("export", "test_fraction"))) == ("float", "[0, 1)")
    assert describe(*field_at(("blueprints", "user_turns"))) == ("list[int]", "2 items")
    kind, choices = describe(*field_at(("llm", "backend")))  # every backend's choice, from the union's members
    assert kind == "str" and all(f"`{b}`" in choices for b in ("vllm", "fake", "ray", "openai"))
    assert field_at(("train", "no_such_key")) is None


def test_page_shows_defaults_options_and_overrides() -> None:
    page = config_reference.render()
    assert "Default option: `vllm` (conf/llm/vllm.yaml)." in page
    assert "### llm=ray" in page and "Builds on: `llm=vllm`." in page
    # model=smollm2 comes later in the defaults list and lowers curate's default
    assert "| `curate.min_grounding` | float | [0, 1] | `0.5` (`0.0` with `model=smollm2`) |" in page
