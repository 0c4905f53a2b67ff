"""The export stage: records, deterministic split, JSONL/Parquet files that load and render."""

from __future__ import annotations

import json
import random

import pytest
import yaml

from fcsynth.chat.record import build_record
from fcsynth.config import load_params
from fcsynth.export import selections_without_test, split_records, write_split
from fcsynth.export.card import render_card

from helpers.fabricate import conversation_row, good_scores, judged_row
from helpers.paths import REPO

SELECTIONS = ("gmail", "googlecalendar", "gmail+googlecalendar")

# A small tool-aware chat template (SmolLM2's own ignores `tools`).
TOOL_TEMPLATE = """
{%- if tools %}<|im_start|>system
You can call these tools:
{% for t in tools %}{{ t | tojson }}
{% endfor %}<|im_end|>
{% endif -%}
{%- for m in messages -%}
<|im_start|>{{ m.role }}
{%- if m.role == 'tool' %} name={{ m.name }} id={{ m.tool_call_id }}{% endif %}
{% if m.reasoning_content %}<think>{{ m.reasoning_content }}</think>{% endif -%}
{%- if m.tool_calls %}{% for c in m.tool_calls %}<tool_call>{"name": "{{ c.function.name }}", "arguments": {% if c.function.arguments is string %}{{ c.function.arguments }}{% else %}{{ c.function.arguments | tojson }}{% endif %}}</tool_call>{% endfor %}{% endif -%}
{{ m.content if m.content else '' }}<|im_end|>
{% endfor -%}
{%- if add_generation_prompt %}<|im_start|>assistant
{% endif -%}
"""


@pytest.fixture(scope="module")
def cfg():
    return load_params(REPO / "params.yaml")


@pytest.fixture(scope="module")
def curated():
    rows = []
    for sel in SELECTIONS:
        for k in range(4):
            rows.append(judged_row(conversation_row(sel, k, thinking=k % 2 == 0), good_scores(), drop=k == 3))
    return rows


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory, cfg, curated):
    out = tmp_path_factory.mktemp("dataset")
    splits = split_records([build_record(r) for r in curated], 0.25)
    for split, records in splits.items():
        write_split(records, out, split)
    (out / "README.md").write_text(render_card(cfg, splits, {"records_in": 14, "records_out": 12, "acceptance_rate": 0.857,
                                                             "rejected": {"score_tool_use_quality": 2}}))
    return out


def test_record_has_system_prompt_thinking_and_object_arguments(curated):
    rec = build_record(curated[0])
    assert list(rec) == ["id", "messages", "tools", "selection", "toolkits", "scenario", "persona", "clarity", "scores"]
    assert rec["messages"][0] == {"role": "system", "content": "You are a concise assistant for a project manager."}
    assert rec["messages"][1]["role"] == "user"
    call_msg = rec["messages"][2]
    assert call_msg["reasoning_content"].startswith("The user wants")
    assert call_msg["tool_calls"][0]["function"]["arguments"]["to"] == "person0@example.com"
    assert rec["messages"][3] == {"role": "tool", "content": json.dumps({"status": "sent", "id": "msg-0"}),
                                  "tool_call_id": "call_1", "name": "send_email"}
    assert rec["tools"][0]["function"]["name"] == "send_email"
    assert rec["persona"]["role"] == "project manager" and rec["scores"]["tool_use_quality"] == 5
    dropped = build_record(curated[3])
    assert dropped["messages"][0]["role"] == "user"


def test_arguments_given_as_json_strings_become_objects(curated):
    row = dict(curated[1])
    msgs = json.loads(row["messages"])
    msgs[1]["tool_calls"][0]["function"]["arguments"] = json.dumps(msgs[1]["tool_calls"][0]["function"]["arguments"])
    row["messages"] = json.dumps(msgs)
    assert isinstance(build_record(row)["messages"][2]["tool_calls"][0]["function"]["arguments"], dict)


def test_split_is_deterministic_and_stratified(curated):
    records = [build_record(r) for r in curated]  # 3 selections x 4 records
    splits = split_records(records, 0.25)
    assert sorted(r["selection"] for r in splits["test"]) == sorted(SELECTIONS)
    assert len(splits["train"]) == 9
    shuffled = records[:]
    random.Random(3).shuffle(shuffled)
    assert split_records(shuffled, 0.25) == splits
    assert split_records(records, 0)["test"] == []
    # floor(0.5 * 12) = 6: two per selection, the first pick of each kept.
    half = split_records(records, 0.5)["test"]
    assert len(half) == 6 and sorted(r["selection"] for r in half) == sorted(SELECTIONS * 2)
    assert {r["id"] for r in splits["test"]} <= {r["id"] for r in half}
    # A selection always keeps one train record, however large the fraction.
    most = split_records(records, 0.99)
    assert len(most["test"]) == 9 and {r["selection"] for r in most["train"]} == set(SELECTIONS)


def _record(selection: str, k: int) -> dict:
    return {"id": f"{selection}-{k}", "selection": selection}


def test_split_of_the_default_run_shape_leaves_most_to_train():
    """16 records over 15 selections (the issue's default run): one selection has two."""
    records = [_record(f"sel{i:02d}", 0) for i in range(15)] + [_record("sel07", 1)]
    splits = split_records(records, 0.35)
    assert len(splits["train"]) / len(records) >= 0.6
    assert [r["selection"] for r in splits["test"]] == ["sel07"]  # the only one that can spare a record
    assert selections_without_test(splits) == sorted(f"sel{i:02d}" for i in range(15) if i != 7)


def test_split_covers_selections_before_taking_seconds():
    records = [_record("big", k) for k in range(10)] + [_record(s, k) for s in ("a", "b", "c") for k in range(2)]
    test = split_records(records, 0.35)["test"]  # floor(5.6) = 5
    picked = sorted(r["selection"] for r in test)
    assert picked == ["a", "b", "big", "big", "c"]
    assert len(records) - len(test) >= 0.6 * len(records)


def test_card_names_selections_missing_from_test(cfg):
    records = [build_record(judged_row(conversation_row(s, k), good_scores())) for s, n in
               (("gmail", 3), ("googlecalendar", 1)) for k in range(n)]
    splits = split_records(records, 0.35)
    assert {r["selection"] for r in splits["test"]} == {"gmail"}
    text = render_card(cfg, splits)
    assert "Not in test (too few conversations to spare one from train): googlecalendar." in text
    assert "EVALUATION.md" in text


def test_both_formats_load_with_datasets(dataset_dir):
    from datasets import load_dataset

    js = load_dataset("json", data_files={s: str(dataset_dir / f"{s}.jsonl") for s in ("train", "test")})
    pq = load_dataset("parquet", data_files={s: str(dataset_dir / f"{s}.parquet") for s in ("train", "test")})
    assert js.num_rows == pq.num_rows == {"train": 9, "test": 3}
    assert js["train"]["id"] == pq["train"]["id"]
    row = pq["train"][0]
    assert isinstance(row["tools"][0]["function"]["parameters"], str)
    assert json.loads(row["tools"][0]["function"]["parameters"])["type"] == "object"
    calls = [c for m in row["messages"] if m["tool_calls"] for c in m["tool_calls"]]
    assert calls and isinstance(json.loads(calls[0]["function"]["arguments"]), dict)
    jrow = js["train"][0]
    assert isinstance(jrow["tools"][0]["function"]["parameters"], dict)


def test_card_header_and_configs_drive_load_dataset(dataset_dir, cfg):
    from datasets import load_dataset

    text = (dataset_dir / "README.md").read_text()
    assert text.startswith("---\n")
    header = yaml.safe_load(text.split("---\n")[1])
    assert header["license"] == cfg.export.license and header["task_categories"] == ["text-generation"]
    assert header["configs"][0]["data_files"][0] == {"split": "train", "path": "train.parquet"}
    for needle in ("| gmail+googlecalendar | 3 | 1 |", "tool_use_quality | 5.00", "googlecalendar", "Curation kept 12 of 14"):
        assert needle in text, needle
    ds = load_dataset(str(dataset_dir))
    assert ds.num_rows == {"train": 9, "test": 3}
    assert [c["config_name"] for c in header["configs"]] == ["default"]


def test_tool_aware_chat_template_renders_every_record(dataset_dir, embedded_model_dir):
    from datasets import load_dataset
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(embedded_model_dir))
    pq = load_dataset("parquet", data_files={s: str(dataset_dir / f"{s}.parquet") for s in ("train", "test")})
    for split in ("train", "test"):
        jsonl = [json.loads(line) for line in (dataset_dir / f"{split}.jsonl").read_text().splitlines()]
        for rec, prow in zip(jsonl, pq[split], strict=True):
            for messages, tools in ((rec["messages"], rec["tools"]), (prow["messages"], prow["tools"])):
                text = tok.apply_chat_template(messages, tools=tools, chat_template=TOOL_TEMPLATE, tokenize=False)
                for t in rec["tools"]:
                    assert t["function"]["name"] in text
                for m in rec["messages"]:
                    for c in m.get("tool_calls") or []:
                        assert json.dumps(c["function"]["arguments"]) in text
                    if m["role"] == "tool":
                        assert m["content"] in text and f"id={m['tool_call_id']}" in text
                    if m.get("reasoning_content"):
                        assert f"<think>{m['reasoning_content']}</think>" in text
                assert text.count("<|im_start|>") == len(rec["messages"]) + 1
                assert len(tok(text)["input_ids"]) > 50
