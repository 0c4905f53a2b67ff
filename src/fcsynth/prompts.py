"""Prompt templates: Jinja2 files in prompts/ that users read and change (DVC deps)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2

from fcsynth.errors import FcsynthError
from fcsynth.paths import PROMPTS_DIR


def _env(directory: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(directory)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Jinja's own tojson HTML-escapes '<' and '&', which prompts must show as they are.
    env.filters["tojson"] = lambda value, indent=None: json.dumps(value, ensure_ascii=False, indent=indent)
    return env


def render(name: str, directory: Path = PROMPTS_DIR, **context: Any) -> str:
    """Render prompts/<name> with the given variables; a bad template is a one-line error."""
    try:
        return _env(directory).get_template(name).render(**context).strip()
    except jinja2.TemplateNotFound:
        raise FcsynthError(f"{directory / name}: prompt template not found") from None
    except jinja2.TemplateError as err:
        raise FcsynthError(f"{directory / name}: {type(err).__name__}: {err}") from None


def template_text(name: str, directory: Path = PROMPTS_DIR) -> str:
    """The raw template (part of a stage's checkpoint fingerprint)."""
    return (directory / name).read_text()
