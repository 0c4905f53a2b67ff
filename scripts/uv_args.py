"""uv's options for the package sources pip is configured with, one per line.

uv reads none of pip's configuration (pip.conf, PIP_* variables), so `setup.sh` hands it
pip's indexes, find-links and constraints as `pip config list` reports them, and resolves
across all indexes as pip does (`unsafe-best-match`: the best version wherever it lies).

Run: python scripts/uv_args.py  (reads `python -m pip config list`), or pass its output on stdin with -.
"""

from __future__ import annotations

import ast
import subprocess
import sys

# pip's option -> uv's, for the options that say where packages come from.
FLAGS = {
    "index-url": "--index-url",
    "extra-index-url": "--extra-index-url",
    "find-links": "--find-links",
    "constraint": "--constraint",
}
# The sections of `pip config list` keys, the one pip lets win first: PIP_* variables, then a
# file's [install] section, then its [global] one (a single-valued option takes that value).
PRECEDENCE = (":env:", "install", "global")


def uv_args(config_list: str) -> list[str]:
    """uv options from `pip config list` output (`section.name='value'` lines; a value may
    hold several whitespace-separated entries): every entry of the list options once, and
    the index-url of the section pip lets win."""
    args: list[str] = ["--index-strategy", "unsafe-best-match"]
    seen: set[tuple[str, str]] = set()
    index_urls: dict[str, str] = {}
    for line in config_list.splitlines():
        key, sep, raw = line.partition("=")
        section, _, name = key.rpartition(".")
        if not sep or name not in FLAGS:
            continue
        values = ast.literal_eval(raw).split()
        if name == "index-url":
            index_urls.setdefault(section, values[0])
            continue
        for value in values:
            if (name, value) not in seen:
                seen.add((name, value))
                args += [FLAGS[name], value]
    winner = next((index_urls[s] for s in PRECEDENCE if s in index_urls), next(iter(index_urls.values()), None))
    return args + (["--index-url", winner] if winner else [])


def main() -> None:
    if sys.argv[1:] == ["-"]:
        text = sys.stdin.read()
    else:
        text = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
                              check=True).stdout
    print("\n".join(uv_args(text)))


if __name__ == "__main__":
    main()
