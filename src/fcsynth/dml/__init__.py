"""DML: the conversation markup (parser, renderer, validator)."""

from fcsynth.dml.parse import DMLParseError, parse_dml
from fcsynth.dml.render import DMLRenderError, render_dml
from fcsynth.dml.validate import validate_record

__all__ = [
    "DMLParseError",
    "DMLRenderError",
    "parse_dml",
    "render_dml",
    "validate_record",
]
