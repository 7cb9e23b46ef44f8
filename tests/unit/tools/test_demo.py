"""``make demo``'s sending: Segment batches as the SDKs post them, and the nightly runs' days."""

import datetime as dt
from typing import Any

import pytest

from localcloud.demo_shop import Channel, SegmentCall, plan_shop
from localcloud.run import LOCAL_SERVER_KEY, LOCAL_WRITE_KEY
from tools.demo import BATCH_CALLS, DemoError, SegmentSender, Tally, segment_posts

NOW = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)


class FakeResponse:
    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        self.status_code, self._body, self.headers = status, body, headers
        self.text = str(body)

    def json(self) -> dict[str, Any]:
        return self._body


class FakeSession:
    def __init__(self, *answers: tuple[int, dict[str, Any], dict[str, str]]) -> None:
        self.answers = list(answers)
        self.posts: list[dict[str, Any]] = []

    def post(self, url: str, **kwargs: Any) -> FakeResponse:
        self.posts.append({"url": url, **kwargs})
        return FakeResponse(*self.answers.pop(0))


def test_a_batch_is_stamped_sent_now_and_a_429_waited_out() -> None:
    session = FakeSession(
        (429, {}, {"Retry-After": "3"}),
        (200, {"received": 2, "accepted": 2, "rejected": 0}, {}),
    )
    waits: list[float] = []
    sender = SegmentSender(
        "http://collector",
        now=lambda: NOW,
        sleep=waits.append,
        session=session,  # type: ignore[arg-type]
    )
    tally = Tally()
    calls = [{"type": "track"}, {"type": "identify"}]
    sender.post(LOCAL_WRITE_KEY, calls, address="203.0.113.9", user_agent="Browser/1", tally=tally)
    assert waits == [3.0]
    assert [post["url"] for post in session.posts] == ["http://collector/v1/batch"] * 2
    post = session.posts[-1]
    assert post["json"] == {"batch": calls, "sentAt": "2026-03-01T09:30:00.000Z"}
    assert post["auth"] == (LOCAL_WRITE_KEY, "")
    assert post["headers"] == {"User-Agent": "Browser/1", "X-Forwarded-For": "203.0.113.9"}
    assert (tally.requests, tally.retries, tally.accepted) == (1, 1, 2)


def test_a_refused_batch_stops_the_demo() -> None:
    session = FakeSession((401, {"code": "write_key_invalid"}, {}))
    sender = SegmentSender("http://collector", now=lambda: NOW, session=session)  # type: ignore[arg-type]
    with pytest.raises(DemoError, match="401"):
        sender.post(LOCAL_SERVER_KEY, [{"type": "track"}], tally=Tally())


def test_each_batch_is_one_devices_or_the_backends() -> None:
    plan = plan_shop(end=NOW, secret="s" * 32, users=10, days=10)
    posts = segment_posts(plan)
    calls = [send.call for send in plan.sends if isinstance(send, SegmentCall)]
    assert sorted(c["messageId"] for p in posts for c in p.calls) == sorted(
        c["messageId"] for c in calls
    )
    for post in posts:
        assert 0 < len(post.calls) <= BATCH_CALLS
        if post.key == LOCAL_SERVER_KEY:
            assert post.address is None
            assert {c["event"] for c in post.calls} == {"Order Completed"}
        else:
            assert len({c["anonymousId"] for c in post.calls}) == 1
            assert post.address is not None
            stamps = [c["timestamp"] for c in post.calls]
            assert stamps == sorted(stamps)
    devices = {send.device for send in plan.sends if isinstance(send, SegmentCall)} - {None}
    assert len({post.address for post in posts} - {None}) == len(devices)
    assert any(send.channel is Channel.BACKEND for send in plan.sends)
