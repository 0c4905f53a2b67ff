"""The `export` stage's library: dataset records, the train/test split, and the dataset card."""

from fcsynth.export.card import render_card
from fcsynth.export.records import (
    PARQUET_SCHEMA,
    SPLITS,
    conversation_shape,
    selections_without_test,
    split_records,
    to_parquet_row,
    write_split,
)

__all__ = [
    "PARQUET_SCHEMA", "SPLITS", "conversation_shape", "render_card", "selections_without_test",
    "split_records",
    "to_parquet_row", "write_split",
]
