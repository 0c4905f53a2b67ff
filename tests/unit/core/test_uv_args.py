"""scripts/uv_args.py: setup's uv gets the package sources pip is configured with."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

from helpers.paths import REPO

_spec = importlib.util.spec_from_file_location("uv_args", REPO / "scripts" / "uv_args.py")
uv_args = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(uv_args)

CONFIG = """\
:env:.cert='/etc/ssl/certs/ca-certificates.crt'
:env:.find-links='/opt/wheels'
:env:.index-url='https://mirror.example/simple'
global.constraint='/etc/pip/constraints.txt'
global.extra-index-url='file:///opt/a/simple file:///opt/b/simple'
global.find-links='/opt/wheels'
global.index-url='https://pypi.org/simple'
install.find-links='/srv/more wheels'
install.index-url='https://install.example/simple'
"""


def test_every_source_once_and_the_winning_index_url():
    args = uv_args.uv_args(CONFIG)
    pairs = list(zip(args[::2], args[1::2], strict=True))
    assert pairs == [
        ("--index-strategy", "unsafe-best-match"),
        ("--find-links", "/opt/wheels"),  # set twice (environment and file): passed once
        ("--constraint", "/etc/pip/constraints.txt"),
        ("--extra-index-url", "file:///opt/a/simple"),
        ("--extra-index-url", "file:///opt/b/simple"),
        ("--find-links", "/srv/more"),  # pip splits a value on whitespace too
        ("--find-links", "wheels"),
        ("--index-url", "https://mirror.example/simple"),  # PIP_INDEX_URL beats pip.conf, as in pip
    ]
    files_only = uv_args.uv_args("\n".join(line for line in CONFIG.splitlines() if not line.startswith(":env:")))
    assert files_only[-2:] == ["--index-url", "https://install.example/simple"]  # [install] beats [global]


def test_no_pip_configuration_leaves_uv_its_defaults():
    assert uv_args.uv_args("") == ["--index-strategy", "unsafe-best-match"]
    assert uv_args.uv_args(":env:.default-timeout='180'\n") == ["--index-strategy", "unsafe-best-match"]


def test_the_script_reads_stdin_with_a_dash():
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "uv_args.py"), "-"], input=CONFIG,
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == uv_args.uv_args(CONFIG)
