"""The schedule change log: its one writer, its pruning, and the floor/gap state machine beat
reads it with (pure: no database)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from beat.changelog import ChangeFloor, schedule_changes_prune
from beat.models import ScheduleChange


def test_rows_are_read_once_and_the_floor_follows_them() -> None:
    floor = ChangeFloor(window_s=300)
    floor.start([], latest=10, now=0.0)
    assert floor.floor == 10
    assert floor.apply([(11, "acme"), (12, "globex")], now=1.0) == ["acme", "globex"]
    assert floor.floor == 12 and not floor.seen and not floor.gaps
    assert floor.apply([], now=2.0) == []


def test_a_missing_id_holds_the_floor_and_its_successors_are_not_applied_twice() -> None:
    floor = ChangeFloor(window_s=300)
    floor.start([], latest=10, now=0.0)
    # 11 was taken by a transaction that has not committed yet; 12 is visible.
    assert floor.apply([(12, "globex")], now=1.0) == ["globex"]
    assert floor.floor == 10 and floor.gaps == {11: 1.0}
    # Read again (ids above the floor): 12 is skipped, 11 now appears and is applied.
    assert floor.apply([(12, "globex")], now=2.0) == []
    assert floor.apply([(11, "acme"), (12, "globex")], now=3.0) == ["acme"]
    assert floor.floor == 12 and not floor.gaps


def test_a_gap_older_than_the_window_is_given_up() -> None:
    floor = ChangeFloor(window_s=300)
    floor.start([], latest=10, now=0.0)
    floor.apply([(12, "globex")], now=1.0)
    floor.apply([(12, "globex")], now=200.0)
    assert floor.floor == 10  # still within the window: 11 may commit
    floor.apply([(12, "globex")], now=302.0)
    assert floor.floor == 12 and not floor.gaps  # 11 was rolled back


def test_a_full_load_starts_below_the_recent_ids() -> None:
    floor = ChangeFloor(window_s=300)
    # The load covered 7 and 9; 8 may still commit, so the floor stays below it.
    floor.start([7, 9], latest=9, now=0.0)
    assert floor.floor == 7 and floor.gaps == {8: 0.0}
    assert floor.apply([(8, "acme"), (9, "globex")], now=1.0) == ["acme"]
    assert floor.floor == 9


@pytest.mark.django_db
def test_the_change_log_keeps_a_day_of_rows() -> None:
    old = ScheduleChange.objects.create(schema_name="acme")
    ScheduleChange.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(days=2))
    recent = ScheduleChange.objects.create(schema_name="globex")
    assert schedule_changes_prune() >= 1
    assert not ScheduleChange.objects.filter(pk=old.pk).exists()
    assert ScheduleChange.objects.filter(pk=recent.pk).exists()
