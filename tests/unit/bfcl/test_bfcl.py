"""BFCL in the evaluate stage: data and tool conversion, the output-format conversion, BFCL's
own checkers on answers known to be right or wrong (a scripted backend plays the model).
The real run: tests/slow/test_bfcl_real.py."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from transformers import AutoTokenizer

from fcsynth.bfcl import decode
from fcsynth.bfcl.run import SKIPPED, Runner, summarize
from fcsynth.bfcl.suite import CATEGORIES, as_tool, load, subset
from fcsynth.chat.calls import Call
from fcsynth.chat.prompting import PromptBuilder
from fcsynth.checkpoint import Checkpoint
from fcsynth.config import SamplingConfig
from fcsynth.llm import Completion, Request

SAMPLING = SamplingConfig(temperature=0.0, top_p=1.0, max_tokens=128, repetition_penalty=1.0)


def tool_call(name: str, **arguments: Any) -> str:
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}) + "\n</tool_call>"


class Scripted:
    """A backend whose answer to each request is `answer(request)`."""

    def __init__(self, answer: Callable[[Request], str]) -> None:
        self.answer, self.requests = answer, []

    def generate(self, requests: Iterable[Request]) -> Iterator[Completion]:
        for r in requests:
            self.requests.append(r)
            yield Completion(r.id, self.answer(r), 10, 5, "stop")

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def tokenizer(embedded_model_dir: Path) -> Any:
    return AutoTokenizer.from_pretrained(str(embedded_model_dir))


def runner(backend: Scripted, tokenizer: Any, max_model_len: int | None = 4096, label: str = "base") -> Runner:
    return Runner(lambda: backend, PromptBuilder(tokenizer), SAMPLING, 7, Checkpoint("evaluate", "m", directory=None),
                  max_model_len, 4, label)


def by_id(category: str) -> dict[str, Any]:
    return {e.id: e for e in load(category)}


# ---------------------------------------------------------------- data and formats

@pytest.mark.parametrize("category", CATEGORIES)
def test_every_entry_loads_with_tools_that_are_json_schema(category):
    entries = load(category)
    assert len(entries) >= 200 and len({e.id for e in entries}) == len(entries)
    for e in entries:
        assert e.turns and e.functions and (e.answer is not None or category == "irrelevance")
        for tool in e.tools:
            jsonschema.Draft202012Validator.check_schema(tool["function"]["parameters"])
            assert not gorilla_types(tool["function"]["parameters"]), (e.id, tool)


def gorilla_types(schema: Any) -> set[str]:
    """BFCL type names left anywhere in a converted schema's `type` keywords."""
    found, stack = set(), [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") in ("dict", "float", "tuple", "any"):
                found.add(node["type"])
            stack += [v for k, v in node.items() if k not in ("enum", "default", "const")]
        elif isinstance(node, list):
            stack += node
    return found


def test_bfcl_types_become_json_schema_types():
    tool = as_tool({"name": "f", "description": "d", "parameters": {"type": "dict", "properties": {
        "x": {"type": "float"}, "p": {"type": "tuple", "items": {"type": "integer"}}, "a": {"type": "any"},
        "o": {"type": "dict", "properties": {"y": {"type": "float"}}}}}})
    props = tool["function"]["parameters"]["properties"]
    assert tool["function"]["parameters"]["type"] == "object"
    assert props["x"] == {"type": "number"} and props["p"] == {"type": "array", "items": {"type": "integer"}}
    assert props["a"] == {} and props["o"]["properties"]["y"] == {"type": "number"}


def test_subset_is_seeded_and_keeps_bfcl_order():
    entries = load("parallel")
    a, b = subset(entries, 5, 1), subset(entries, 5, 1)
    assert [e.id for e in a] == [e.id for e in b] and len(a) == 5
    assert [e.id for e in a] == sorted((e.id for e in a), key=lambda i: int(i.rsplit("_", 1)[1]))
    assert [e.id for e in subset(entries, 5, 2)] != [e.id for e in a]
    assert subset(entries, None, 1) == entries


def test_calls_become_bfcl_formats():
    calls = [Call("cd", {"folder": "doc"}), Call("", "{not json", malformed=True), Call("mv", "text")]
    assert decode.ast_calls(calls) == [{"cd": {"folder": "doc"}}]
    assert decode.unparseable(calls) and not decode.unparseable(calls[:1])
    allowed = {"cd", "mv"}
    assert decode.call_string("cd", {"folder": "doc's"}, allowed) == "cd(folder=\"doc's\")"
    assert ast.parse(decode.call_string("mv", {"a": [1, 2.5, None, True], "b": {"k": "v"}}, allowed))
    # nothing but the entry's own functions, with literal values, may reach BFCL's eval()
    assert decode.call_string("open", {"file": "/etc/passwd"}, allowed) is None
    assert decode.call_string("cd", {"folder": "x", "__class__": 1}, allowed) is not None  # a plain keyword
    assert decode.call_string("cd", {"lambda": 1}, allowed) is None
    assert decode.call_string("cd", {"folder=1, x": 1}, allowed) is None
    assert decode.call_string("cd", {"n": float("nan")}, allowed) is None


# ---------------------------------------------------------------- BFCL's checkers, known answers

def first_answer(ground_truth: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """One call per possible-answer item, each argument at its first accepted value."""
    calls = []
    for item in ground_truth:
        (name, args), = item.items()
        calls.append((name, {k: v[0] for k, v in args.items() if v and v[0] != ""}))
    return calls


@pytest.mark.parametrize("category", ["simple_python", "multiple", "parallel", "parallel_multiple"])
def test_ast_checker_accepts_the_possible_answer_and_rejects_a_wrong_one(tokenizer, category):
    entries = subset(load(category), 3, 0)
    right = {f"bfcl/{e.id}": "".join(tool_call(n, **a) for n, a in first_answer(e.answer)) for e in entries}
    rows = runner(Scripted(lambda r: right[r.id]), tokenizer).run(entries)
    assert [r["valid"] for r in rows] == [True] * 3, rows
    wrong = runner(Scripted(lambda r: tool_call("no_such_function", x=1)), tokenizer).run(entries)
    assert not any(r["valid"] for r in wrong) and all(r["error_type"] for r in wrong)
    text = runner(Scripted(lambda r: "I would rather not."), tokenizer).run(entries)
    assert [r["error_type"] for r in text] == ["no_call"] * 3
    broken = runner(Scripted(lambda r: "<tool_call>{\"name\": </tool_call>"), tokenizer).run(entries)
    assert all(r["unparseable"] and r["error_type"] == "unparseable" for r in broken)


def test_irrelevance_is_right_only_without_a_call(tokenizer):
    entries = subset(load("irrelevance"), 2, 0)
    assert all(r["valid"] for r in runner(Scripted(lambda r: "None of these tools can do that."), tokenizer).run(entries))
    called = runner(Scripted(lambda r: tool_call(entries[0].functions[0]["name"])), tokenizer).run(entries)
    assert not any(r["valid"] for r in called)


def test_multi_turn_ground_truth_passes_and_an_idle_model_fails(tokenizer):
    entry = by_id("multi_turn_base")["multi_turn_base_0"]

    def replay(request: Request) -> str:
        turn, step = (int(p[1:]) for p in request.id.rsplit("/", 2)[1:])
        if step:  # after the calls of this turn: answer in text
            return "Done."
        return "".join(
            tool_call(c.func.id, **{k.arg: ast.literal_eval(k.value) for k in c.keywords},
                      **({"file_name": ast.literal_eval(c.args[0])} if c.args else {}))
            for c in (ast.parse(s, mode="eval").body for s in entry.answer[turn]))

    backend = Scripted(replay)
    rows = runner(backend, None, label="base").run([entry])
    assert rows[0]["valid"], rows[0]
    decoded = json.loads(rows[0]["prediction"])
    assert decoded[0] == [["cd(folder='document')", "mkdir(dir_name='temp')", "mv(source='final_report.pdf', destination='temp')"]]
    tool_messages = [m for m in backend.requests[1].messages if "tool_response" in (m.get("content") or "")]
    assert tool_messages, "call results go back to the model"
    idle = runner(Scripted(lambda r: "Sure."), None, label="tuned").run([entry])
    assert not idle[0]["valid"] and idle[0]["status"] == "ok"


def test_single_turn_categories_share_one_batch_and_rows_keep_the_entries_order(tokenizer):
    entries = subset(load("multi_turn_base"), 1, 0) + subset(load("simple_python"), 2, 0) + subset(load("irrelevance"), 2, 0)
    batches = []

    class Batches(Scripted):
        def generate(self, requests: Iterable[Request]) -> Iterator[Completion]:
            requests = list(requests)
            batches.append([r.id for r in requests])
            return super().generate(requests)

    rows = runner(Batches(lambda r: "Done."), tokenizer).run(entries)
    assert [(r["category"], r["id"]) for r in rows] == [(e.category, e.id) for e in entries]
    assert sorted(batches[0]) == sorted(f"bfcl/{e.id}" for e in entries[1:])  # both single-turn categories at once
    assert all(i.startswith(f"bfcl/{entries[0].id}/") for b in batches[1:] for i in b)


def test_entries_that_do_not_fit_are_counted_and_wrong(tokenizer):
    entries = subset(load("simple_python"), 2, 0) + subset(load("multi_turn_base"), 2, 0)
    backend = Scripted(lambda r: "x")
    rows = runner(backend, tokenizer, max_model_len=200).run(entries)
    assert {r["status"] for r in rows} == {SKIPPED} and not backend.requests
    summary = summarize(rows, ["simple_python", "multi_turn_base"])
    assert summary["categories"]["multi_turn_base"] == {
        "entries": 2, "correct": 0, "accuracy": 0.0, "skipped_too_long": 2, "skipped_share": 1.0,
        "context_full": 0, "unparseable": 0}
    assert summary["overall"] == 0.0


def test_bfcl_folders_created_on_import_are_removed_at_exit(tmp_path):
    """BFCL creates result/ and score/ folders on import; fcsynth points them to a temporary folder it removes."""
    code = ("import os; from fcsynth.bfcl import checkers; checkers._bfcl(); "
            "root = os.environ['BFCL_PROJECT_ROOT']; assert os.path.isdir(root); print(root)")
    env = {k: v for k, v in os.environ.items() if k != "BFCL_PROJECT_ROOT"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    root = Path(proc.stdout.strip())
    assert root.name.startswith("fcsynth-bfcl-") and not root.exists()
