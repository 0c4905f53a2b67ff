"""Constraints: JSON bounds, token budgets, schema bounding, compile checks, the matcher and each turn's grammar."""
