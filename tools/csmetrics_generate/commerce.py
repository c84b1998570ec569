"""Orders, after-sale tickets and complaints following one local day's sessions.

Orders are created by consulting buyers (and by others, so after-sale buyers exist),
paid minutes to days later; an order paid on a later UTC date lands twice, the second
time with `paid_at` and a newer `updated_at`. Tickets close days later, some arbitrated;
complaints come up to ~16 days after payment, straddling the 14-day window.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from csmetrics_generate.arrow import US_PER_S, ids, take, timestamps
from csmetrics_generate.conversations import DAY_S, ConversationDay, day_start_utc_seconds

HOUR = 3600 * US_PER_S


def commerce_day(
    rng: np.random.Generator, conv: ConversationDay, shops: np.ndarray, pop_daily: np.ndarray, day: date, id_base: int
) -> dict[str, pa.Table]:
    from_session = np.flatnonzero(rng.random(len(conv.session_shop)) < 0.22)
    organic_per_shop = rng.poisson(0.4 * pop_daily[shops])
    organic_shop = np.repeat(shops, organic_per_shop)
    organic_pool = np.maximum(3, np.ceil(pop_daily[organic_shop] * 1.5)).astype(np.int64)
    organic_buyer = organic_shop.astype(np.int64) * 1_000_000 + rng.integers(0, organic_pool)
    organic_created = day_start_utc_seconds(day) * US_PER_S + rng.integers(0, DAY_S * US_PER_S, len(organic_shop))

    shop = np.concatenate([conv.session_shop[from_session], organic_shop])
    buyer = np.concatenate([conv.session_buyer[from_session], organic_buyer])
    created = np.concatenate(
        [conv.session_started[from_session] + (rng.exponential(6, len(from_session)) * HOUR).astype(np.int64), organic_created]
    )
    n = len(shop)
    order_no = id_base + np.arange(n)
    paid = rng.random(n) < 0.85
    pay_delay_h = np.where(rng.random(n) < 0.1, rng.uniform(24, 96, n), rng.exponential(2, n))
    paid_at = created + (pay_delay_h * HOUR).astype(np.int64)
    amount = np.round(rng.lognormal(4, 1, n), 2)
    items = rng.integers(1, 6, n).astype(np.int32)

    def order_version(rows, with_payment, updated):
        return pa.table(
            {
                "order_id": ids("o", order_no[rows]),
                "shop_id": ids("shop", shop[rows]),
                "buyer_id": ids("buyer", buyer[rows]),
                "created_at": timestamps(created[rows]),
                "paid_at": timestamps(paid_at[rows], ~with_payment),
                "amount": pa.array(amount[rows]).cast(pa.decimal128(18, 2)),
                "item_count": pa.array(items[rows]),
                "updated_at": timestamps(updated),
                "_arrival": timestamps(updated),
            }
        )

    same_day = paid & (paid_at // (DAY_S * US_PER_S) == created // (DAY_S * US_PER_S))
    first = np.arange(n)
    first_paid = same_day
    first_updated = np.where(same_day, paid_at, created)
    later = np.flatnonzero(paid & ~same_day)
    orders = pa.concat_tables(
        [
            order_version(first, first_paid, first_updated),
            order_version(later, np.ones(len(later), bool), paid_at[later]),
        ]
    )
    copies = orders.take(np.flatnonzero(rng.random(orders.num_rows) < 0.01))
    next_day = copies["_arrival"].cast(pa.int64()).to_numpy() + DAY_S * US_PER_S
    orders = pa.concat_tables([orders, copies.set_column(8, "_arrival", timestamps(next_day))])

    paid_rows = np.flatnonzero(paid)
    return {
        "orders": orders,
        "after_sales": _after_sales(rng, order_no, shop, buyer, paid_at, amount, paid_rows, id_base),
        "complaints": _complaints(rng, order_no, shop, buyer, paid_at, paid_rows, id_base),
    }


def _after_sales(rng, order_no, shop, buyer, paid_at, amount, paid_rows, id_base) -> pa.Table:
    rows = paid_rows[rng.random(len(paid_rows)) < 0.06]
    k = len(rows)
    created = paid_at[rows] + (rng.uniform(2, 240, k) * HOUR).astype(np.int64)
    closed_flag = rng.random(k) < 0.9
    closed = created + (rng.exponential(40, k) * HOUR).astype(np.int64) + US_PER_S
    wait = (rng.uniform(0.05, 0.9, k) * (closed - created) / US_PER_S).astype(np.int64)
    kind = rng.choice(3, k, p=[0.5, 0.35, 0.15])
    responsibility = rng.choice(4, k, p=[0.35, 0.35, 0.1, 0.2])
    arbitrated = closed_flag & (rng.random(k) < 0.25)

    def version(with_close, updated):
        return pa.table(
            {
                "ticket_id": ids("t", id_base + np.arange(k)),
                "order_id": ids("o", order_no[rows]),
                "shop_id": ids("shop", shop[rows]),
                "buyer_id": ids("buyer", buyer[rows]),
                "kind": take(["refund_only", "return_refund", "exchange"], kind),
                "created_at": timestamps(created),
                "closed_at": timestamps(closed, ~with_close),
                "merchant_wait_seconds": pa.array(np.where(with_close, wait, 0).astype(np.int64)),
                "responsibility": take(["merchant", "buyer", "platform", "none"], responsibility, ~(with_close & arbitrated)),
                "updated_at": timestamps(updated),
                "_arrival": timestamps(updated),
            }
        )

    opened = version(np.zeros(k, bool), created)
    closed_version = version(closed_flag, closed).filter(pa.array(closed_flag))
    return pa.concat_tables([opened, closed_version])


def _complaints(rng, order_no, shop, buyer, paid_at, paid_rows, id_base) -> pa.Table:
    rows = paid_rows[rng.random(len(paid_rows)) < 0.04]
    k = len(rows)
    created = paid_at[rows] + (rng.uniform(0, 16 * 24, k) * HOUR).astype(np.int64)
    no_order = rng.random(k) < 0.1
    table = pa.table(
        {
            "complaint_id": ids("c", id_base + np.arange(k)),
            "order_id": pc.if_else(pa.array(no_order), pa.scalar(None, pa.string()), ids("o", order_no[rows])),
            "shop_id": ids("shop", shop[rows]),
            "buyer_id": ids("buyer", buyer[rows]),
            "kind": take(["complaint", "dispute", "platform_consult"], rng.choice(3, k, p=[0.6, 0.25, 0.15])),
            "created_at": timestamps(created),
        }
    )
    return table.append_column("_arrival", table["created_at"])
