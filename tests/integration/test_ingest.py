"""Landing -> bronze: versions, duplicates, quarantine reasons, the landed-count invariant, the failure rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from pyspark.sql import functions as F

from csmetrics.bronze import read_bronze
from csmetrics.ingest.run import InvalidInputError, ingest
from tests.integration.landing_files import write_landing

UTC = timezone.utc


def at(hour: int, day: int = 2) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def order(order_id, updated, paid=None, amount="10.00", created=None, shop="s1", buyer="b1"):
    return dict(order_id=order_id, shop_id=shop, buyer_id=buyer, created_at=created or at(1), paid_at=paid,
                amount=Decimal(amount), item_count=1, updated_at=updated)


def rating(rating_id, score=5, invited=None, rated=None, target="human", shop="s1"):
    return dict(rating_id=rating_id, session_id="x", shop_id=shop, buyer_id="b1", target=target,
                invited_at=invited or at(3), rated_at=rated or at(4), score=score, tags=None)


@pytest.fixture
def landing(settings):
    write_landing(settings.landing, "shops", "2026-03-02", [
        dict(shop_id="s1", shop_name="One", platform="tmall", category="food", tier="L1", timezone="Asia/Shanghai", opened_date=date(2025, 1, 1)),
    ])
    return settings.landing


def quarantine(spark, settings):
    return spark.read.format("delta").load(settings.table_path("quarantine", "records"))


def test_newer_updated_at_wins_and_exact_resends_are_dropped(spark, settings, landing):
    write_landing(landing, "orders", "2026-03-02", [order("o1", at(1)), order("o2", at(1))])
    # o1 re-sent a day later with payment and a newer updated_at; o2 re-sent unchanged.
    write_landing(landing, "orders", "2026-03-03", [order("o1", at(5, 3), paid=at(5, 3)), order("o2", at(1))])
    report = ingest(spark, replace(settings, max_invalid_share=1.0), date(2026, 3, 2), "r1")

    orders = report.tables["orders"]
    assert (orders.landed, orders.inserted, orders.duplicates, orders.quarantined) == (4, 3, 1, 0)
    current = {r.order_id: r.paid_at for r in read_bronze(spark, settings, "orders").collect()}
    assert current == {"o1": datetime(2026, 3, 3, 5), "o2": None}
    # As of the first arrival date only, o1 is still unpaid.
    as_of = read_bronze(spark, settings, "orders", arrival_cutoff=date(2026, 3, 2)).where("order_id = 'o1'").first()
    assert as_of.paid_at is None


def test_too_many_invalid_records_fail_the_run_and_say_why(spark, settings, landing):
    write_landing(landing, "ratings", "2026-03-02", [rating(f"r{i}") for i in range(97)] + [rating(f"bad{i}", score=9) for i in range(3)])
    with pytest.raises(InvalidInputError) as failure:
        ingest(spark, settings, date(2026, 3, 2), "r1")
    message = str(failure.value)
    assert "ratings: 3 of 100 records invalid (3.0%)" in message
    assert "out_of_range:score (3)" in message
    # Nothing reached bronze, and the partitions will be read again by the next attempt.
    assert not (settings.warehouse and __import__("os").path.exists(settings.table_path("bronze", "ratings")))
    assert quarantine(spark, settings).where("table = 'ratings'").count() == 3


def test_only_new_arrival_partitions_are_read(spark, settings, landing):
    write_landing(landing, "orders", "2026-03-02", [order("o1", at(1))])
    write_landing(landing, "orders", "2026-03-04", [order("o9", at(1, 4), created=at(1, 4))])
    first = ingest(spark, settings, date(2026, 3, 2), "r1")
    again = ingest(spark, settings, date(2026, 3, 2), "r1-again")
    later = ingest(spark, settings, date(2026, 3, 3), "r2")
    assert first.tables["orders"].arrival_dates == [date(2026, 3, 2)]
    assert "orders" not in again.tables
    assert later.tables["orders"].arrival_dates == [date(2026, 3, 4)]
    assert read_bronze(spark, settings, "orders").select(F.sort_array(F.collect_list("order_id"))).first()[0] == ["o1", "o9"]
