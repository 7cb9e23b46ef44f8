"""What scrubbing costs per event: today's scrubber against the one it replaced, in the same run.

The replaced scrubber (regular expressions only) is read from git at ``BEFORE``, the last commit
that had it, into a temporary module, so both run on the same machine at the same moment. Per
event means the free text one event carries, scrubbed as validation scrubs it:

* ordinary queries: each line of the shop-query corpus (tests/unit/schemas/shop_queries.txt) as
  a search's query with one filter value;
* queries with personal data: the same, each with one datum of
  ``localcloud.sample_personal_data.TEXT`` in the query (cycled through);
* transcripts: a voice call's user turns, five corpus lines with one datum among them.

Beside the cost, both scrubbers' false positives on the corpus and the data they let through
(escapes), so that the price is read with what it buys. CPU medians over rounds: steal time on
a shared VM shows as rare, huge outliers in the mean.
"""

import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from bench.results import REPO, recorded
from event_capture.schemas import scrub
from localcloud.sample_personal_data import TEXT, Sample

# The last commit with the regular-expression scrubber (issue 26 replaced it).
BEFORE = "3eb24b75ac650c8943df00e45d363a4ca7db9b6b"
SCRUB_PATH = "client/src/event_capture/schemas/scrub.py"
CORPUS = REPO / "tests" / "unit" / "schemas" / "shop_queries.txt"
FILTER_VALUE = "grocery"
TURNS_PER_CALL = 5
ROUNDS = 15


def old_scrubber() -> ModuleType:
    source = subprocess.run(
        ["git", "show", f"{BEFORE}:{SCRUB_PATH}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "scrub_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("scrub_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def per_event(fn: Callable[[], object], events: int) -> float:
    fn()
    samples = []
    for _ in range(ROUNDS):
        started = time.process_time()
        fn()
        samples.append((time.process_time() - started) / events * 1e6)
    return statistics.median(samples)


def scrubbing(scrub_text: Callable[[str], str], texts: list[str]) -> Callable[[], object]:
    return lambda: [scrub_text(text) for text in texts]


def workloads(queries: list[str]) -> dict[str, list[list[str]]]:
    """Each workload as events, each event as the free-text fields it carries."""
    data = [TEXT[i % len(TEXT)] for i in range(len(queries))]
    with_data = [f"{query} {datum.written}" for query, datum in zip(queries, data, strict=True)]
    calls = []
    for start in range(0, len(queries) - TURNS_PER_CALL, TURNS_PER_CALL):
        turns = queries[start : start + TURNS_PER_CALL]
        turns[2] = f"{turns[2]}, it's {data[start].written}"
        calls.append(["\n".join(turns)])
    return {
        "ordinary queries": [[query, FILTER_VALUE] for query in queries],
        "queries with personal data": [[query, FILTER_VALUE] for query in with_data],
        "transcripts with personal data": calls,
    }


def escapes(scrub_text: Callable[[str], str], samples: tuple[Sample, ...]) -> list[str]:
    found = []
    for sample in samples:
        out = scrub_text(f"my details {sample.written} thanks")
        text = "".join(c for c in out if c.isdigit()) if sample.digits else out.lower()
        if sample.needle.lower() in text:
            found.append(sample.name)
    return found


def main() -> None:
    queries = [line for line in CORPUS.read_text().splitlines() if line.strip()]
    before = old_scrubber()
    scrubbers: dict[str, Callable[[str], str]] = {
        f"before ({BEFORE[:7]})": before.scrub_text,
        "now": scrub.scrub_text,
    }
    print(f"phone regions now: {', '.join(scrub.phone_regions())}")
    print(
        f"{'µs per event (CPU median)':34} " + " ".join(f"{n:>16}" for n in scrubbers) + "  ratio"
    )
    for label, events in workloads(queries).items():
        texts = [text for event in events for text in event]
        costs = [per_event(scrubbing(fn, texts), len(events)) for fn in scrubbers.values()]
        print(
            f"{label:34} " + " ".join(f"{c:16.1f}" for c in costs) + f"  {costs[1] / costs[0]:.1f}x"
        )
    print()
    for name, fn in scrubbers.items():
        changed = [q for q in queries if fn(q) != q]
        escaped = escapes(fn, TEXT)
        print(
            f"{name:16} false positives {len(changed)}/{len(queries)} "
            f"({len(changed) / len(queries):.2%}); escapes {len(escaped)}/{len(TEXT)} "
            f"sample shapes{': ' + ', '.join(escaped) if escaped else ''}"
        )


if __name__ == "__main__":
    sys.exit(recorded("scrub_cost", main))
