"""Sessions, messages and ratings for one local day of a chunk of shops, vectorised.

A session is a sequence of rounds: first the bot's (buyer asks, bot answers), then, once
transferred to a human, the human's (one to three buyer messages, then a human reply,
sometimes slow, sometimes never). The shapes the metrics must handle all occur: bot-only
and direct-to-human sessions, queues, sessions never picked up, agents handing a session
over, system auto-replies and agents' own auto-replies (sent from a human account, and
still no human reply), bot cards between buyer and human, messages around 08:00 and
23:00, sessions crossing local midnight, replies after midnight, internal and spam sessions
(and small shops whose only session of a day is spam), re-sent sessions.

What real platforms produce and metrics code might not expect: agents who split a reply
into several messages (answer ratio from about 0.3 to 3), buyers and agents sending several
messages in the same microsecond, sessions of hundreds of messages, ratings invited hours
after the session (often the next local day).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import pyarrow as pa

from csmetrics_generate.arrow import US_PER_S, cumsum_within, group_offsets, ids, take, timestamps
from csmetrics_generate.shops import Population, agent_number

DAY_S = 86_400
# Consultation scenes as platforms label them: a level-1 scene, then finer levels. Some
# sessions carry no label (the classifier gave up), some only the first two levels.
SCENE_TREE = {
    "presale": [("product", "size_fit"), ("product", "material"), ("product", "stock"), ("price", "coupon"), ("price", "price_match")],
    "logistics": [("shipping", "delivery_time"), ("shipping", "tracking"), ("address", "change_address")],
    "aftersale": [("refund", "refund_progress"), ("refund", "refund_amount"), ("return", "return_shipping"), ("quality", "damaged"), ("quality", "wrong_item")],
    "product": [("usage", "how_to_use"), ("usage", "installation"), ("warranty", "repair")],
    "promotion": [("campaign", "rules"), ("campaign", "gift")],
}
SCENES = list(SCENE_TREE)
UNLABELLED_SHARE, LEVEL_2_ONLY_SHARE = 0.03, 0.07


@dataclass
class ConversationDay:
    tables: dict[str, pa.Table]
    # What the commerce generator needs about the sessions.
    session_shop: np.ndarray
    session_buyer: np.ndarray
    session_started: np.ndarray


def day_start_utc_seconds(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def _start_second_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    """Mostly daytime, with crowds around 08:00 and 23:00, a few at night, and some in
    the last minutes before midnight (they end the next local day)."""
    kind = rng.random(n)
    seconds = rng.uniform(9 * 3600, 22.5 * 3600, n)
    seconds = np.where(kind < 0.08, rng.normal(8 * 3600, 240, n), seconds)
    seconds = np.where((kind >= 0.08) & (kind < 0.16), rng.normal(23 * 3600, 240, n), seconds)
    seconds = np.where((kind >= 0.16) & (kind < 0.24), rng.uniform(0, DAY_S, n), seconds)
    seconds = np.where((kind >= 0.24) & (kind < 0.26), rng.uniform(DAY_S - 600, DAY_S - 30, n), seconds)
    return np.clip(seconds, 0, DAY_S - 1)


def _spam_day(rng: np.random.Generator, pop: Population, shops: np.ndarray) -> np.ndarray:
    """Per shop: whether all its sessions of the day are spam. The smallest tenth of the
    shops attract advertisers: on some days their only sessions are spam."""
    smallest = pop.daily_sessions <= np.quantile(pop.daily_sessions, 0.1)
    spam_day = np.zeros(len(pop.daily_sessions), bool)
    spam_day[shops] = smallest[shops] & (rng.random(len(shops)) < 0.3)
    return spam_day


def _extra_reply_messages(agent: np.ndarray) -> np.ndarray:
    """Each human agent's habit: mean number of extra messages per reply (0 to 3). Agents
    who split a reply into lines send more messages than buyers."""
    return np.array([0.0, 0.3, 1.0, 3.0])[(agent * 2654435761 // 7) % 4]


def _agent_auto_replies(rng: np.random.Generator, first_human: np.ndarray, r_human: np.ndarray) -> np.ndarray:
    """Rounds in which the agent's configured auto-reply ("您好，请稍等") goes out from the
    agent's own account (sender_role human, msg_type auto_reply) 1 s after the buyer's first
    message: a third of the rounds that open the human phase, also in sessions nobody picks
    up, and a few later ones ("away"). It is no human reply (SPEC §3). A generator of its
    own, so that every other generated value stays as it was."""
    draw = rng.random(len(r_human))
    return np.flatnonzero((first_human & (draw < 0.33)) | (r_human & ~first_human & (draw < 0.03)))


def conversation_day(
    rng: np.random.Generator, pop: Population, shops: np.ndarray, day: date, id_base: int
) -> ConversationDay:
    per_shop = rng.poisson(pop.daily_sessions[shops])
    shop = np.repeat(shops, per_shop)
    n = len(shop)
    session_no = id_base + np.arange(n)

    local_midnight = day_start_utc_seconds(day) - pop.utc_offset_seconds(day)[shop]
    started = (local_midnight + _start_second_of_day(rng, n)) * US_PER_S + rng.integers(0, US_PER_S, n)
    started = started.astype(np.int64)
    pool = np.maximum(3, np.ceil(pop.daily_sessions[shop] * 1.5)).astype(np.int64)
    buyer = shop.astype(np.int64) * 1_000_000 + np.floor(pool * rng.random(n) ** 1.5).astype(np.int64)

    kind = rng.random(n)
    bot_only, direct = kind < 0.30, (kind >= 0.30) & (kind < 0.55)
    transfer = ~bot_only
    never_picked = transfer & (rng.random(n) < 0.08)
    switched_agent = transfer & ~never_picked & (rng.random(n) < 0.06)
    bot_rounds = np.where(direct, 0, rng.integers(1, 4, n))
    # A few sessions go on for dozens of rounds: hundreds of messages.
    long_session = transfer & (rng.random(n) < 0.004)
    human_rounds = np.where(transfer, np.where(long_session, rng.integers(40, 120, n), rng.integers(1, 6, n)), 0)
    wait_s = np.where(rng.random(n) < 0.05, rng.uniform(600, 1500, n), rng.exponential(45, n))

    # ---- rounds -------------------------------------------------------------------
    rounds_per_session = bot_rounds + human_rounds
    r_session = np.repeat(np.arange(n), rounds_per_session)
    r_index = group_offsets(rounds_per_session)
    r_human = r_index >= bot_rounds[r_session]
    r_human_index = r_index - bot_rounds[r_session]
    nr = len(r_session)
    r_buyer_msgs = rng.choice([1, 2, 3], size=nr, p=[0.6, 0.3, 0.1])
    r_spacing = rng.uniform(3, 20, nr)
    slow = rng.random(nr) < 0.10
    human_delay = np.where(slow, rng.uniform(170, 900, nr), 5 + rng.exponential(40, nr))
    first_human = r_human & (r_human_index == 0)
    human_delay = np.where(first_human, wait_s[r_session] + 3 + rng.exponential(20, nr), human_delay)
    r_delay = np.where(r_human, human_delay, rng.uniform(1, 4, nr))
    last_round = r_index == rounds_per_session[r_session] - 1
    r_replied = ~r_human | ~(never_picked[r_session] | (last_round & (rng.random(nr) < 0.12)))
    r_gap = rng.uniform(10, 120, nr)
    duration = (r_buyer_msgs - 1) * r_spacing + np.where(r_replied, r_delay, 0) + r_gap
    # Rounds follow one another; the human phase starts 2 s after the transfer.
    r_start_s = cumsum_within(duration, rounds_per_session) + np.where(r_human, 2.0, 0.0)
    bot_phase_s = np.bincount(r_session, weights=np.where(r_human, 0, duration), minlength=n)
    transfer_at = started + (bot_phase_s * US_PER_S).astype(np.int64)
    r_start = started[r_session] + (r_start_s * US_PER_S).astype(np.int64)

    agent1 = agent_number(shop, rng.integers(0, pop.human_agents[shop]))
    agent2 = agent_number(shop, rng.integers(0, pop.human_agents[shop]))
    bot_agent = agent_number(shop, np.full(n, -1))
    second_half = r_human_index >= np.ceil(human_rounds[r_session] / 2)
    r_agent = np.where(
        r_human,
        np.where(switched_agent[r_session] & second_half, agent2[r_session], agent1[r_session]),
        bot_agent[r_session],
    )

    # ---- messages -----------------------------------------------------------------
    b_round = np.repeat(np.arange(nr), r_buyer_msgs)
    # Some rounds are a burst: all the buyer's messages in the same microsecond (text + image).
    burst = rng.random(nr) < 0.05
    b_spacing = np.where(burst, 0.0, r_spacing)
    b_time = r_start[b_round] + (group_offsets(r_buyer_msgs) * b_spacing[b_round] * US_PER_S).astype(np.int64)
    last_buyer_time = r_start + ((r_buyer_msgs - 1) * b_spacing * US_PER_S).astype(np.int64)
    replied_round = np.flatnonzero(r_replied)
    # A human reply is split into lines by the agents who do so; a line may share its
    # predecessor's microsecond.
    lines = np.where(r_human[replied_round], 1 + rng.poisson(_extra_reply_messages(r_agent[replied_round])), 1)
    reply_round = np.repeat(replied_round, lines)
    line_gap = np.where(rng.random(len(reply_round)) < 0.1, 0.0, rng.uniform(1, 8, len(reply_round)))
    line_gap = np.where(group_offsets(lines) == 0, 0.0, line_gap)
    line_offset = cumsum_within(line_gap, lines) + line_gap
    reply_time = last_buyer_time[reply_round] + ((r_delay[reply_round] + line_offset) * US_PER_S).astype(np.int64)
    card_round = np.flatnonzero(r_human & (rng.random(nr) < 0.06))
    system_session = np.flatnonzero(transfer)

    msg_session = np.concatenate([r_session[b_round], r_session[reply_round], r_session[card_round], system_session])
    msg_time = np.concatenate(
        [b_time, reply_time, last_buyer_time[card_round] + US_PER_S, transfer_at[system_session] + US_PER_S]
    )
    nb, _, ncard, nsys = len(b_round), len(reply_round), len(card_round), len(system_session)
    # role: 0 buyer, 1 human, 2 bot, 3 system
    role = np.concatenate(
        [np.zeros(nb, int), np.where(r_human[reply_round], 1, 2), np.full(ncard, 2), np.full(nsys, 3)]
    )
    msg_agent = np.concatenate(
        [np.zeros(nb, np.int64), r_agent[reply_round], bot_agent[r_session[card_round]], np.zeros(nsys, np.int64)]
    )
    msg_type = np.select(
        [role == 0, role == 1, role == 2],
        [rng.choice([0, 1, 2], len(role), p=[0.8, 0.15, 0.05]), rng.choice([0, 1, 2], len(role), p=[0.9, 0.05, 0.05]), np.full(len(role), 3)],
        4,
    )
    n_drawn = len(role)
    agent_auto = _agent_auto_replies(np.random.default_rng([id_base, day.toordinal()]), first_human, r_human)
    msg_session = np.concatenate([msg_session, r_session[agent_auto]])
    msg_time = np.concatenate([msg_time, r_start[agent_auto] + US_PER_S])
    role = np.concatenate([role, np.ones(len(agent_auto), int)])
    msg_agent = np.concatenate([msg_agent, r_agent[agent_auto]])
    msg_type = np.concatenate([msg_type, np.full(len(agent_auto), 4)])
    n_msgs = len(msg_session)
    messages = pa.table(
        {
            "message_id": ids("m", id_base * 40 + np.arange(n_msgs)),
            "session_id": ids("s", session_no[msg_session]),
            "shop_id": ids("shop", shop[msg_session]),
            "sender_role": take(["buyer", "human", "bot", "system"], role),
            "agent_id": ids("agent", msg_agent),
            "sent_at": timestamps(msg_time),
            "msg_type": take(["text", "image", "emoji", "card", "auto_reply"], msg_type),
        }
    )
    messages = messages.set_column(4, "agent_id", pa.array(
        np.where(np.isin(role, [1, 2]), messages["agent_id"].to_numpy(zero_copy_only=False), None), pa.string()))
    late_message = np.concatenate([rng.random(n_drawn) < 0.01, np.zeros(n_msgs - n_drawn, bool)])
    messages = messages.append_column("_arrival", timestamps(msg_time + late_message * DAY_S * US_PER_S))

    # ---- sessions -----------------------------------------------------------------
    last_msg = np.full(n, np.iinfo(np.int64).min)
    np.maximum.at(last_msg, msg_session, msg_time)
    last_msg = np.maximum(last_msg, started)
    ended = last_msg + (rng.uniform(30, 300, n) * US_PER_S).astype(np.int64)
    still_open = rng.random(n) < 0.04
    queue_recorded = transfer & (rng.random(n) < 0.92)
    assigned = transfer_at + (wait_s * US_PER_S).astype(np.int64)
    last_agent = np.where(bot_only, bot_agent, np.where(switched_agent, agent2, agent1))
    scene = rng.integers(0, len(SCENES), n)
    sessions = pa.table(
        {
            "session_id": ids("s", session_no),
            "shop_id": ids("shop", shop),
            "buyer_id": ids("buyer", buyer),
            "started_at": timestamps(started),
            "ended_at": timestamps(ended, still_open),
            "transferred_to_human_at": timestamps(transfer_at, ~transfer),
            "queue_entered_at": timestamps(transfer_at, ~queue_recorded),
            "assigned_at": timestamps(assigned, ~transfer | never_picked),
            "last_agent_id": pa.array(
                np.where(never_picked, None, ids("agent", last_agent).to_numpy(zero_copy_only=False)), pa.string()
            ),
            "is_internal": pa.array(rng.random(n) < 0.02),
            "is_spam": pa.array(_spam_day(rng, pop, shops)[shop] | (rng.random(n) < 0.03)),
            **_scene_labels(scene, rng.random(n)),
            "updated_at": timestamps(np.where(still_open, last_msg, ended)),
        }
    )
    sessions = sessions.append_column("_arrival", sessions["updated_at"])
    sessions = pa.concat_tables([sessions, _resent_sessions(rng, sessions)])

    ratings = _ratings(rng, session_no, shop, buyer, transfer, never_picked, np.where(still_open, last_msg, ended))
    return ConversationDay({"sessions": sessions, "messages": messages, "ratings": ratings}, shop, buyer, started)


def _scene_labels(scene: np.ndarray, u: np.ndarray) -> dict[str, pa.Array]:
    """scene_l1..l3 of sessions of level-1 scene `scene`, the finer levels picked by `u` in [0, 1)."""
    unlabelled = u < UNLABELLED_SHARE
    level_2_only = ~unlabelled & (u < UNLABELLED_SHARE + LEVEL_2_ONLY_SHARE)
    leaf_u = np.clip((u - UNLABELLED_SHARE - LEVEL_2_ONLY_SHARE) / (1 - UNLABELLED_SHARE - LEVEL_2_ONLY_SHARE), 0, 0.999999)
    counts = np.array([len(SCENE_TREE[name]) for name in SCENES])
    leaf = (np.cumsum(counts) - counts)[scene] + (leaf_u * counts[scene]).astype(np.int64)
    l2 = take([l2 for name in SCENES for l2, _ in SCENE_TREE[name]], leaf, unlabelled)
    l3 = take([l3 for name in SCENES for _, l3 in SCENE_TREE[name]], leaf, unlabelled | level_2_only)
    return {
        "scene_l1": take(SCENES, scene, unlabelled),
        "scene_l2": l2,
        "scene_l3": l3,
    }


def _resent_sessions(rng: np.random.Generator, sessions: pa.Table) -> pa.Table:
    """Upstream re-sends: newer versions (later spam flag, scene labels) and exact copies."""
    n = sessions.num_rows
    newer = np.flatnonzero(rng.random(n) < 0.04)
    updated = sessions.take(newer)
    later = updated["updated_at"].cast(pa.int64()).to_numpy() + (rng.uniform(1, 20, len(newer)) * 3600 * US_PER_S).astype(np.int64)
    updated = updated.set_column(updated.schema.get_field_index("updated_at"), "updated_at", timestamps(later))
    updated = updated.set_column(updated.schema.get_field_index("is_spam"), "is_spam", pa.array(rng.random(len(newer)) < 0.2))
    updated = updated.set_column(updated.schema.get_field_index("_arrival"), "_arrival", timestamps(later))
    copies = sessions.take(np.flatnonzero(rng.random(n) < 0.01))
    next_day = copies["_arrival"].cast(pa.int64()).to_numpy() + DAY_S * US_PER_S
    copies = copies.set_column(copies.schema.get_field_index("_arrival"), "_arrival", timestamps(next_day))
    return pa.concat_tables([updated, copies])


def _ratings(rng, session_no, shop, buyer, transfer, never_picked, invite_base) -> pa.Table:
    n = len(session_no)
    rated = np.flatnonzero(~never_picked & (rng.random(n) < 0.25))
    # Most cards go out when the session ends, some hours later (often the next local day).
    invite_delay_s = np.where(rng.random(len(rated)) < 0.15, rng.uniform(3600, 16 * 3600, len(rated)), 5)
    invited = invite_base[rated] + (invite_delay_s * US_PER_S).astype(np.int64)
    delay_s = np.where(rng.random(len(rated)) < 0.08, rng.uniform(20, 40, len(rated)) * 3600, rng.exponential(3 * 3600, len(rated)))
    rated_at = invited + (delay_s * US_PER_S).astype(np.int64)
    score = rng.choice([5, 4, 3, 2, 1], len(rated), p=[0.55, 0.2, 0.1, 0.08, 0.07])
    tags = pa.array([["fast"] if s >= 4 else None for s in score], pa.list_(pa.string()))
    table = pa.table(
        {
            "rating_id": ids("r", session_no[rated]),
            "session_id": ids("s", session_no[rated]),
            "shop_id": ids("shop", shop[rated]),
            "buyer_id": ids("buyer", buyer[rated]),
            "target": take(["bot", "human"], transfer[rated].astype(int)),
            "invited_at": timestamps(invited),
            "rated_at": timestamps(rated_at),
            "score": pa.array(score.astype(np.int32)),
            "tags": tags,
        }
    )
    return table.append_column("_arrival", table["rated_at"])
