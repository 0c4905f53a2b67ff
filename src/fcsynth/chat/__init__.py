"""The chat format every stage shares: a dataset split, its steps, tool calls and the prompt a model sees.

- `split`: read a split (TRL's conversational JSONL);
- `steps`: cut a conversation into steps (gold history + gold answer);
- `calls`: one tool call, its arguments decoded;
- `record`: a judged or curated row as a dataset record (what curate checks and export writes);
- `prompting`: render a step as the model sees it (its chat template with tools, else Hermes).
Simulation, train, evaluate and BFCL all render through `prompting`, so training and
evaluation prompt a model alike.
"""
