"""BFCL's own checkers, imported from `bfcl-eval` without what they do not need.

`bfcl_eval.constants.model_config` imports every model handler BFCL ships (about 150 API
clients); the AST checker reads it only to decide whether a dotted function name is
written with underscores, which is never the case for a prompted model. A stand-in module
with that one answer is registered first, so the checkers run on the standard library
(plus mpmath for BFCL's MathAPI). Importing BFCL creates `result/` and `score/` folders
under $BFCL_PROJECT_ROOT (by default inside site-packages), so that points to a
temporary folder (removed at exit) before the first import.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import types
from dataclasses import dataclass
from functools import cache
from typing import Any

_MODEL_CONFIG = "bfcl_eval.constants.model_config"


@dataclass(frozen=True)
class _PromptModel:
    underscore_to_dot: bool = False  # prompted models keep dotted names such as `math.factorial`


class _AnyModel(dict):
    def __missing__(self, key: str) -> _PromptModel:
        return _PromptModel()


@cache
def _bfcl() -> types.SimpleNamespace:
    """The BFCL functions fcsynth calls, imported once."""
    if "BFCL_PROJECT_ROOT" not in os.environ:
        root = tempfile.mkdtemp(prefix="fcsynth-bfcl-")
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        os.environ["BFCL_PROJECT_ROOT"] = root
    if _MODEL_CONFIG not in sys.modules:
        stub = types.ModuleType(_MODEL_CONFIG)
        stub.MODEL_CONFIG_MAPPING = _AnyModel()  # type: ignore[attr-defined]
        sys.modules[_MODEL_CONFIG] = stub
    from bfcl_eval.constants.enums import Language
    from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker
    from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_checker import multi_turn_checker
    from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_utils import execute_multi_turn_func_call

    return types.SimpleNamespace(
        python=Language.PYTHON, ast_checker=ast_checker,
        multi_turn_checker=multi_turn_checker, execute=execute_multi_turn_func_call,
    )


def ast_valid(functions: list[dict[str, Any]], calls: list[dict[str, Any]], answer: Any, category: str) -> tuple[bool, str]:
    """BFCL's AST checker on decoded calls `[{name: {arg: value}}]`: (valid, error type)."""
    result = _bfcl().ast_checker(functions, calls, answer, _bfcl().python, category, "fcsynth")
    return bool(result["valid"]), str(result.get("error_type") or "")


def execute(calls: list[str], entry: dict[str, Any], instance_prefix: str) -> list[str]:
    """Run call strings against the entry's BFCL environments (state kept per prefix and entry)."""
    results, _ = _bfcl().execute(calls, entry["initial_config"], entry["involved_classes"], instance_prefix, entry["id"])
    return [str(r) for r in results]


def multi_turn_valid(decoded: list[list[list[str]]], answer: list[list[str]], entry: dict[str, Any],
                     instance_prefix: str) -> tuple[bool, str]:
    """BFCL's multi-turn checker (state and response checks per turn): (valid, error type)."""
    result = _bfcl().multi_turn_checker(decoded, answer, entry, entry["id"].rsplit("_", 1)[0], instance_prefix)
    return bool(result["valid"]), str(result.get("error_type") or "")
