"""The generation stages: scenarios, blueprints, conversations, system prompts."""
