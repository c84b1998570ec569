-- The conversation metrics of SPEC §4 (shop and agent grain) as DuckDB SQL: a reference
-- implementation written independently of the Spark job, to benchmark it and to check
-- that both give the same values.
--
-- Inputs (views created by bench/reference/duckdb_reference.py over the landing Parquet):
--   landed_shops, landed_sessions, landed_messages   rows of every file landed by the cutoff, with landed_at
--   params(stat_date)                                the dates computed (the run's conversation dates)
--   hours(business_start_us, business_end_us)         business hours, microseconds of the local day
-- Output: table conversation_rows(stat_date, shop_id, agent_id, metric, numerator, denominator),
-- agent_id NULL at shop grain, emitted as the gold tables emit (SPEC §5: a ratio or mean
-- when its denominator > 0, a count when > 0).
SET TimeZone = 'UTC';

CREATE OR REPLACE TEMP TABLE shops AS
SELECT shop_id, timezone
FROM landed_shops
QUALIFY row_number() OVER (PARTITION BY shop_id ORDER BY landed_at DESC) = 1;

-- The latest updated_at per session wins (ties: the later arrival).
CREATE OR REPLACE TEMP TABLE sessions AS
SELECT s.*, sh.timezone,
       CAST(timezone(sh.timezone, s.started_at) AS DATE) AS stat_date,
       s.is_internal OR s.is_spam AS is_filtered
FROM (
    SELECT * EXCLUDE (dt, filename, landed_at) FROM landed_sessions
    QUALIFY row_number() OVER (PARTITION BY session_id ORDER BY updated_at DESC, landed_at DESC) = 1
) s
JOIN shops sh USING (shop_id)
WHERE CAST(timezone(sh.timezone, s.started_at) AS DATE) IN (SELECT stat_date FROM params);

-- Messages of non-filtered sessions of the dates; the first arrival of a message_id wins.
CREATE OR REPLACE TEMP TABLE messages AS
WITH first_arrival AS (
    SELECT * EXCLUDE (dt, filename, landed_at, shop_id) FROM landed_messages
    QUALIFY row_number() OVER (PARTITION BY message_id ORDER BY landed_at, filename) = 1
)
SELECT m.session_id, m.message_id, m.sender_role, m.agent_id, m.sent_at, m.msg_type,
       epoch_us(m.sent_at) AS sent_us,
       s.shop_id, s.stat_date, s.timezone, s.transferred_to_human_at, s.last_agent_id,
       m.sender_role = 'buyer' AND coalesce(m.sent_at >= s.transferred_to_human_at, false) AS hp_buyer,
       -- A human reply: an agent's auto-reply is none (SPEC §3).
       m.sender_role = 'human' AND m.msg_type <> 'auto_reply' AS is_human
FROM first_arrival m
JOIN sessions s ON s.session_id = m.session_id AND NOT s.is_filtered;

-- Per message: the next human reply (earliest human message at or after it, ties by
-- message_id) and the round (human messages up to it, in sent_at, message_id order).
CREATE OR REPLACE TEMP TABLE features AS
WITH ordered AS (
    SELECT *,
        min(CASE WHEN is_human THEN {'us': sent_us, 'id': message_id, 'agent': agent_id} END) OVER (
            PARTITION BY session_id ORDER BY sent_us RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING
        ) AS next_reply,
        sum(is_human::INT) OVER (
            PARTITION BY session_id ORDER BY sent_us, message_id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS round_no
    FROM messages
),
local AS (
    SELECT *, timezone(timezone, sent_at) AS local_sent
    FROM ordered
)
SELECT *,
    CASE WHEN hp_buyer THEN (next_reply.us - sent_us) / 1e6 END AS response_s,
    next_reply.agent AS next_reply_agent,
    hp_buyer
        AND CAST(local_sent AS DATE) = stat_date
        AND epoch_us(local_sent) - epoch_us(date_trunc('day', local_sent))
            BETWEEN (SELECT business_start_us FROM hours) AND (SELECT business_end_us FROM hours) - 1
        AS counted_3min
FROM local;

CREATE OR REPLACE TEMP TABLE wide_sessions AS
WITH facts AS (
    SELECT session_id,
        bool_or(is_human AND sent_at >= transferred_to_human_at) AS has_human_reply,
        arg_min_null(response_s, (sent_us, message_id)) FILTER (WHERE hp_buyer) AS first_response_s,
        count(*) FILTER (WHERE counted_3min) AS counted_3min,
        count(*) FILTER (WHERE counted_3min AND response_s <= 180) AS replied_3min
    FROM features
    GROUP BY session_id
),
flags AS (
    SELECT s.*, f.first_response_s, coalesce(f.counted_3min, 0) AS counted_3min, coalesce(f.replied_3min, 0) AS replied_3min,
        NOT s.is_filtered AS kept,
        NOT s.is_filtered AND s.transferred_to_human_at IS NOT NULL AS transferred,
        NOT s.is_filtered AND s.transferred_to_human_at IS NOT NULL AND coalesce(f.has_human_reply, false) AS received,
        coalesce(s.last_agent_id, 'unassigned') AS agent
    FROM sessions s LEFT JOIN facts f USING (session_id)
)
SELECT stat_date, shop_id, CASE WHEN grouping(agent) = 0 THEN agent END AS agent_id,
    count(*) FILTER (WHERE kept) AS consult_sessions__n,
    count(DISTINCT buyer_id) FILTER (WHERE kept) AS consult_buyers__n,
    count(*) FILTER (WHERE is_filtered) AS filtered_sessions__n,
    count(*) FILTER (WHERE transferred) AS transfer_sessions__n,
    count(*) FILTER (WHERE received) AS received_sessions__n,
    count(*) FILTER (WHERE received) AS pickup_rate__n,
    count(*) FILTER (WHERE transferred) AS pickup_rate__d,
    sum(epoch_us(assigned_at) - epoch_us(queue_entered_at)) FILTER (WHERE kept AND queue_entered_at IS NOT NULL AND assigned_at IS NOT NULL) / 1e6 AS avg_wait_seconds__n,
    count(*) FILTER (WHERE kept AND queue_entered_at IS NOT NULL AND assigned_at IS NOT NULL) AS avg_wait_seconds__d,
    sum(epoch_us(ended_at) - epoch_us(transferred_to_human_at)) FILTER (WHERE received AND ended_at IS NOT NULL) / 1e6 AS avg_reception_seconds__n,
    count(*) FILTER (WHERE received AND ended_at IS NOT NULL) AS avg_reception_seconds__d,
    sum(first_response_s) FILTER (WHERE received AND first_response_s IS NOT NULL) AS first_response_seconds__n,
    count(*) FILTER (WHERE received AND first_response_s IS NOT NULL) AS first_response_seconds__d,
    count(*) FILTER (WHERE kept AND counted_3min > 0 AND replied_3min = counted_3min) AS reply_3min_session_rate__n,
    count(*) FILTER (WHERE kept AND counted_3min > 0) AS reply_3min_session_rate__d
FROM flags
GROUP BY GROUPING SETS ((stat_date, shop_id), (stat_date, shop_id, agent));

CREATE OR REPLACE TEMP TABLE wide_messages AS
SELECT stat_date, shop_id, CASE WHEN grouping(agent) = 0 THEN agent END AS agent_id,
    count(*) FILTER (WHERE counted_3min AND response_s <= 180) AS reply_3min_rate__n,
    count(*) FILTER (WHERE counted_3min) AS reply_3min_rate__d,
    sum(response_s) FILTER (WHERE hp_buyer AND response_s IS NOT NULL) AS avg_response_seconds__n,
    count(*) FILTER (WHERE hp_buyer AND response_s IS NOT NULL) AS avg_response_seconds__d,
    count(*) FILTER (WHERE is_human) AS answer_question_ratio__n,
    count(*) FILTER (WHERE hp_buyer) AS answer_question_ratio__d
FROM (
    SELECT *, CASE WHEN is_human THEN coalesce(agent_id, last_agent_id, 'unassigned')
                   ELSE coalesce(next_reply_agent, last_agent_id, 'unassigned') END AS agent
    FROM features WHERE hp_buyer OR is_human
)
GROUP BY GROUPING SETS ((stat_date, shop_id), (stat_date, shop_id, agent));

-- A round is answered by the next human reply of its first buyer message.
CREATE OR REPLACE TEMP TABLE wide_rounds AS
WITH round_rows AS (
    SELECT session_id, round_no, any_value(stat_date) AS stat_date, any_value(shop_id) AS shop_id,
        arg_min_null(response_s, (sent_us, message_id)) AS response_s,
        coalesce(arg_min_null(next_reply_agent, (sent_us, message_id)), any_value(last_agent_id), 'unassigned') AS agent
    FROM features WHERE hp_buyer
    GROUP BY session_id, round_no
)
SELECT stat_date, shop_id, CASE WHEN grouping(agent) = 0 THEN agent END AS agent_id,
    sum(response_s) AS avg_round_response_seconds__n,
    count(response_s) AS avg_round_response_seconds__d,
    count(*) FILTER (WHERE response_s IS NULL OR response_s > 180) AS slow_rounds__n
FROM round_rows
GROUP BY GROUPING SETS ((stat_date, shop_id), (stat_date, shop_id, agent));

-- reply_rate: each buyer's decisive session is the one holding their last buyer message of
-- the day (sessions without a buyer message lose; ties: the later start, the larger id).
CREATE OR REPLACE TEMP TABLE wide_buyers AS
WITH per_session AS (
    SELECT session_id,
        max((sent_us, message_id)) FILTER (WHERE sender_role = 'buyer') AS last_buyer,
        max((sent_us, message_id)) FILTER (WHERE sender_role IN ('human', 'bot') AND msg_type <> 'auto_reply') AS last_reply
    FROM features
    GROUP BY session_id
),
decisive AS (
    SELECT s.stat_date, s.shop_id, s.buyer_id,
        arg_max({'replied': p.last_buyer IS NOT NULL AND p.last_reply IS NOT NULL AND p.last_reply > p.last_buyer,
                 'agent': coalesce(s.last_agent_id, 'unassigned')},
                (p.last_buyer IS NOT NULL, coalesce(p.last_buyer, (0::BIGINT, '')), s.started_at, s.session_id)) AS d
    FROM sessions s LEFT JOIN per_session p USING (session_id)
    WHERE NOT s.is_filtered
    GROUP BY s.stat_date, s.shop_id, s.buyer_id
)
SELECT stat_date, shop_id, CASE WHEN grouping(agent) = 0 THEN agent END AS agent_id,
    count(*) FILTER (WHERE replied) AS reply_rate__n,
    count(*) AS reply_rate__d
FROM (SELECT stat_date, shop_id, d.replied AS replied, d.agent AS agent FROM decisive)
GROUP BY GROUPING SETS ((stat_date, shop_id), (stat_date, shop_id, agent));

CREATE OR REPLACE TEMP TABLE long_rows AS
WITH unpivoted AS (
    SELECT * FROM (UNPIVOT wide_sessions ON COLUMNS('__[nd]$') INTO NAME measure VALUE amount)
    UNION ALL BY NAME SELECT * FROM (UNPIVOT wide_messages ON COLUMNS('__[nd]$') INTO NAME measure VALUE amount)
    UNION ALL BY NAME SELECT * FROM (UNPIVOT wide_rounds ON COLUMNS('__[nd]$') INTO NAME measure VALUE amount)
    UNION ALL BY NAME SELECT * FROM (UNPIVOT wide_buyers ON COLUMNS('__[nd]$') INTO NAME measure VALUE amount)
)
SELECT stat_date, shop_id, agent_id, split_part(measure, '__', 1) AS metric,
    sum(amount) FILTER (WHERE measure LIKE '%\_\_n' ESCAPE '\')::DOUBLE AS numerator,
    sum(amount) FILTER (WHERE measure LIKE '%\_\_d' ESCAPE '\')::DOUBLE AS denominator
FROM unpivoted
GROUP BY ALL;

CREATE OR REPLACE TEMP TABLE conversation_rows AS
SELECT * FROM long_rows
WHERE CASE WHEN metric IN ('consult_sessions', 'consult_buyers', 'filtered_sessions', 'transfer_sessions',
                           'received_sessions', 'slow_rounds')
           THEN numerator > 0 ELSE denominator > 0 END
  -- Shop-level volume counts have no agent grain.
  AND NOT (agent_id IS NOT NULL AND metric IN ('consult_sessions', 'consult_buyers', 'filtered_sessions'));
