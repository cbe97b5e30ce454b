"""What loading a road network kept and dropped: ways, nodes, edges, and why, for people to read.

Built by the OSM loader from its counts and the compiler's (largest strongly connected part),
kept in the network's metadata so a cached start reports the same, and printed by the CLI.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: How many refusal reasons a summary line names before "and N more".
TOP_REASONS = 6


@dataclass(frozen=True)
class LoadSummary:
    """Counts of one load; the way counts are zero for sources that have no ways (CSV)."""

    nodes_in: int  # graph nodes built (junctions and way ends), before connectivity
    nodes_dropped: int  # outside the largest strongly connected part
    edges_in: int  # directed edges built
    edges_dropped: int  # outside that part, or self-loops
    ways_read: int = 0  # ways with a highway tag
    ways_kept: int = 0  # drivable ways with at least one edge inside the extract
    ways_cut: int = 0  # ran past the extract's edge: cut at the last node present
    ways_outside: int = 0  # drivable, but no two consecutive nodes in the extract
    dropped_by_highway: Mapping[str, int] = field(default_factory=dict)
    dropped_by_access: Mapping[str, int] = field(default_factory=dict)

    @property
    def nodes_kept(self) -> int:
        return self.nodes_in - self.nodes_dropped

    @property
    def edges_kept(self) -> int:
        return self.edges_in - self.edges_dropped

    @classmethod
    def from_counts(cls, meta: Mapping[str, Any], **ways: Any) -> LoadSummary:
        """The compiler's node and edge counts (from a network's meta) with the way counts."""
        return cls(
            nodes_in=int(meta.get("nodes_in", 0)),
            nodes_dropped=int(meta.get("nodes_dropped", 0)),
            edges_in=int(meta.get("edges_in", 0)),
            edges_dropped=int(meta.get("edges_dropped", 0)),
            **ways,
        )

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> LoadSummary:
        """The summary stored in a network's metadata, or the compiler's counts alone."""
        stored = meta.get("load_summary")
        if isinstance(stored, dict):
            return cls(**stored)
        return cls.from_counts(meta)

    def to_meta(self) -> dict[str, Any]:
        """A JSON-ready dict that `from_meta` reads back."""
        return {
            "nodes_in": self.nodes_in,
            "nodes_dropped": self.nodes_dropped,
            "edges_in": self.edges_in,
            "edges_dropped": self.edges_dropped,
            "ways_read": self.ways_read,
            "ways_kept": self.ways_kept,
            "ways_cut": self.ways_cut,
            "ways_outside": self.ways_outside,
            "dropped_by_highway": dict(self.dropped_by_highway),
            "dropped_by_access": dict(self.dropped_by_access),
        }

    def lines(self) -> list[str]:
        """The summary as a few lines of text for a terminal."""
        out = [
            f"nodes  {self.nodes_kept:,} kept, {self.nodes_dropped:,} dropped "
            "(not in the largest strongly connected part)",
            f"edges  {self.edges_kept:,} kept, {self.edges_dropped:,} dropped",
        ]
        if self.ways_read:
            out.append(
                f"ways   {self.ways_read:,} with a highway tag: {self.ways_kept:,} drivable kept, "
                f"{self.ways_cut:,} cut at the extract's edge, "
                f"{self.ways_outside:,} outside the extract"
            )
            out.append("not roads  " + _reasons(self.dropped_by_highway))
            out.append("closed     " + _reasons(self.dropped_by_access))
        return out


def _reasons(counts: Mapping[str, int]) -> str:
    if not counts:
        return "none"
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    text = ", ".join(f"{k} {v:,}" for k, v in ranked[:TOP_REASONS])
    rest = len(ranked) - TOP_REASONS
    return text + (f" and {rest} more" if rest > 0 else "")
