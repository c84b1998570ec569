-- The metrics of SPEC §4 after the conversation ones (satisfaction, inquiry and CS sales,
-- FCR, resolution, complaint cohort, after-sale tickets) as DuckDB SQL, written from the
-- spec and docs/metrics.md, not from the Spark job: a second reading of the definitions.
--
-- Runs after conversation_metrics.sql, in the same connection: it reads its `shops`.
-- Inputs (views created by bench/reference/duckdb_reference.py over the landing Parquet):
--   landed_<table>   rows of every file landed by the cutoff, with filename and landed_at,
--                    for sessions, messages, ratings, orders, after_sales, complaints
--   params(stat_date) the dates computed
-- Output: table delayed_rows(stat_date, shop_id, agent_id, segment, metric, numerator,
-- denominator), agent_id NULL at shop grain, emitted as the gold tables emit (a ratio or
-- mean when its denominator > 0, a count or amount when > 0; denominator NULL for those).
SET TimeZone = 'UTC';

-- Latest updated_at per key wins (ties: the later arrival); without updated_at, the first arrival.
CREATE OR REPLACE TEMP TABLE d_sessions AS
SELECT s.session_id, s.shop_id, s.buyer_id, s.started_at, s.transferred_to_human_at, s.last_agent_id,
       s.is_internal OR s.is_spam AS is_filtered, sh.timezone,
       CAST(timezone(sh.timezone, s.started_at) AS DATE) AS stat_date
FROM (
    SELECT * FROM landed_sessions
    QUALIFY row_number() OVER (PARTITION BY session_id ORDER BY updated_at DESC, landed_at DESC) = 1
) s
JOIN shops sh USING (shop_id);

CREATE OR REPLACE TEMP TABLE d_orders AS
SELECT o.order_id, o.shop_id, o.buyer_id, o.created_at, o.paid_at, o.amount, o.item_count, sh.timezone
FROM (
    SELECT * FROM landed_orders
    QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY updated_at DESC, landed_at DESC) = 1
) o
JOIN shops sh USING (shop_id);

CREATE OR REPLACE TEMP TABLE d_tickets AS
SELECT t.ticket_id, t.shop_id, t.buyer_id, t.kind, t.created_at, t.closed_at, t.merchant_wait_seconds, t.responsibility, sh.timezone
FROM (
    SELECT * FROM landed_after_sales
    QUALIFY row_number() OVER (PARTITION BY ticket_id ORDER BY updated_at DESC, landed_at DESC) = 1
) t
JOIN shops sh USING (shop_id);

CREATE OR REPLACE TEMP TABLE d_complaints AS
SELECT complaint_id, order_id, shop_id, buyer_id, kind, created_at
FROM landed_complaints
QUALIFY row_number() OVER (PARTITION BY complaint_id ORDER BY landed_at, filename) = 1;

-- Local payment days: a buyer is after-sale on D with a payment on a date in [D - 21, D - 1].
CREATE OR REPLACE TEMP TABLE paid_days AS
SELECT DISTINCT shop_id, buyer_id, CAST(timezone(timezone, paid_at) AS DATE) AS paid_date
FROM d_orders
WHERE paid_at IS NOT NULL;

-- satisfaction_rate, very_satisfied_rate: ratings invited on local D, given before the end
-- of D + 1, of a non-filtered session.
CREATE OR REPLACE TEMP TABLE rated AS
WITH ratings AS (
    SELECT r.*, sh.timezone, CAST(timezone(sh.timezone, r.invited_at) AS DATE) AS stat_date
    FROM (
        SELECT * FROM landed_ratings
        QUALIFY row_number() OVER (PARTITION BY rating_id ORDER BY landed_at, filename) = 1
    ) r
    JOIN shops sh USING (shop_id)
)
SELECT r.stat_date, r.shop_id, r.target, r.score, s.last_agent_id,
    EXISTS (
        SELECT 1 FROM paid_days p
        WHERE p.shop_id = r.shop_id AND p.buyer_id = r.buyer_id AND p.paid_date BETWEEN r.stat_date - 21 AND r.stat_date - 1
    ) AS is_after_sale
FROM ratings r
JOIN d_sessions s ON s.session_id = r.session_id AND NOT s.is_filtered
WHERE r.stat_date IN (SELECT stat_date FROM params)
  AND r.rated_at < timezone(r.timezone, CAST(r.stat_date + 2 AS TIMESTAMP));

CREATE OR REPLACE TEMP TABLE wide_satisfaction AS
SELECT stat_date, shop_id, NULL::VARCHAR AS agent_id, segment,
    count(*) FILTER (WHERE score >= 4) AS satisfaction_rate__n, count(*) AS satisfaction_rate__d,
    count(*) FILTER (WHERE score = 5) AS very_satisfied_rate__n, count(*) AS very_satisfied_rate__d
FROM (SELECT *, unnest(['all', target, CASE WHEN is_after_sale THEN 'aftersale' ELSE 'presale' END]) AS segment FROM rated)
GROUP BY ALL
UNION ALL BY NAME
SELECT stat_date, shop_id, coalesce(last_agent_id, 'unassigned') AS agent_id, 'human' AS segment,
    count(*) FILTER (WHERE score >= 4) AS satisfaction_rate__n, count(*) AS satisfaction_rate__d,
    count(*) FILTER (WHERE score = 5) AS very_satisfied_rate__n, count(*) AS very_satisfied_rate__d
FROM rated
WHERE target = 'human'
GROUP BY ALL;

-- Consulting buyers of D and t0, their first non-filtered session start on D.
CREATE OR REPLACE TEMP TABLE consulting AS
WITH firsts AS (
    SELECT shop_id, buyer_id, stat_date, any_value(timezone) AS timezone, min(started_at) AS t0
    FROM d_sessions
    WHERE NOT is_filtered AND stat_date IN (SELECT stat_date FROM params)
    GROUP BY ALL
)
SELECT f.*,
    EXISTS (
        SELECT 1 FROM paid_days p
        WHERE p.shop_id = f.shop_id AND p.buyer_id = f.buyer_id AND p.paid_date BETWEEN f.stat_date - 21 AND f.stat_date - 1
    ) AS is_after_sale
FROM firsts f;

-- Inquiry conversion and CS-attributed sales, per consulting buyer-day.
CREATE OR REPLACE TEMP TABLE wide_sales AS
WITH per_buyer AS (
    SELECT c.shop_id, c.buyer_id, c.stat_date, c.is_after_sale,
        coalesce(bool_or(o.paid_at >= c.t0 AND o.paid_at < timezone(c.timezone, CAST(c.stat_date + 2 AS TIMESTAMP))), false) AS paid_t1,
        coalesce(bool_or(o.paid_at >= c.t0 AND o.paid_at < timezone(c.timezone, CAST(c.stat_date + 4 AS TIMESTAMP))), false) AS paid_final,
        sum(o.amount::DOUBLE) FILTER (WHERE o.created_at >= c.t0 AND o.created_at < c.t0 + INTERVAL 72 HOUR AND o.paid_at < c.t0 + INTERVAL 72 HOUR) AS cs_amount,
        sum(o.item_count::DOUBLE) FILTER (WHERE o.created_at >= c.t0 AND o.created_at < c.t0 + INTERVAL 72 HOUR AND o.paid_at < c.t0 + INTERVAL 72 HOUR) AS cs_items,
        coalesce(bool_or(o.created_at >= c.t0 AND o.created_at < c.t0 + INTERVAL 72 HOUR AND o.paid_at < c.t0 + INTERVAL 72 HOUR), false) AS is_cs_buyer
    FROM consulting c
    LEFT JOIN d_orders o ON o.shop_id = c.shop_id AND o.buyer_id = c.buyer_id AND o.paid_at IS NOT NULL
    GROUP BY c.shop_id, c.buyer_id, c.stat_date, c.is_after_sale
)
SELECT stat_date, shop_id, NULL::VARCHAR AS agent_id, 'all' AS segment,
    count(*) FILTER (WHERE NOT is_after_sale) AS inquiry_buyers__n,
    count(*) FILTER (WHERE NOT is_after_sale AND paid_t1) AS inquiry_pay_rate_t1__n,
    count(*) FILTER (WHERE NOT is_after_sale) AS inquiry_pay_rate_t1__d,
    count(*) FILTER (WHERE NOT is_after_sale AND paid_final) AS inquiry_pay_rate_final__n,
    count(*) FILTER (WHERE NOT is_after_sale) AS inquiry_pay_rate_final__d,
    sum(cs_amount) FILTER (WHERE is_cs_buyer) AS cs_sales_amount__n,
    count(*) FILTER (WHERE is_cs_buyer) AS cs_buyers__n,
    sum(cs_items) FILTER (WHERE is_cs_buyer) AS cs_items__n,
    sum(cs_amount) FILTER (WHERE is_cs_buyer) AS avg_order_value__n,
    count(*) FILTER (WHERE is_cs_buyer) AS avg_order_value__d,
    sum(cs_items) FILTER (WHERE is_cs_buyer) AS items_per_buyer__n,
    count(*) FILTER (WHERE is_cs_buyer) AS items_per_buyer__d
FROM per_buyer
GROUP BY ALL;

-- fcr_3d: after-sale buyers' received sessions of D; recontacted by another non-filtered,
-- transferred session of the buyer at the shop started in (start, start + 72 h].
CREATE OR REPLACE TEMP TABLE wide_fcr AS
WITH human_messages AS (
    SELECT session_id, sent_at
    FROM (
        SELECT * FROM landed_messages
        QUALIFY row_number() OVER (PARTITION BY message_id ORDER BY landed_at, filename) = 1
    )
    WHERE sender_role = 'human' AND msg_type <> 'auto_reply'
),
received AS (
    SELECT s.*
    FROM d_sessions s
    WHERE NOT s.is_filtered AND s.transferred_to_human_at IS NOT NULL
      AND s.stat_date IN (SELECT stat_date FROM params)
      AND EXISTS (SELECT 1 FROM human_messages m WHERE m.session_id = s.session_id AND m.sent_at >= s.transferred_to_human_at)
      AND EXISTS (
          SELECT 1 FROM paid_days p
          WHERE p.shop_id = s.shop_id AND p.buyer_id = s.buyer_id AND p.paid_date BETWEEN s.stat_date - 21 AND s.stat_date - 1
      )
)
SELECT stat_date, shop_id, NULL::VARCHAR AS agent_id, 'all' AS segment,
    count(*) FILTER (WHERE NOT recontacted) AS fcr_3d__n,
    count(*) AS fcr_3d__d
FROM (
    SELECT s.*,
        EXISTS (
            SELECT 1 FROM d_sessions r
            WHERE NOT r.is_filtered AND r.transferred_to_human_at IS NOT NULL
              AND r.shop_id = s.shop_id AND r.buyer_id = s.buyer_id
              AND r.started_at > s.started_at AND r.started_at <= s.started_at + INTERVAL 72 HOUR
        ) AS recontacted
    FROM received s
)
GROUP BY ALL;

-- resolution_rate_15d: buyers with after-sale contact on D (an after-sale buyer's session, or
-- a ticket created on D); unresolved with a complaints row of any kind in [t, t + 360 h].
CREATE OR REPLACE TEMP TABLE wide_resolution AS
WITH contacts AS (
    SELECT shop_id, buyer_id, stat_date, started_at AS t
    FROM d_sessions s
    WHERE NOT s.is_filtered AND s.stat_date IN (SELECT stat_date FROM params)
      AND EXISTS (
          SELECT 1 FROM paid_days p
          WHERE p.shop_id = s.shop_id AND p.buyer_id = s.buyer_id AND p.paid_date BETWEEN s.stat_date - 21 AND s.stat_date - 1
      )
    UNION ALL
    SELECT shop_id, buyer_id, CAST(timezone(timezone, created_at) AS DATE) AS stat_date, created_at AS t
    FROM d_tickets
    WHERE CAST(timezone(timezone, created_at) AS DATE) IN (SELECT stat_date FROM params)
),
buyers AS (
    SELECT shop_id, buyer_id, stat_date, min(t) AS t FROM contacts GROUP BY ALL
)
SELECT stat_date, shop_id, NULL::VARCHAR AS agent_id, 'all' AS segment,
    count(*) FILTER (WHERE NOT unresolved) AS resolution_rate_15d__n,
    count(*) AS resolution_rate_15d__d
FROM (
    SELECT b.*,
        EXISTS (
            SELECT 1 FROM d_complaints c
            WHERE c.shop_id = b.shop_id AND c.buyer_id = b.buyer_id AND c.created_at BETWEEN b.t AND b.t + INTERVAL 360 HOUR
        ) AS unresolved
    FROM buyers b
)
GROUP BY ALL;

-- complaint_rate_14d: orders paid on local D - 14; complained with a `complaint` row for the
-- order created in [paid_at, paid_at + 336 h].
CREATE OR REPLACE TEMP TABLE wide_complaints AS
SELECT stat_date, shop_id, NULL::VARCHAR AS agent_id, 'all' AS segment,
    count(*) FILTER (WHERE complained) AS complaint_rate_14d__n,
    count(*) AS complaint_rate_14d__d
FROM (
    SELECT o.shop_id, CAST(timezone(o.timezone, o.paid_at) AS DATE) + 14 AS stat_date,
        EXISTS (
            SELECT 1 FROM d_complaints c
            WHERE c.kind = 'complaint' AND c.order_id = o.order_id
              AND c.created_at BETWEEN o.paid_at AND o.paid_at + INTERVAL 336 HOUR
        ) AS complained
    FROM d_orders o
    WHERE o.paid_at IS NOT NULL
)
WHERE stat_date IN (SELECT stat_date FROM params)
GROUP BY ALL;

-- After-sale tickets closed on local D.
CREATE OR REPLACE TEMP TABLE wide_tickets AS
SELECT stat_date, shop_id, NULL::VARCHAR AS agent_id, 'all' AS segment,
    count(*) FILTER (WHERE responsibility = 'merchant') AS dispute_merchant_rate__n,
    count(*) AS dispute_merchant_rate__d,
    sum(merchant_wait_seconds) FILTER (WHERE kind IN ('return_refund', 'exchange')) AS return_refund_wait_seconds__n,
    count(*) FILTER (WHERE kind IN ('return_refund', 'exchange')) AS return_refund_wait_seconds__d,
    sum(merchant_wait_seconds) FILTER (WHERE kind = 'refund_only') AS refund_only_wait_seconds__n,
    count(*) FILTER (WHERE kind = 'refund_only') AS refund_only_wait_seconds__d,
    sum(epoch_us(closed_at) - epoch_us(created_at)) FILTER (WHERE kind IN ('refund_only', 'return_refund')) / 1e6 AS refund_cycle_seconds__n,
    count(*) FILTER (WHERE kind IN ('refund_only', 'return_refund')) AS refund_cycle_seconds__d
FROM (SELECT *, CAST(timezone(timezone, closed_at) AS DATE) AS stat_date FROM d_tickets WHERE closed_at IS NOT NULL)
WHERE stat_date IN (SELECT stat_date FROM params)
GROUP BY ALL;

CREATE OR REPLACE TEMP TABLE delayed_long AS
WITH unpivoted AS (
    SELECT * FROM (UNPIVOT wide_satisfaction ON COLUMNS('__[nd]$') INTO NAME measure VALUE amount)
    UNION ALL BY NAME SELECT * FROM (UNPIVOT wide_sales ON COLUMNS('__[nd]$') INTO NAME measure VALUE amount)
    UNION ALL BY NAME SELECT * FROM (UNPIVOT wide_fcr ON COLUMNS('__[nd]$') INTO NAME measure VALUE amount)
    UNION ALL BY NAME SELECT * FROM (UNPIVOT wide_resolution ON COLUMNS('__[nd]$') INTO NAME measure VALUE amount)
    UNION ALL BY NAME SELECT * FROM (UNPIVOT wide_complaints ON COLUMNS('__[nd]$') INTO NAME measure VALUE amount)
    UNION ALL BY NAME SELECT * FROM (UNPIVOT wide_tickets ON COLUMNS('__[nd]$') INTO NAME measure VALUE amount)
)
SELECT stat_date, shop_id, agent_id, segment, split_part(measure, '__', 1) AS metric,
    sum(amount::DOUBLE) FILTER (WHERE measure LIKE '%\_\_n' ESCAPE '\') AS numerator,
    sum(amount::DOUBLE) FILTER (WHERE measure LIKE '%\_\_d' ESCAPE '\') AS denominator
FROM unpivoted
GROUP BY ALL;

CREATE OR REPLACE TEMP TABLE delayed_rows AS
SELECT * FROM delayed_long
WHERE CASE WHEN metric IN ('inquiry_buyers', 'cs_sales_amount', 'cs_buyers', 'cs_items')
           THEN coalesce(numerator, 0) > 0 ELSE coalesce(denominator, 0) > 0 END;
