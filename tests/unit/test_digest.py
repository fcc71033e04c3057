"""Channel policies (pure): quiet hours and digest times in local time, across DST; decisions; ranking."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from service.models import Item, Match
from service.stories.digest import (
    ChannelPolicy,
    Entry,
    decide,
    digest_alerts,
    digest_lines,
    due_digest,
    importance,
    in_quiet_hours,
)
from service.stories.route import StoryView, plan

NEW_YORK = ChannelPolicy(quiet_hours=("22:00", "07:00"), timezone="America/New_York")


@pytest.mark.parametrize(
    ("utc", "quiet"),
    [
        ("2026-03-08T02:30", True),  # 21:30 EST the night before the spring change: 22:00 not yet
        ("2026-03-08T03:30", True),  # 22:30 EST
        ("2026-03-08T10:30", True),  # 06:30 EDT (clocks went forward at 02:00): still quiet
        ("2026-03-08T11:30", False),  # 07:30 EDT
        ("2026-11-01T11:30", True),  # 06:30 EST (clocks went back at 02:00): still quiet
        ("2026-11-01T12:30", False),  # 07:30 EST
        ("2026-07-01T01:59", False),  # 21:59 EDT
        ("2026-07-01T02:00", True),  # 22:00 EDT
    ],
)
def test_quiet_hours_are_local_time_across_dst(utc: str, quiet: bool) -> None:
    now = datetime.fromisoformat(utc).replace(tzinfo=UTC)
    expected = quiet if utc != "2026-03-08T02:30" else False
    assert in_quiet_hours(NEW_YORK, now) is expected


def test_the_end_of_quiet_hours_is_a_digest_time_in_local_time() -> None:
    # 07:00 New York is 12:00 UTC in winter and 11:00 UTC in summer.
    assert due_digest(NEW_YORK, datetime(2026, 1, 15, 12, 5, tzinfo=UTC), folds=False) == datetime(
        2026, 1, 15, 12, 0, tzinfo=UTC
    )
    assert due_digest(NEW_YORK, datetime(2026, 7, 15, 11, 5, tzinfo=UTC), folds=False) == datetime(
        2026, 7, 15, 11, 0, tzinfo=UTC
    )
    # Just before 07:00 local, the last one was yesterday's.
    assert due_digest(NEW_YORK, datetime(2026, 7, 15, 10, 59, tzinfo=UTC), folds=False) == datetime(
        2026, 7, 14, 11, 0, tzinfo=UTC
    )


def test_daily_and_weekly_digests_keep_their_wall_time_over_a_dst_change() -> None:
    daily = ChannelPolicy(delivery="digest", digest="daily", digest_at="09:00", timezone="Europe/Berlin")
    # The day after Berlin's spring change (2026-03-29), 09:00 local is 07:00 UTC, the day before 08:00 UTC.
    assert due_digest(daily, datetime(2026, 3, 30, 7, 1, tzinfo=UTC), folds=False) == datetime(
        2026, 3, 30, 7, 0, tzinfo=UTC
    )
    assert due_digest(daily, datetime(2026, 3, 30, 6, 59, tzinfo=UTC), folds=False) == datetime(
        2026, 3, 29, 7, 0, tzinfo=UTC
    )
    weekly = ChannelPolicy(
        delivery="both", digest="weekly", digest_day="monday", digest_at="09:00", timezone="Asia/Seoul"
    )
    # Wednesday 2026-12-02 12:00 KST: the last weekly digest was Monday 2026-11-30 09:00 KST (00:00 UTC).
    assert due_digest(weekly, datetime(2026, 12, 2, 3, 0, tzinfo=UTC), folds=False) == datetime(
        2026, 11, 30, 0, 0, tzinfo=UTC
    )


def test_a_digest_time_in_a_spring_forward_gap_still_comes_that_day() -> None:
    policy = ChannelPolicy(delivery="digest", digest_at="02:30", timezone="America/New_York")
    # 2026-03-08 02:30 does not exist in New York; read on the clock before the change (EST) it
    # is 07:30 UTC, i.e. 03:30 EDT: the digest comes that day, an hour late, never twice or not at all.
    assert due_digest(policy, datetime(2026, 3, 8, 8, 0, tzinfo=UTC), folds=False) == datetime(
        2026, 3, 8, 7, 30, tzinfo=UTC
    )
    assert due_digest(policy, datetime(2026, 3, 8, 7, 29, tzinfo=UTC), folds=False) == datetime(
        2026, 3, 7, 7, 30, tzinfo=UTC
    )


def test_no_digest_is_posted_during_quiet_hours_the_end_of_them_brings_it() -> None:
    seoul = ChannelPolicy(delivery="digest", digest="hourly", quiet_hours=("22:00", "08:00"), timezone="Asia/Seoul")
    # 23:30 KST (14:30 UTC): the 23:00 digest is in the quiet hours; the latest due is 08:00 that morning.
    assert due_digest(seoul, datetime(2026, 12, 1, 14, 30, tzinfo=UTC), folds=False) == datetime(
        2026, 11, 30, 23, 0, tzinfo=UTC
    )
    # 08:10 KST: the end of the quiet hours releases what they held; 09:10 KST, the 09:00 digest.
    assert due_digest(seoul, datetime(2026, 12, 1, 23, 10, tzinfo=UTC), folds=False) == datetime(
        2026, 12, 1, 23, 0, tzinfo=UTC
    )
    assert due_digest(seoul, datetime(2026, 12, 2, 0, 10, tzinfo=UTC), folds=False) == datetime(
        2026, 12, 2, 0, 0, tzinfo=UTC
    )
    daily = ChannelPolicy(delivery="digest", digest_at="23:00", quiet_hours=("22:00", "08:00"), timezone="Asia/Seoul")
    assert due_digest(daily, datetime(2026, 12, 1, 14, 30, tzinfo=UTC), folds=False) == datetime(
        2026, 11, 30, 23, 0, tzinfo=UTC
    )


def test_quiet_hours_ending_in_the_repeated_hour_of_the_autumn_change_end_after_both() -> None:
    policy = ChannelPolicy(quiet_hours=("22:00", "01:30"), timezone="America/New_York")
    # 2026-11-01: 01:30 happens at 05:30 UTC (EDT) and again at 06:30 UTC (EST), quiet both times.
    assert in_quiet_hours(policy, datetime(2026, 11, 1, 6, 15, tzinfo=UTC))
    assert due_digest(policy, datetime(2026, 11, 1, 6, 15, tzinfo=UTC), folds=False) == datetime(
        2026, 10, 31, 5, 30, tzinfo=UTC
    )
    assert due_digest(policy, datetime(2026, 11, 1, 6, 31, tzinfo=UTC), folds=False) == datetime(
        2026, 11, 1, 6, 30, tzinfo=UTC
    )


def test_hourly_digests_and_channels_without_digests() -> None:
    hourly = ChannelPolicy(delivery="digest", digest="hourly", timezone="Asia/Kolkata")  # UTC+05:30
    assert due_digest(hourly, datetime(2026, 12, 1, 10, 45, tzinfo=UTC), folds=False) == datetime(
        2026, 12, 1, 10, 30, tzinfo=UTC
    )
    assert due_digest(ChannelPolicy(), datetime(2026, 12, 1, 10, 45, tzinfo=UTC), folds=False) is None
    assert due_digest(ChannelPolicy(), datetime(2026, 12, 1, 10, 45, tzinfo=UTC), folds=True) == datetime(
        2026, 12, 1, 9, 0, tzinfo=UTC
    )


NIGHT = datetime(2026, 7, 1, 3, 0, tzinfo=UTC)  # 23:00 in New York


@pytest.mark.parametrize(
    ("policy", "score", "outlets", "reply", "threads", "action", "digest"),
    [
        (ChannelPolicy(), 1.0, 1, False, True, "post", False),
        (ChannelPolicy(delivery="both"), 1.0, 1, False, True, "post", True),
        (ChannelPolicy(delivery="digest"), 9.0, 1, False, True, "hold", True),
        (NEW_YORK, 1.0, 1, False, True, "hold", True),
        (
            ChannelPolicy(quiet_hours=("22:00", "07:00"), timezone="America/New_York", urgent_score=3),
            3.0,
            3,
            False,
            True,
            "post",
            False,
        ),
        (ChannelPolicy(min_outlets=3), 2.0, 2, False, True, "wait", False),
        (ChannelPolicy(min_score=2.5), 2.0, 2, False, True, "wait", False),
        (ChannelPolicy(), 2.0, 2, True, True, "post", False),
        (ChannelPolicy(), 2.0, 2, True, False, "hold", True),  # a webhook folds later coverage
    ],
)
def test_decisions(
    policy: ChannelPolicy, score: float, outlets: int, reply: bool, threads: bool, action: str, digest: bool
) -> None:
    d = decide(policy, NIGHT, score, outlets, reply=reply, threads=threads)
    assert (d.action, d.digest) == (action, digest), d.why


def test_importance_grows_with_outlets_and_priority_and_fades_with_age() -> None:
    assert importance([1.0, 1.0, 0.5], 2.0) == 5.0
    assert importance([1.0], 1.0, age_hours=24) == 0.5
    assert importance([1.0, 1.0], 1.0) > importance([1.0], 1.0)


def test_digest_lines_one_per_story_grouped_by_topic_best_first() -> None:
    entries = [
        Entry("1", "partnership", "Microsoft and OpenAI renegotiate", "https://a/1", "Lab", 1.0),
        Entry("2", "agi", "An AGI timeline", "https://a/2", "Lab", 1.0),
        Entry("1", "partnership", "Microsoft and OpenAI renegotiate", "https://a/1", "The Verge", 2.0),
        Entry("3", "partnership", "A smaller deal", "https://a/3", "Desk", 1.5),
    ]
    lines = digest_lines(entries, ["agi", "partnership"])
    assert [(x.topic, x.title, x.outlets) for x in lines] == [
        ("agi", "An AGI timeline", ("Lab",)),
        ("partnership", "Microsoft and OpenAI renegotiate", ("Lab", "The Verge")),
        ("partnership", "A smaller deal", ("Desk",)),
    ]
    due = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    (alert,) = digest_alerts("#x", due, entries, 7, ["agi", "partnership"], NEW_YORK.zone)
    again = digest_alerts("#x", due, entries[:1], 7, ["agi"], NEW_YORK.zone)
    assert alert.kind == "digest" and alert.key == again[0].key  # one key per channel, time and batch
    late = digest_alerts("#x", due, entries[:1], 9, ["agi"], NEW_YORK.zone)  # stored after the digest closed
    assert late[0].key != alert.key
    many = [Entry(str(i), "agi", f"story {i}", f"https://a/{i}", "Lab", 1.0) for i in range(95)]
    assert [len(a.lines) for a in digest_alerts("#x", due, many, 1, ["agi"], NEW_YORK.zone)] == [40, 40, 15]


def test_each_channel_holds_the_story_under_its_own_topic() -> None:
    item = Item("Lab", "g", "https://lab/1", "Microsoft and OpenAI renegotiate", published=NIGHT)
    matches = (Match("agi", 1.5, ("AGI",)), Match("partnership", 1.5, ("deal",)))
    digests = {"#agi": ChannelPolicy(delivery="digest"), "#deals": ChannelPolicy(delivery="digest")}
    found = plan(
        item,
        matches,
        StoryView(item.title, item.url, {"Lab": 1.0}),
        {},
        routes={"agi": "#agi", "partnership": "#deals"},
        default="#agi",
        policies=digests,
        now=NIGHT,
        threads=True,
    )
    assert [(channel, entry.topic) for channel, entry in found.held] == [("#agi", "agi"), ("#deals", "partnership")]
