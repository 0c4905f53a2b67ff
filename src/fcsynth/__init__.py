"""fcsynth: synthesize multi-turn function-calling datasets."""

__version__ = "0.1.0"
