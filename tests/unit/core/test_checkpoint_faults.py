"""Checkpoints under faults: torn and garbage lines cost only their own rows, and a stage's
checkpoints are locked against a second run of the same stage (two real processes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from fcsynth.checkpoint import Checkpoint
from fcsynth.config import compose, parse_config
from fcsynth.errors import DEBUG_HINT, FcsynthError
from fcsynth.llm.context import StageContext

from helpers.fabricate import conversation_row, system_prompt_row
from helpers.stage_project import one_line, stage, stage_project

TEXT = "café ☕ naïve 日本 \u2028 \x85 end"  # multi-byte UTF-8, and what str.splitlines() would split on


def row(i: int) -> dict:
    return {"id": f"r{i}", "text": f"{TEXT} {i}"}


def filled(tmp_path: Path, n: int = 10) -> Path:
    with Checkpoint("demo", "k", tmp_path) as cp:
        for i in range(n):
            cp.add(row(i))
    return cp.path


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")


# ---------------------------------------------------------------- torn and garbage lines

def test_last_line_cut_inside_a_multibyte_character_keeps_the_rows_before(tmp_path, capsys):
    path = filled(tmp_path, 3)
    torn = json.dumps(row(3), ensure_ascii=False).encode()
    cut = torn.index("☕".encode()) + 1  # inside the 3-byte character: not valid UTF-8
    with open(path, "ab") as f:
        f.write(torn[:cut])
    with Checkpoint("demo", "k", tmp_path) as cp:
        assert sorted(cp.rows) == ["r0", "r1", "r2"] and cp.rows["r1"] == row(1)
        assert cp.dropped == 1 and cp.missing([f"r{i}" for i in range(4)]) == ["r3"]
        assert path.read_bytes().endswith(b"}\n") and len(lines_of(path)) == 4  # rewritten without the torn line
        cp.add(row(3))  # appends onto a clean line
    with Checkpoint("demo", "k", tmp_path) as again:
        assert again.rows == {f"r{i}": row(i) for i in range(4)} and again.dropped == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fcsynth demo: warning: ") and "dropped 1 unreadable line(s)" in err[0]


def test_one_garbage_line_in_the_middle_costs_only_its_own_row(tmp_path):
    path = filled(tmp_path, 10)
    lines = lines_of(path)
    lines[2] = b'{"id": "r2", "text": garb\xff\xfeage'
    path.write_bytes(b"\n".join(lines))
    with Checkpoint("demo", "k", tmp_path) as cp:
        assert cp.missing([f"r{i}" for i in range(10)]) == ["r2"]
        assert all(cp.rows[f"r{i}"] == row(i) for i in range(10) if i != 2)
    assert len(path.read_bytes().splitlines()) == 9


@pytest.mark.parametrize("bad", [
    b"[1, 2, 3]", b'"just a string"', b"42", b"null", b'{"text": "no id"}', b'{"id": 7}', b'{"id": null}',
    b"\xff\xfe\xfd", b"{", b"   \t",
])
def test_lines_that_hold_no_row_are_dropped(tmp_path, bad):
    path = filled(tmp_path, 2)
    path.write_bytes(lines_of(path)[0] + b"\n" + bad + b"\n" + lines_of(path)[1] + b"\n")
    with Checkpoint("demo", "k", tmp_path) as cp:
        assert cp.rows == {"r0": row(0), "r1": row(1)}
        assert cp.dropped == (0 if bad.strip() == b"" else 1)
    assert path.read_bytes().count(b"\n") == 2


def test_a_valid_last_line_without_a_newline_is_kept_and_terminated(tmp_path):
    path = filled(tmp_path, 2)
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    with Checkpoint("demo", "k", tmp_path) as cp:
        assert set(cp.rows) == {"r0", "r1"} and cp.dropped == 0
        cp.add(row(2))
    with Checkpoint("demo", "k", tmp_path) as again:
        assert again.rows == {f"r{i}": row(i) for i in range(3)}


def test_a_sound_checkpoint_is_not_rewritten(tmp_path):
    path = filled(tmp_path, 3)
    before = path.stat()
    with Checkpoint("demo", "k", tmp_path) as cp:
        assert len(cp.rows) == 3 and cp.dropped == 0
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


# ---------------------------------------------------------------- the stage lock

HOLD = """
import sys
from pathlib import Path
from fcsynth.checkpoint import Checkpoint
cp = Checkpoint(sys.argv[1], "other-key", Path(sys.argv[2]))
print("holding", flush=True)
sys.stdin.read()  # until the test closes our stdin
"""

TRY = """
import sys
from pathlib import Path
from fcsynth.checkpoint import Checkpoint
from fcsynth.errors import FcsynthError
try:
    Checkpoint(sys.argv[1], "k", Path(sys.argv[2]))
except FcsynthError as err:
    print(err)
    sys.exit(3)
"""


class Holder:
    """Another process holding `stage`'s checkpoint open under `directory`."""

    def __init__(self, stage: str, directory: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", HOLD, stage, str(directory)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "holding"

    def release(self) -> None:
        self.proc.stdin.close()
        assert self.proc.wait(timeout=30) == 0


def other_process_can_open(stage: str, directory: Path) -> bool:
    proc = subprocess.run([sys.executable, "-c", TRY, stage, str(directory)], capture_output=True, text=True, timeout=60)
    assert proc.returncode in (0, 3), proc.stderr
    return proc.returncode == 0


def test_a_second_process_cannot_open_the_stage_checkpoint(tmp_path):
    holder = Holder("conversations", tmp_path)
    try:
        with pytest.raises(FcsynthError) as err:
            Checkpoint("conversations", "k", tmp_path)
        assert str(err.value) == (f"{tmp_path / 'conversations'}: another fcsynth run of this stage holds the lock"
                                  f" (pid {holder.proc.pid}); wait for it or stop it")
        with Checkpoint("judge", "k", tmp_path):  # another stage is not locked
            pass
        assert Checkpoint("conversations", "k", None).path is None  # nor an in-memory checkpoint
    finally:
        holder.release()
    with Checkpoint("conversations", "k", tmp_path) as cp:  # the holder's end released it
        cp.add({"id": "a"})


def test_the_lock_is_shared_within_a_process_and_released_by_the_last_close(tmp_path):
    first = Checkpoint("judge", "k", tmp_path)
    second = Checkpoint("judge", "k2", tmp_path)  # no self-deadlock: same process
    first.add({"id": "a"})
    with Checkpoint("judge", "k", tmp_path) as third:
        assert "a" in third.rows
    first.close()
    first.close()  # idempotent
    assert not other_process_can_open("judge", tmp_path)  # `second` still holds it
    second.close()
    assert other_process_can_open("judge", tmp_path)


def test_a_closed_checkpoint_frees_the_stage_for_another_process(tmp_path):
    with Checkpoint("judge", "k", tmp_path) as cp:
        cp.add({"id": "a"})
        assert not other_process_can_open("judge", tmp_path)
    assert other_process_can_open("judge", tmp_path)


def test_stage_context_close_releases_its_checkpoints(tmp_path):
    ctx = StageContext(parse_config(compose(["llm=fake"])), tmp_path)
    ctx.checkpoint("demo")
    ctx.checkpoint("demo", "another key")
    directory = tmp_path / "data" / "checkpoints"
    assert not other_process_can_open("demo", directory)
    ctx.close()
    assert other_process_can_open("demo", directory)


def test_a_second_run_of_a_stage_script_stops_with_one_line_and_duplicates_nothing(tmp_path):
    project = stage_project(tmp_path)
    conv = [conversation_row(s, k) for s in ("gmail", "googlecalendar") for k in range(2)]
    pl.DataFrame(conv).write_parquet(project / "data" / "conversations.parquet")
    pl.DataFrame([system_prompt_row(r["id"]) for r in conv]).write_parquet(project / "data" / "system_prompts.parquet")
    checkpoints = project / "data" / "checkpoints"
    holder = Holder("judge", checkpoints)  # as a first `judge` run still working would
    try:
        proc = stage(project, "judge")
    finally:
        holder.release()
    assert proc.returncode == 1
    line = one_line(proc.stderr, f"{checkpoints / 'judge'}: another fcsynth run of this stage holds the lock",
                    f"(pid {holder.proc.pid}); wait for it or stop it", prefix="fcsynth judge: error: ")
    assert DEBUG_HINT not in line and not (project / "data" / "judged.parquet").exists()

    assert stage(project, "judge").returncode == 0
    ids = [json.loads(x)["id"] for f in (checkpoints / "judge").glob("*.jsonl") for x in f.read_text().splitlines()]
    assert sorted(ids) == sorted(r["id"] for r in conv)  # each judged once


def test_a_stage_script_resumes_past_a_torn_and_a_garbage_line(tmp_path):
    """Through the judge stage as users run it: a garbage line mid-checkpoint and a last line cut
    inside a multi-byte character cost one warning and exactly their own rows."""
    project = stage_project(tmp_path)
    conv = [conversation_row(s, k) for s in ("gmail", "googlecalendar") for k in range(3)]
    pl.DataFrame(conv).write_parquet(project / "data" / "conversations.parquet")
    pl.DataFrame([system_prompt_row(r["id"]) for r in conv]).write_parquet(project / "data" / "system_prompts.parquet")
    assert stage(project, "judge").returncode == 0
    [path] = (project / "data" / "checkpoints" / "judge").glob("*.jsonl")
    lines = path.read_bytes().splitlines()
    assert len(lines) == 6
    torn = json.dumps({**json.loads(lines[-1]), "text": TEXT}, ensure_ascii=False).encode()
    damaged = [*lines[:2], b"\x00garbage{", *lines[3:-1], torn[: torn.index("☕".encode()) + 1]]
    path.write_bytes(b"\n".join(damaged))
    (project / "data" / "judged.parquet").unlink()
    proc = stage(project, "judge")
    assert proc.returncode == 0, proc.stderr
    one_line(proc.stderr, "dropped 2 unreadable line(s)", prefix="fcsynth judge: warning: ")
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    assert sorted(r["id"] for r in rows) == sorted(json.loads(x)["id"] for x in lines)  # 4 kept, 2 made again
    assert pl.read_parquet(project / "data" / "judged.parquet").height == len(conv)
