"""A shop whose ids are built to break string-built SQL and paths: quotes, `../`, a
backslash, a SQL comment, a 5,000-character buyer id. The `one_day` fixture lands it beside the
generated shops, so every run that uses that day (local, cluster, killed and re-run) carries
it; tests/integration/test_hostile_ids.py checks what gold holds for it."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from tests.integration.landing_files import write_landing

SHOP = "shop'\"/../../x\\'; DROP TABLE gold --"
AGENT = "agent' OR '1'='1"
BOT = "bot/../../etc/passwd"
BUYER = "b" * 5000
SESSION_HUMAN = "../../s'1"
SESSION_BOT = 's"2/..'
# A second shop whose one session was assigned before it entered the queue (a negative wait):
# the gold gate holds its shop-day back, by a predicate that names the shop.
HELD_SHOP = "held') OR ('1'='1"
ZONE = "Asia/Shanghai"


def land_hostile_shop(landing, day: date) -> None:
    """Two sessions of `day` at SHOP: one sent straight to AGENT, who answers the buyer in
    60 s; one the bot handles alone. One session at HELD_SHOP with a negative wait."""
    at = lambda hh, mm, ss=0: datetime.combine(day, time(hh, mm, ss), ZoneInfo(ZONE))  # noqa: E731
    dt = str(day)
    write_landing(landing, "shops", dt, [dict(shop_id=SHOP, shop_name="O'Hostile \"shop\"", platform="taobao", category="toys",
                                              tier="L1", timezone=ZONE, opened_date=date(2025, 1, 1)),
                                         dict(shop_id=HELD_SHOP, shop_name="held", platform="taobao", category="toys",
                                              tier="L1", timezone=ZONE, opened_date=date(2025, 1, 1))], name="hostile")
    write_landing(landing, "agents", dt, [
        dict(agent_id=AGENT, shop_id=SHOP, agent_kind="human", display_name="A'gent"),
        dict(agent_id=BOT, shop_id=SHOP, agent_kind="bot", display_name="bot"),
    ], name="hostile")
    session = dict(buyer_id=BUYER, shop_id=SHOP, is_internal=False, is_spam=False, scene_l1="aftersale'", scene_l2="refund/..",
                   scene_l3=None, queue_entered_at=None)
    write_landing(landing, "sessions", dt, [
        session | dict(session_id=SESSION_HUMAN, started_at=at(10, 0), ended_at=at(10, 5), transferred_to_human_at=at(10, 0),
                       queue_entered_at=at(10, 0), assigned_at=at(10, 0, 10), last_agent_id=AGENT, updated_at=at(10, 5)),
        session | dict(session_id=SESSION_BOT, started_at=at(11, 0), ended_at=at(11, 2), transferred_to_human_at=None,
                       assigned_at=None, last_agent_id=BOT, updated_at=at(11, 2)),
        session | dict(session_id="held-1", shop_id=HELD_SHOP, started_at=at(12, 0), ended_at=at(12, 5), transferred_to_human_at=at(12, 0),
                       queue_entered_at=at(12, 1), assigned_at=at(12, 0, 30), last_agent_id=None, updated_at=at(12, 5)),
    ], name="hostile")
    write_landing(landing, "messages", dt, [
        dict(message_id="m'1", session_id=SESSION_HUMAN, shop_id=SHOP, sender_role="buyer", agent_id=None, sent_at=at(10, 0, 5), msg_type="text"),
        dict(message_id="m'2", session_id=SESSION_HUMAN, shop_id=SHOP, sender_role="human", agent_id=AGENT, sent_at=at(10, 1, 5), msg_type="text"),
        dict(message_id="m'3", session_id=SESSION_BOT, shop_id=SHOP, sender_role="buyer", agent_id=None, sent_at=at(11, 0, 5), msg_type="text"),
        dict(message_id="m'4", session_id=SESSION_BOT, shop_id=SHOP, sender_role="bot", agent_id=BOT, sent_at=at(11, 0, 6), msg_type="text"),
    ], name="hostile")
