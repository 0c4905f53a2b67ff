"""DML: the conversation markup, its per-conversation grammar, parser, renderer, validator."""

from fcsynth.dml.example import example_messages
from fcsynth.dml.grammar import BuiltGrammar, GrammarOptions, build_grammar
from fcsynth.dml.parse import DMLParseError, parse_dml
from fcsynth.dml.render import DMLRenderError, render_dml
from fcsynth.dml.validate import validate_record

__all__ = [
    "BuiltGrammar",
    "DMLParseError",
    "DMLRenderError",
    "GrammarOptions",
    "build_grammar",
    "example_messages",
    "parse_dml",
    "render_dml",
    "validate_record",
]
