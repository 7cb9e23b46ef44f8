"""Removing matched lines from the objects of a bucket, and what a removal reports: shared by
the purge (``tools/purge.py``: events by how they arrived) and forget (``forget.erase``: a user's
events).

An object is read, and rewritten without its matched lines (or deleted when every line matched)
only if it is unchanged since it was read: its generation. A line written since is never lost;
the object is found again by the next run.
"""

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from event_capture.ingest.retry import describe
from event_capture.platform.api_calls import ApiCall
from event_capture.platform.storage_surface import StorageBlob, StorageBucket

STORAGE_TIMEOUT_SECONDS = 60.0
# BigQuery's refusal of DML over rows still in the streaming buffer names it so.
STREAMING_BUFFER = "streaming buffer"


def rewrite_calls(bucket: str) -> tuple[ApiCall, ...]:
    """What removing lines from the objects of ``bucket`` calls: list, read, rewrite, delete."""
    return (
        ApiCall("storage.objects.list", bucket),
        ApiCall("storage.objects.get", bucket),
        ApiCall("storage.objects.insert#overwrite", bucket),
        ApiCall("storage.objects.delete", bucket),
    )


# An object line's event row: the line itself (archive), or its "row" (dead letters).
RowOf = Callable[[Mapping[str, Any]], Mapping[str, Any]]
Matches = Callable[[Mapping[str, Any]], bool]


def archived_row(entry: Mapping[str, Any]) -> Mapping[str, Any]:
    return entry


def dead_lettered_row(entry: Mapping[str, Any]) -> Mapping[str, Any]:
    row: Mapping[str, Any] = entry.get("row") or {}
    return row


@dataclass
class StoreReceipt:
    store: str
    matched: int = 0
    removed: int = 0
    pending: int = 0
    notes: list[str] = field(default_factory=list)

    def line(self, execute: bool) -> str:
        removed = f"removed {self.removed}" if execute else "dry run, nothing removed"
        text = f"{self.store:<12} matched {self.matched:>7}  {removed}"
        if self.pending:
            text += f"  pending {self.pending}"
        return text + "".join(f"\n{'':<12} {note}" for note in self.notes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "matched": self.matched,
            "removed": self.removed,
            "pending": self.pending,
            "notes": list(self.notes),
        }


def remove_lines(
    bucket: StorageBucket,
    blobs: Iterable[StorageBlob],
    row_of: RowOf,
    matches: Matches,
    execute: bool,
    receipt: StoreReceipt,
) -> list[Mapping[str, Any]]:
    """Each object of ``blobs`` without the lines whose row ``matches``; the matched rows."""
    found: list[Mapping[str, Any]] = []
    for blob in blobs:
        found += _remove_from(bucket, blob, row_of, matches, execute, receipt)
    return found


def _remove_from(
    bucket: StorageBucket,
    blob: StorageBlob,
    row_of: RowOf,
    matches: Matches,
    execute: bool,
    receipt: StoreReceipt,
) -> list[Mapping[str, Any]]:
    text = blob.download_as_bytes(timeout=STORAGE_TIMEOUT_SECONDS).decode()
    kept: list[str] = []
    matched: list[Mapping[str, Any]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        row = row_of(json.loads(line))
        if matches(row):
            matched.append(row)
        else:
            kept.append(line)
    if not matched:
        return []
    receipt.matched += len(matched)
    if not execute:
        return matched
    generation = blob.generation
    try:
        if kept:
            # Only over the generation read: a line written since is never lost.
            bucket.blob(blob.name).upload_from_string(
                "".join(line + "\n" for line in kept),
                content_type="application/x-ndjson",
                if_generation_match=generation or 0,
                timeout=STORAGE_TIMEOUT_SECONDS,
            )
        else:
            bucket.delete_blob(blob.name, if_generation_match=generation)
    except Exception as error:  # noqa: BLE001 - reported per object; a rerun finds it again
        receipt.pending += len(matched)
        receipt.notes.append(f"{blob.name}: {describe(error)}")
        return matched
    receipt.removed += len(matched)
    return matched
