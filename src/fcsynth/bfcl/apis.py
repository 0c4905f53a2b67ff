"""BFCL's multi-turn APIs: their function docs and their Python classes.

The eight APIs of BFCL's multi-turn categories (file system, math, messaging, posting,
tickets, trading, travel, vehicle) ship in the bfcl-eval wheel twice: as JSON Lines docs
(with response schemas) and as classes whose methods are the functions. The docs are a
catalog source (`format: bfcl`); `BfclApis` serves the classes as one executable tool
environment for the simulation (`conversations.environment_class`).
"""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from fcsynth.bfcl.suite import data_dir, read_jsonl

# The multi-turn categories' APIs (BFCL's class names); its memory and web-search classes
# belong to other categories and need API keys or embeddings.
MULTI_TURN_APIS = (
    "GorillaFileSystem", "MathAPI", "MessageAPI", "TwitterAPI", "TicketAPI", "TradingBot", "TravelAPI",
    "VehicleControlAPI",
)


def _backend_config() -> ModuleType:
    # BFCL's class -> module and class -> doc file tables (a module with no imports of its own)
    return importlib.import_module("bfcl_eval.constants.executable_backend_config")


def doc_path(class_name: str) -> Path:
    """The JSON Lines function docs of a multi-turn API class."""
    return data_dir() / "multi_turn_func_doc" / _backend_config().MULTI_TURN_FUNC_DOC_FILE_MAPPING[class_name]


@cache
def docs(class_name: str) -> list[dict[str, Any]]:
    """The function docs of a multi-turn API class, as BFCL writes them."""
    return read_jsonl(doc_path(class_name))


@cache
def _owner() -> dict[str, str]:
    """Function name -> the class that has it (names are unique across the eight APIs)."""
    return {doc["name"]: class_name for class_name in MULTI_TURN_APIS for doc in docs(class_name)}


class BfclApis:
    """Every multi-turn API in its default state (BFCL's `DEFAULT_STATE`); a call goes to the
    API whose docs name the function. One instance is one conversation's world."""

    def __init__(self) -> None:
        self._apis: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        class_name = _owner().get(name)
        if name.startswith("_") or class_name is None:
            raise AttributeError(name)
        if class_name not in self._apis:
            module = importlib.import_module(_backend_config().CLASS_FILE_PATH_MAPPING[class_name])
            api = getattr(module, class_name)()
            if hasattr(api, "_load_scenario"):
                api._load_scenario({})
            self._apis[class_name] = api
        return getattr(self._apis[class_name], name)
