"""When each simulated turn is requested: streamed into a running batch, or in rounds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fcsynth.llm import Request
from fcsynth.runner import run_requests, stream_requests
from fcsynth.simulation.state import Conversation

if TYPE_CHECKING:
    from fcsynth.simulation.run import Action, Simulator


def stream(sim: Simulator, conversations: list[Conversation]) -> None:
    """Each conversation's next turn is requested as soon as its last one is back."""
    in_flight: dict[str, int] = {}
    by_id: dict[str, Action] = {}

    def next_requests(conv: Conversation) -> list[Request]:
        actions = sim.actions(conv)
        by_id.update((a.request.id, a) for a in actions)
        in_flight[conv.id] = len(actions)
        return [a.request for a in actions]

    def follow_up(request: Request, row: dict[str, Any]) -> list[Request]:
        action = by_id.pop(request.id)
        sim.generated.append(row)
        sim.apply(action, row)
        in_flight[action.conv.id] -= 1
        return [] if in_flight[action.conv.id] or action.conv.done else next_requests(action.conv)

    stream_requests([r for c in conversations for r in next_requests(c)], sim.checkpoint, sim.backend, follow_up)


def in_rounds(sim: Simulator, conversations: list[Conversation]) -> None:
    """Round by round: every unfinished conversation's next turn, one batch per round."""
    limit = 1 + sum(len(c.turns) for c in conversations) * (4 + 3 * sim.cfg.dml.max_steps_per_turn) * (
        1 + sim.cfg.conversations.retries(has_complete_turn=False))
    for _ in range(limit):
        actions = [a for c in conversations if not c.done for a in sim.actions(c)]
        if not actions:
            return
        sim.rounds += 1
        rows = run_requests([a.request for a in actions], sim.checkpoint, sim.backend)
        for a in actions:
            row = rows[a.request.id]
            sim.generated.append(row)
            sim.apply(a, row)
