"""The turn-by-turn conversation simulation: a user, an assistant and a tool environment.

- `realized`: which planned features a finished conversation realized;
- `environment`: the executable tool environment (a Python class);
- `state`: one conversation's transcript and what happens next;
- `run`: the simulator: each conversation's next action, and applying its answer;
- `turn_text`, `turn_checks`: a turn's output parsed, and curate's checks on it;
- `schedule`: turns streamed into a running batch, or in rounds, checkpointed per turn.
Each turn's grammar or schema comes from `fcsynth.constraints.turns`; the conversation's plan from
`fcsynth.generation.plan` (drawn by the blueprints stage); which arguments are identifiers and
which values are known so far from `fcsynth.catalog.identifiers`.
"""
