"""Live progress of an LLM batch: finished requests, generated tokens/s and an ETA."""

from __future__ import annotations

import time

from tqdm import tqdm

REFRESH_S = 0.5  # redraw the postfix at most this often (an engine step takes ~10-100 ms)


class Progress:
    """A tqdm bar over requests whose postfix shows tokens/s and an ETA from tokens.

    The request count alone moves late (long requests finish together), so the ETA is
    estimated from tokens: mean tokens of the finished requests x those still running.
    """

    def __init__(self, total: int, desc: str = "generate", enabled: bool = True) -> None:
        self.total = total
        self.done = 0
        self.generated = 0
        self.done_tokens = 0
        self.started = time.monotonic()
        self.shown = 0.0  # when the postfix was last redrawn
        self.bar = tqdm(total=total, desc=desc, unit="req", leave=False, dynamic_ncols=True, disable=not enabled)

    def add(self, n: int) -> None:
        """`n` more requests to wait for (a stream's follow-ups)."""
        self.total += n
        self.bar.total = self.total
        self.bar.refresh()

    def tokens(self, n: int) -> None:
        """Count `n` tokens generated in the last engine step and refresh the postfix."""
        self.generated += n
        now = time.monotonic()
        if now - self.shown < REFRESH_S:
            return
        self.shown = now
        rate = self.generated / max(now - self.started, 1e-9)
        self.bar.set_postfix_str(f"{self.generated} tok, {rate:.1f} tok/s, ETA {self.eta(rate)}", refresh=True)

    def finished(self) -> None:
        self.done += 1
        self.done_tokens = self.generated
        self.bar.update(1)

    def eta(self, rate: float) -> str:
        """Time left: the tokens the unfinished requests still need at the current rate."""
        if not self.done or rate <= 0:
            return "?"
        per_request = self.done_tokens / self.done
        left = max(0.0, per_request * self.total - self.generated) / rate
        return time.strftime("%H:%M:%S", time.gmtime(left)) if left < 86400 else ">1d"

    def close(self) -> None:
        self.bar.close()
