"""The live part of an answer: what the events captured since the snapshot change in it.

Pure functions over the user's nightly document and their recent activity (the capture
function's ``capture:activity:<user_id>`` list, newest first, read by
``contracts.live_activity``), so every rule is testable
without Redis. What is live and what is nightly is listed in docs/apis/features.md.
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from event_capture.contracts.live_activity import Entry
from event_capture.features.documents import ProductDocument, ReorderHistory, UserDocument
from event_capture.schemas.features import RecentItems, Recommendation, ReorderDue, SimilarProduct

VIEWED = frozenset({"product_view", "product_click"})
CARTED = "add_to_cart"
ORDERED = "order_placed"
SEARCHED = "search"
# How many of the most recently viewed products "similar to what you just viewed" starts from.
SIMILAR_SOURCES = 3


def _unique(values: Iterable[str], limit: int) -> list[str]:
    out: list[str] = []
    for value in values:
        if value not in out:
            out.append(value)
            if len(out) == limit:
                break
    return out


def recent_items(entries: Sequence[Entry], limit: int) -> RecentItems:
    def products(types: Iterable[str]) -> list[str]:
        wanted = set(types)
        return _unique((p for e in entries if e.event_type in wanted for p in e.product_ids), limit)

    return RecentItems(
        viewed=products(VIEWED),
        carted=products([CARTED]),
        ordered=products([ORDERED]),
        searched=_unique((e.query for e in entries if e.event_type == SEARCHED and e.query), limit),
    )


@dataclass(frozen=True)
class Since:
    """What the events after the snapshot (occurred at or after ``start``) changed."""

    start: dt.datetime | None
    carted_or_ordered: frozenset[str] = frozenset()
    # Per product, the day of its newest order since the snapshot.
    ordered_on: dict[str, dt.date] = field(default_factory=dict)

    @classmethod
    def of(cls, entries: Sequence[Entry], snapshot_date: dt.date | None) -> "Since":
        # The snapshot covers events up to the end of its day (the scripts read occurred_at <
        # @run_date); without one, every recent event is "since".
        start = (
            None
            if snapshot_date is None
            else dt.datetime.combine(snapshot_date + dt.timedelta(days=1), dt.time(), dt.UTC)
        )
        after = [e for e in entries if start is None or e.occurred_at >= start]
        ordered_on: dict[str, dt.date] = {}
        for entry in after:
            if entry.event_type == ORDERED:
                day = entry.occurred_at.astimezone(dt.UTC).date()
                for product in entry.product_ids:
                    ordered_on[product] = max(day, ordered_on.get(product, day))
        excluded = {p for e in after if e.event_type in (CARTED, ORDERED) for p in e.product_ids}
        return cls(start, frozenset(excluded), ordered_on)


def recommendations(document: UserDocument, since: Since, limit: int) -> list[Recommendation]:
    """The nightly list without what was carted or ordered since, ranked again from 1."""
    kept = [r for r in document.recommendations if r.product_id not in since.carted_or_ordered]
    return [
        Recommendation(product_id=r.product_id, score=r.score, rank=rank)
        for rank, r in enumerate(kept[:limit], start=1)
    ]


def reorder_due(
    history: Sequence[ReorderHistory], since: Since, today: dt.date, limit: int
) -> list[ReorderDue]:
    """Each product's clock as of ``today``, reset by an order since the snapshot; the most
    overdue first."""
    out = []
    for item in history:
        last, live = item.last_ordered_on, False
        ordered = since.ordered_on.get(item.product_id)
        if ordered is not None and ordered > last:
            last, live = ordered, True
        interval = item.mean_interval_days
        score = (today - last).days / interval if interval > 0 else 0.0
        out.append(
            ReorderDue(
                product_id=item.product_id,
                orders=item.orders + (1 if live else 0),
                last_ordered_on=last,
                mean_interval_days=interval,
                next_expected_on=last + dt.timedelta(days=round(interval)),
                due_score=round(score, 4),
                due=score >= 1,
                ordered_since_snapshot=live,
            )
        )
    out.sort(key=lambda r: (-r.due_score, r.product_id))
    return out[:limit]


def similar_sources(recent: RecentItems) -> list[str]:
    return recent.viewed[:SIMILAR_SOURCES]


def similar_to_recent(
    sources: Sequence[str],
    documents: Sequence[ProductDocument | None],
    since: Since,
    limit: int,
) -> list[SimilarProduct]:
    """Products often found with the ones just viewed, co-occurrences summed over them; not the
    viewed ones themselves, nor what was carted or ordered since the snapshot."""
    scores: dict[str, int] = {}
    for document in documents:
        for item in document.similar if document else ():
            scores[item.product_id] = scores.get(item.product_id, 0) + item.co_occurrences
    left_out = set(sources) | since.carted_or_ordered
    ranked = sorted(
        ((p, s) for p, s in scores.items() if p not in left_out), key=lambda ps: (-ps[1], ps[0])
    )
    return [
        SimilarProduct(product_id=p, co_occurrences=s, rank=rank)
        for rank, (p, s) in enumerate(ranked[:limit], start=1)
    ]
