"""DML: the conversation markup (parser, renderer, validator) and the JSON bounds of the turn grammars."""

from fcsynth.dml.example import example_messages
from fcsynth.dml.grammar import GrammarOptions
from fcsynth.dml.parse import DMLParseError, parse_dml
from fcsynth.dml.render import DMLRenderError, render_dml
from fcsynth.dml.validate import validate_record

__all__ = [
    "DMLParseError",
    "DMLRenderError",
    "GrammarOptions",
    "example_messages",
    "parse_dml",
    "render_dml",
    "validate_record",
]
