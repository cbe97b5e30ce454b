"""Engine time: seconds since the first start, running on across restarts without the downtime.

The engine refuses time that goes back, so each start continues from the log's last record. Each
start also logs where it stood on the wall clock (an anchor in the "clock" feed), so the cockpit
can put any engine time on a calendar (`wall_of`).
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Callable

from dispatch.live.feeds import Feeds

CLOCK = "clock"  # the feed of start anchors: engine time -> wall clock


class EngineClock:
    """This process's engine time, and the start anchors that map it to Unix time."""

    def __init__(self, last_at_s: float, clock: Callable[[], float] | None = None) -> None:
        """`last_at_s`: the engine time of the log's last record; `clock` replaces the
        monotonic clock (tests)."""
        if clock is None:
            started = time.monotonic()

            def clock() -> float:
                return last_at_s + (time.monotonic() - started)

        self.read = clock
        self._anchors: list[tuple[float, float]] = []  # (engine_s, wall_s), one per start

    def anchor(self, feeds: Feeds, engine_s: float) -> None:
        """Read the earlier starts' anchors from the log and log this one's."""
        while page := feeds.log.read_feed(CLOCK, len(self._anchors)):
            self._anchors += [(float(r.body["engine_s"]), float(r.body["wall_s"])) for r in page]
        anchor = {"engine_s": engine_s, "wall_s": time.time()}
        feeds.feed(CLOCK, anchor)
        self._anchors.append((anchor["engine_s"], anchor["wall_s"]))

    def wall_of(self, engine_s: float) -> float:
        """The Unix time of an engine time, by the last start before it."""
        i = bisect.bisect_right(self._anchors, (engine_s, math.inf)) - 1
        engine0, wall0 = self._anchors[max(i, 0)]
        return wall0 + (engine_s - engine0)
