"""Known crawlers, by their User-Agent: their calls are counted and dropped, never stored.

The list is monperrus/crawler-user-agents (PyPI ``crawler-user-agents``, republished with every
change to it), less the entries it tags ``http-library``: curl, python-requests, Go's, Node's
fetch and the like are what the app's backend and the server SDKs send with
(``analytics-python/2.4.0``, ``analytics-node-next/latest``), not crawlers. Headless Chrome is on
the list: pages rendered by it (scrapers, previews) are no shopper's visit.

A User-Agent seen before costs a cache look-up (about 0.1 µs); a new one, Python's ``re`` over
the list's patterns (up to about 0.1 ms), which the collector's rate limits bound.
"""

import functools
import re

import crawleruseragents

EXCLUDED_TAGS = frozenset({"http-library"})
# Real User-Agents are far shorter; a longer one is cut before matching (a regex's cost grows
# with the text).
MAX_USER_AGENT_LENGTH = 512
# Patterns joined per alternation: Python's re is fastest over the list in groups of this size.
_GROUP = 25


def _searchers() -> tuple[re.Pattern[str], ...]:
    patterns = [
        entry["pattern"]
        for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA
        if not EXCLUDED_TAGS.intersection(entry.get("tags", ()))
    ]
    return tuple(
        re.compile("|".join(patterns[i : i + _GROUP])) for i in range(0, len(patterns), _GROUP)
    )


_SEARCHERS = _searchers()


@functools.lru_cache(maxsize=4096)
def is_crawler(user_agent: str | None) -> bool:
    """Whether the User-Agent names a known crawler; none, or an empty one, is not one."""
    if not user_agent:
        return False
    text = user_agent[:MAX_USER_AGENT_LENGTH]
    return any(searcher.search(text) is not None for searcher in _SEARCHERS)
