"""The turn-by-turn conversation simulation: a user, an assistant and a tool environment.

- `plan`: the seeded shape of one conversation (user turns, where each planned feature
  happens, the facts the user knows), drawn by the blueprints stage;
- `identifiers`: which arguments are identifier-like and which values are known so far;
- `constraints`: each turn's grammar or schema and the longest output it allows;
- `environment`: the executable tool environment (a Python class);
- `state`: one conversation's transcript and what happens next;
- `run`: the rounds, one batch per round, checkpointed per turn.
"""
