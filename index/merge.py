"""Merging segments: a tiered policy (pure) and the merge itself, which re-uses the stored
vectors and postings (nothing is re-embedded or re-tokenised).

Tiers: a segment with ``live`` chunks is in tier ``floor(log_factor(live / floor))`` (tier 0
below ``floor * factor``). When ``factor`` segments share a tier, the oldest ``factor`` of them
merge into one (which may then fill the next tier). A segment whose deleted share passes
``max_deleted`` is rewritten alone, without its deleted chunks. The policy is applied again
after each round of merges, until it asks for nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hoidap.config import SegmentConfig, VectorIndexConfig
from index.postings import merge_postings
from index.segment import Segment, SegmentData, write_segment
from index.spellings import merged_rows


@dataclass(frozen=True)
class SegmentSize:
    """What the policy knows of a segment."""

    name: str
    live: int
    total: int


def tier(live: int, config: SegmentConfig) -> int:
    """Size tier of a segment with ``live`` chunks."""
    if live < config.merge_floor * config.merge_factor:
        return 0
    return int(math.log(live / config.merge_floor, config.merge_factor))


def plan_merges(sizes: Sequence[SegmentSize], config: SegmentConfig) -> list[tuple[str, ...]]:
    """Disjoint groups of segment names to merge now (each becomes one segment); run again
    after merging, since a merged segment may fill the next tier."""
    plan: list[tuple[str, ...]] = []
    tiers: dict[int, list[SegmentSize]] = {}
    for s in sizes:
        if s.total and (s.total - s.live) / s.total > config.max_deleted:
            plan.append((s.name,))
        else:
            tiers.setdefault(tier(s.live, config), []).append(s)
    for _, members in sorted(tiers.items()):
        for first in range(0, len(members) - config.merge_factor + 1, config.merge_factor):
            plan.append(tuple(s.name for s in members[first:first + config.merge_factor]))
    return plan


def merge_segments(index_dir, parts: Sequence[tuple[Segment, np.ndarray, set[str]]],
                   vectors: VectorIndexConfig) -> str:
    """Write one segment holding the live rows of ``parts`` (``(segment, live rows, deleted
    doc ids)``) in order; returns its name."""
    docs, chunks, vecs, hashes = [], [], [], []
    for seg, rows, gone in parts:
        live = [d for d in seg.meta["documents"] if d not in gone]
        docs.extend(seg.read_documents(live))
        all_rows = seg.chunk_rows()  # no texts: the postings are copied, not re-made
        chunks.extend(all_rows[i] for i in rows)
        vecs.append(np.asarray(seg.embeddings[rows], np.float32))
        hashes.extend(h.decode() for h in seg.hashes[rows])
    postings = tuple(merge_postings([(seg.postings[v], rows) for seg, rows, _ in parts])
                     for v in (0, 1))
    dim = parts[0][0].embeddings.shape[1] if parts else 0
    data = SegmentData(tuple(docs), tuple(chunks),
                       np.concatenate(vecs) if vecs else np.zeros((0, dim), np.float32),
                       tuple(hashes), postings=postings,  # type: ignore[arg-type]
                       spellings=merged_rows([seg.spellings for seg, _, _ in parts]),
                       syllables=sum(int(seg.meta.get("syllables") or 0) for seg, _, _ in parts))
    return write_segment(index_dir, data, vectors, dim)
