-- Colibri compiler corpus: ClickHouse SELECT statements written by the team.
-- Statements are separated by a line containing only `-- ---`.
-- Schema (fictional, tables need not exist): events, sessions, users,
-- pageviews, orders, products in the workspace database, plus db-qualified
-- tables in analytics, archive, shared and ws_main. Every statement is checked
-- against ClickHouse's parser (EXPLAIN AST via chdb) by
-- test/unit/compiler-corpus.test.ts.
-- ---
SELECT 1
-- ---
SELECT count() FROM events
-- ---
SELECT event_type, count() AS c FROM events GROUP BY event_type ORDER BY c DESC LIMIT 10
-- ---
SELECT * FROM analytics.events_raw LIMIT 100
-- ---
SELECT e.user_id, e.ts FROM events AS e WHERE e.event_type = 'click'
-- ---
SELECT user_id FROM events e WHERE ts >= now() - INTERVAL 1 DAY
-- ---
SELECT toStartOfHour(ts) AS hour, count() AS hits FROM pageviews GROUP BY hour ORDER BY hour
-- ---
SELECT toStartOfInterval(ts, INTERVAL 15 MINUTE) AS bucket, uniq(user_id) FROM events GROUP BY bucket ORDER BY bucket
-- ---
SELECT toDate(created_at) AS day, sum(amount) AS revenue FROM orders WHERE status = 'paid' GROUP BY day ORDER BY day
-- ---
SELECT DISTINCT country FROM users
-- ---
SELECT DISTINCT ON (user_id) user_id, ts, event_type FROM events ORDER BY user_id, ts DESC
-- ---
SELECT DISTINCT ON (session_id, path) session_id, path FROM pageviews
-- ---
SELECT DISTINCT user_id, toDate(ts) FROM events WHERE event_type IN ('purchase', 'signup')
-- ---
SELECT count() FROM events FINAL
-- ---
SELECT user_id, argMax(plan, signup_at) FROM users FINAL GROUP BY user_id
-- ---
SELECT count() FROM events SAMPLE 0.1
-- ---
SELECT count() * 10 FROM events SAMPLE 1 / 10 OFFSET 1 / 2
-- ---
SELECT uniq(user_id) FROM events SAMPLE 10000
-- ---
SELECT e.user_id FROM events AS e FINAL SAMPLE 0.5 WHERE e.ts > '2024-01-01'
-- ---
SELECT sum(amount) FROM ws_main.orders
-- ---
SELECT o.order_id, p.name FROM ws_main.orders AS o INNER JOIN ws_main.products AS p ON o.product_id = p.product_id
-- ---
SELECT * FROM (SELECT user_id, count() AS n FROM events GROUP BY user_id) WHERE n > 10
-- ---
SELECT t.user_id, t.n FROM (SELECT user_id, count() AS n FROM events GROUP BY user_id) AS t ORDER BY t.n DESC LIMIT 5
-- ---
SELECT * FROM (SELECT * FROM (SELECT * FROM (SELECT user_id FROM sessions))) LIMIT 1
-- ---
SELECT number FROM numbers(10)
-- ---
SELECT number AS day_offset, today() - number AS day FROM numbers(30) ORDER BY day
-- ---
SELECT n.number, e.c FROM numbers(24) AS n LEFT JOIN (SELECT toHour(ts) AS h, count() AS c FROM events GROUP BY h) AS e ON n.number = e.h
-- ---
SELECT * FROM zeros(5)
-- ---
SELECT * FROM values('id UInt32, name String', (1, 'a'), (2, 'b'))
-- ---
SELECT * FROM generate_series(1, 10)
-- ---
SELECT user_id, tag FROM events ARRAY JOIN tags AS tag
-- ---
SELECT user_id, tag FROM events LEFT ARRAY JOIN tags AS tag WHERE event_type = 'view'
-- ---
SELECT product_id, sku, idx FROM products ARRAY JOIN skus AS sku, arrayEnumerate(skus) AS idx
-- ---
SELECT k, v FROM events ARRAY JOIN mapKeys(props) AS k, mapValues(props) AS v WHERE event_type = 'custom'
-- ---
SELECT s.session_id, p FROM sessions AS s ARRAY JOIN [1, 2, 3] AS p
-- ---
SELECT e.user_id, u.plan FROM events AS e JOIN users AS u ON e.user_id = u.user_id
-- ---
SELECT e.user_id, u.plan FROM events AS e INNER JOIN users AS u USING (user_id)
-- ---
SELECT user_id, plan, count() FROM events LEFT JOIN users USING user_id GROUP BY user_id, plan
-- ---
SELECT u.user_id, count(o.order_id) FROM users AS u LEFT OUTER JOIN orders AS o ON u.user_id = o.user_id GROUP BY u.user_id
-- ---
SELECT o.order_id, u.email FROM orders AS o RIGHT JOIN users AS u ON o.user_id = u.user_id
-- ---
SELECT o.order_id, u.email FROM orders AS o RIGHT OUTER JOIN users AS u ON o.user_id = u.user_id
-- ---
SELECT coalesce(a.user_id, b.user_id) FROM sessions AS a FULL JOIN orders AS b ON a.user_id = b.user_id
-- ---
SELECT a.user_id FROM sessions AS a FULL OUTER JOIN orders AS b ON a.user_id = b.user_id AND a.started_at <= b.created_at
-- ---
SELECT p.category, d.day FROM products AS p CROSS JOIN (SELECT today() - number AS day FROM numbers(7)) AS d
-- ---
SELECT e.user_id, u.plan FROM events AS e ANY LEFT JOIN users AS u ON e.user_id = u.user_id
-- ---
SELECT e.user_id FROM events AS e ALL INNER JOIN sessions AS s ON e.session_id = s.session_id
-- ---
SELECT e.user_id, e.ts, o.amount FROM events AS e ASOF JOIN orders AS o ON e.user_id = o.user_id AND e.ts >= o.created_at
-- ---
SELECT e.user_id, o.amount FROM events AS e ASOF LEFT JOIN orders AS o ON e.user_id = o.user_id AND e.ts >= o.created_at
-- ---
SELECT e.user_id FROM events AS e ASOF JOIN orders AS o USING (user_id, ts)
-- ---
SELECT u.user_id FROM users AS u LEFT SEMI JOIN orders AS o ON u.user_id = o.user_id
-- ---
SELECT u.user_id FROM users AS u SEMI LEFT JOIN orders AS o ON u.user_id = o.user_id
-- ---
SELECT u.user_id FROM users AS u LEFT ANTI JOIN orders AS o ON u.user_id = o.user_id
-- ---
SELECT o.order_id FROM users AS u RIGHT ANTI JOIN orders AS o ON u.user_id = o.user_id
-- ---
SELECT o.order_id FROM users AS u RIGHT SEMI JOIN orders AS o ON u.user_id = o.user_id
-- ---
SELECT e.user_id FROM events AS e GLOBAL JOIN users AS u ON e.user_id = u.user_id
-- ---
SELECT e.user_id FROM events AS e GLOBAL LEFT JOIN users AS u USING user_id
-- ---
SELECT e.user_id FROM events AS e GLOBAL ANY INNER JOIN users AS u ON e.user_id = u.user_id
-- ---
SELECT e.user_id FROM events AS e GLOBAL ALL FULL OUTER JOIN users AS u ON e.user_id = u.user_id
-- ---
SELECT e.user_id FROM events AS e LEFT ANY JOIN users AS u ON e.user_id = u.user_id
-- ---
SELECT e.user_id FROM events e, users u WHERE e.user_id = u.user_id
-- ---
SELECT count() FROM events, sessions, users WHERE events.session_id = sessions.session_id AND sessions.user_id = users.user_id
-- ---
SELECT e.user_id, s.source, u.plan, o.amount
FROM events AS e
JOIN sessions AS s ON e.session_id = s.session_id
LEFT JOIN users AS u ON s.user_id = u.user_id
LEFT JOIN orders AS o ON o.user_id = u.user_id AND o.created_at BETWEEN s.started_at AND s.ended_at
-- ---
SELECT a.user_id FROM analytics.events_raw AS a INNER JOIN archive.orders_2023 AS b ON a.user_id = b.user_id
-- ---
SELECT count() FROM events PREWHERE event_type = 'click' WHERE url LIKE '%/pricing%'
-- ---
SELECT user_id FROM events PREWHERE ts > now() - INTERVAL 7 DAY
-- ---
SELECT country, device, count() FROM events GROUP BY country, device WITH ROLLUP
-- ---
SELECT country, device, count() FROM events GROUP BY country, device WITH CUBE
-- ---
SELECT country, count() FROM events GROUP BY country WITH TOTALS ORDER BY count() DESC
-- ---
SELECT country, device, sum(revenue) FROM events GROUP BY ROLLUP(country, device)
-- ---
SELECT country, device, sum(revenue) FROM events GROUP BY CUBE(country, device)
-- ---
SELECT country, device, count() FROM events GROUP BY GROUPING SETS ((country), (device), ())
-- ---
SELECT country, device, grouping(country, device) AS g, count() FROM events GROUP BY GROUPING SETS ((country, device), (country), ()) ORDER BY g
-- ---
SELECT country, device, count() FROM events GROUP BY ALL
-- ---
SELECT user_id, count() AS n FROM events GROUP BY user_id HAVING n > 100
-- ---
SELECT user_id, sum(amount) FROM orders GROUP BY user_id HAVING sum(amount) > 1000 AND count() > 2
-- ---
SELECT user_id, ts, row_number() OVER (PARTITION BY user_id ORDER BY ts) AS rn FROM events QUALIFY rn = 1
-- ---
SELECT user_id, amount FROM orders QUALIFY rank() OVER (PARTITION BY user_id ORDER BY amount DESC) <= 3
-- ---
SELECT user_id, ts, lagInFrame(ts) OVER w AS prev_ts FROM events WINDOW w AS (PARTITION BY user_id ORDER BY ts)
-- ---
SELECT day, revenue, avg(revenue) OVER w7 AS ma7, sum(revenue) OVER (ORDER BY day) AS running FROM (SELECT toDate(created_at) AS day, sum(amount) AS revenue FROM orders GROUP BY day) WINDOW w7 AS (ORDER BY day ROWS BETWEEN 6 PRECEDING AND CURRENT ROW)
-- ---
SELECT user_id, ts, first_value(url) OVER (PARTITION BY session_id ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS landing FROM events
-- ---
SELECT session_id, ts, dense_rank() OVER (PARTITION BY session_id ORDER BY ts RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) FROM pageviews
-- ---
SELECT toDate(ts) AS d, count() FROM events GROUP BY d ORDER BY d WITH FILL
-- ---
SELECT toDate(ts) AS d, count() AS c FROM events GROUP BY d ORDER BY d ASC WITH FILL FROM toDate('2024-01-01') TO toDate('2024-02-01') STEP 1
-- ---
SELECT toStartOfHour(ts) AS h, count() FROM events GROUP BY h ORDER BY h WITH FILL STEP INTERVAL 1 HOUR
-- ---
SELECT toDate(ts) AS d, count() AS c FROM events GROUP BY d ORDER BY d WITH FILL STEP 1 INTERPOLATE (c AS 0)
-- ---
SELECT user_id, event_type, ts FROM events ORDER BY ts DESC LIMIT 3 BY user_id
-- ---
SELECT user_id, url FROM pageviews ORDER BY ts DESC LIMIT 1, 2 BY user_id LIMIT 100
-- ---
SELECT category, name, price FROM products ORDER BY price DESC LIMIT 5 BY category
-- ---
SELECT * FROM events ORDER BY ts LIMIT 50 OFFSET 100
-- ---
SELECT * FROM events ORDER BY ts LIMIT 100, 50
-- ---
SELECT * FROM orders ORDER BY amount DESC LIMIT 10 WITH TIES
-- ---
SELECT * FROM orders ORDER BY created_at OFFSET 10 ROWS FETCH FIRST 5 ROWS ONLY
-- ---
SELECT user_id FROM events UNION ALL SELECT user_id FROM orders
-- ---
SELECT user_id FROM events UNION DISTINCT SELECT user_id FROM orders
-- ---
SELECT user_id FROM sessions EXCEPT SELECT user_id FROM orders
-- ---
SELECT user_id FROM sessions INTERSECT SELECT user_id FROM orders
-- ---
SELECT user_id FROM sessions EXCEPT DISTINCT SELECT user_id FROM orders
-- ---
SELECT user_id FROM sessions INTERSECT ALL SELECT user_id FROM orders
-- ---
SELECT user_id FROM sessions EXCEPT ALL SELECT user_id FROM orders
-- ---
SELECT user_id FROM sessions INTERSECT DISTINCT SELECT user_id FROM orders
-- ---
(SELECT user_id FROM events LIMIT 5) UNION ALL (SELECT user_id FROM users LIMIT 5)
-- ---
SELECT 'events' AS src, count() FROM events UNION ALL SELECT 'orders', count() FROM orders UNION ALL SELECT 'users', count() FROM users
-- ---
SELECT count() FROM events SETTINGS max_threads = 2
-- ---
SELECT count() FROM events SETTINGS max_threads = 2, max_execution_time = 10
-- ---
SELECT count() FROM events FORMAT JSON
-- ---
SELECT user_id, count() FROM events GROUP BY user_id FORMAT JSONEachRow
-- ---
SELECT count() FROM events SETTINGS max_threads = 1 FORMAT CSVWithNames
-- ---
SELECT * FROM events LIMIT 10 FORMAT TSV
-- ---
WITH 7 AS days SELECT count() FROM events WHERE ts > now() - toIntervalDay(days)
-- ---
WITH toDate('2024-01-01') AS start, start + 30 AS stop SELECT count() FROM orders WHERE toDate(created_at) BETWEEN start AND stop
-- ---
WITH active AS (SELECT DISTINCT user_id FROM events WHERE ts > now() - INTERVAL 30 DAY) SELECT count() FROM active
-- ---
WITH active AS (SELECT DISTINCT user_id FROM events), paying AS (SELECT DISTINCT user_id FROM orders) SELECT count() FROM active WHERE user_id IN (SELECT user_id FROM paying)
-- ---
WITH daily AS (SELECT toDate(ts) AS d, uniq(user_id) AS dau FROM events GROUP BY d) SELECT d, dau, avg(dau) OVER (ORDER BY d ROWS 6 PRECEDING) AS dau7 FROM daily ORDER BY d
-- ---
WITH (SELECT max(ts) FROM events) AS last_ts SELECT count() FROM events WHERE ts > last_ts - INTERVAL 1 HOUR
-- ---
WITH (SELECT avg(amount) FROM orders) AS avg_amount SELECT order_id, amount FROM orders WHERE amount > 2 * avg_amount
-- ---
WITH (SELECT count() FROM users) AS total, (SELECT count() FROM users WHERE plan = 'pro') AS pro SELECT pro / total AS share
-- ---
WITH first_seen AS (SELECT user_id, min(toDate(ts)) AS cohort FROM events GROUP BY user_id),
     activity AS (SELECT DISTINCT user_id, toDate(ts) AS d FROM events)
SELECT f.cohort, dateDiff('day', f.cohort, a.d) AS day_n, uniq(a.user_id) AS users
FROM first_seen AS f JOIN activity AS a ON f.user_id = a.user_id
GROUP BY f.cohort, day_n ORDER BY f.cohort, day_n
-- ---
WITH cohort AS (SELECT user_id, toStartOfWeek(signup_at) AS week FROM users)
SELECT week, countIf(user_id IN (SELECT user_id FROM orders)) AS converted, count() AS signed_up FROM cohort GROUP BY week
-- ---
WITH 'purchase' AS target, x -> x * 100 AS pct SELECT pct(countIf(event_type = target) / count()) FROM events
-- ---
WITH s AS (SELECT session_id, count() AS pv FROM pageviews GROUP BY session_id) SELECT quantiles(0.5, 0.9, 0.99)(pv) FROM s
-- ---
WITH top_products AS (SELECT product_id, sum(amount) AS rev FROM orders GROUP BY product_id ORDER BY rev DESC LIMIT 10)
SELECT p.name, t.rev FROM top_products AS t JOIN products AS p USING product_id ORDER BY t.rev DESC
-- ---
WITH a AS (SELECT 1 AS x), b AS (SELECT x + 1 AS y FROM a) SELECT y FROM b
-- ---
WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r WHERE n < 10) SELECT sum(n) FROM r
-- ---
WITH e AS (SELECT user_id, ts FROM events) SELECT count() FROM e JOIN users AS u ON e.user_id = u.user_id
-- ---
SELECT * FROM (WITH x AS (SELECT user_id FROM orders) SELECT user_id FROM x) AS o JOIN users USING user_id
-- ---
WITH sess AS (SELECT session_id, user_id FROM sessions) SELECT count() FROM events WHERE session_id IN sess
-- ---
WITH big AS (SELECT user_id FROM orders WHERE amount > 500) SELECT count() FROM (SELECT * FROM events WHERE user_id IN (SELECT user_id FROM big))
-- ---
WITH (SELECT groupArray(user_id) FROM users WHERE plan = 'enterprise') AS vip SELECT count() FROM events WHERE has(vip, user_id)
-- ---
WITH ev AS (SELECT * FROM events) SELECT count() FROM ev UNION ALL SELECT count() FROM sessions
-- ---
WITH
    funnel AS (
        SELECT user_id,
               windowFunnel(3600)(ts, event_type = 'view', event_type = 'cart', event_type = 'purchase') AS level
        FROM events
        WHERE ts >= toDateTime('2024-03-01 00:00:00')
        GROUP BY user_id
    )
SELECT level, count() AS users FROM funnel GROUP BY level ORDER BY level
-- ---
SELECT level, count() FROM (SELECT user_id, windowFunnel(86400)(ts, event_type = 'signup', event_type = 'activate') AS level FROM events GROUP BY user_id) GROUP BY level
-- ---
SELECT sum(r[1]) AS d1, sum(r[2]) AS d7 FROM (SELECT user_id, retention(toDate(ts) = '2024-01-01', toDate(ts) = '2024-01-02', toDate(ts) = '2024-01-08') AS r FROM events GROUP BY user_id)
-- ---
SELECT user_id, sequenceMatch('(?1)(?2)')(ts, event_type = 'view', event_type = 'purchase') FROM events GROUP BY user_id
-- ---
SELECT user_id, arraySort(groupArray((ts, url))) AS path FROM pageviews GROUP BY user_id
-- ---
SELECT user_id, session_num, min(ts), max(ts)
FROM (
    SELECT user_id, ts,
           sum(is_new) OVER (PARTITION BY user_id ORDER BY ts) AS session_num
    FROM (
        SELECT user_id, ts,
               if(dateDiff('minute', lagInFrame(ts, 1, ts) OVER (PARTITION BY user_id ORDER BY ts), ts) > 30, 1, 0) AS is_new
        FROM events
    )
)
GROUP BY user_id, session_num
-- ---
SELECT user_id, groupArray(url) AS urls, arrayFilter(x -> x LIKE '/docs%', urls) AS docs FROM pageviews GROUP BY user_id
-- ---
SELECT arrayMap(x -> x * 2, [1, 2, 3]) AS doubled, arrayReduce('sum', [1, 2, 3])
-- ---
SELECT arrayMap((x, y) -> x + y, [1, 2], [3, 4])
-- ---
SELECT user_id, arrayExists(t -> t = 'beta', tags) FROM events
-- ---
SELECT arrayFold((acc, x) -> acc + x, [1, 2, 3], toUInt64(0))
-- ---
SELECT user_id, arrayJoin(tags) AS tag FROM events WHERE notEmpty(tags)
-- ---
SELECT (1, 'a') AS t, t.1, tupleElement(t, 2)
-- ---
SELECT tuple(user_id, session_id) AS k, count() FROM events GROUP BY k
-- ---
SELECT (user_id, session_id) IN (SELECT user_id, session_id FROM sessions) FROM events
-- ---
SELECT map('a', 1, 'b', 2) AS m, m['a'], mapKeys(m)
-- ---
SELECT props['utm_source'] AS source, count() FROM events GROUP BY source
-- ---
SELECT [1, 2, 3] AS a, a[1], length(a), [[1], [2, 3]], []
-- ---
SELECT CASE WHEN amount > 100 THEN 'big' WHEN amount > 10 THEN 'medium' ELSE 'small' END AS bucket, count() FROM orders GROUP BY bucket
-- ---
SELECT CASE status WHEN 'paid' THEN 1 WHEN 'refunded' THEN -1 ELSE 0 END * amount FROM orders
-- ---
SELECT CAST(amount AS Decimal(18, 2)), CAST(user_id AS String), CAST('2024-01-01' AS Date) FROM orders
-- ---
SELECT CAST(props AS Map(String, String)), CAST([1, 2] AS Array(UInt8)), CAST((1, 'x') AS Tuple(a UInt8, b String))
-- ---
SELECT amount::Float64, '42'::UInt32, user_id::String FROM orders
-- ---
SELECT '2024-01-01'::Date + INTERVAL 1 MONTH, now()::DateTime64(3)
-- ---
SELECT ts + INTERVAL 1 DAY, ts - INTERVAL '2 hours', INTERVAL 3 WEEK, toIntervalMinute(5) FROM events LIMIT 1
-- ---
SELECT count() FROM events WHERE ts BETWEEN now() - INTERVAL 1 WEEK AND now()
-- ---
SELECT dateDiff('second', started_at, ended_at) AS dur, date_trunc('month', started_at) FROM sessions
-- ---
SELECT if(plan = 'free', 0, 1), multiIf(plan = 'free', 'f', plan = 'pro', 'p', 'e'), nullIf(country, '') FROM users
-- ---
SELECT coalesce(referrer, 'direct'), ifNull(load_ms, 0), isNull(referrer), isNotNull(referrer) FROM pageviews
-- ---
SELECT user_id FROM events WHERE event_type NOT IN ('bot', 'healthcheck') AND country NOT LIKE 'X%' AND NOT (device = 'tv')
-- ---
SELECT count() FROM events WHERE user_id IN (SELECT user_id FROM users WHERE plan = 'pro')
-- ---
SELECT count() FROM events WHERE user_id NOT IN (SELECT user_id FROM users WHERE plan = 'free')
-- ---
SELECT count() FROM events WHERE user_id GLOBAL IN (SELECT user_id FROM users)
-- ---
SELECT count() FROM events WHERE user_id GLOBAL NOT IN (SELECT user_id FROM users WHERE country = 'FR')
-- ---
SELECT count() FROM events WHERE session_id IN sessions
-- ---
SELECT count() FROM orders WHERE user_id NOT IN users
-- ---
SELECT count() FROM events WHERE user_id GLOBAL IN users
-- ---
SELECT count() FROM events WHERE user_id GLOBAL NOT IN analytics.blocked_users
-- ---
SELECT count() FROM events WHERE user_id IN analytics.vip_users
-- ---
SELECT user_id IN (SELECT user_id FROM orders) AS is_buyer, count() FROM users GROUP BY is_buyer
-- ---
SELECT (SELECT count() FROM orders) AS total_orders, (SELECT count() FROM users) AS total_users
-- ---
SELECT user_id, amount / (SELECT sum(amount) FROM orders) AS share FROM orders ORDER BY share DESC LIMIT 10
-- ---
SELECT * FROM orders WHERE amount > (SELECT avg(amount) FROM orders WHERE status = 'paid')
-- ---
SELECT user_id, count() FROM events GROUP BY user_id HAVING count() > (SELECT avg(c) FROM (SELECT count() AS c FROM events GROUP BY user_id))
-- ---
SELECT * FROM products ORDER BY price * (SELECT max(qty) FROM orders) DESC LIMIT 3
-- ---
SELECT * FROM events LIMIT (SELECT 10)
-- ---
SELECT EXISTS (SELECT 1 FROM orders WHERE amount > 1000) AS has_big
-- ---
SELECT user_id FROM users AS u WHERE EXISTS (SELECT 1 FROM orders AS o WHERE o.amount > 0)
-- ---
-- daily active users, last 30 days
SELECT toDate(ts) AS d, uniqExact(user_id) AS dau -- exact count
FROM events
WHERE ts > now() - INTERVAL 30 DAY
GROUP BY d
ORDER BY d
-- ---
/* top pages */ SELECT path, count() AS views FROM pageviews /* all time */ GROUP BY path ORDER BY views DESC LIMIT 20
-- ---
SELECT /* inline */ count() /* another */ FROM /* table: */ events /* end */
-- ---
SELECT count() FROM events # hash comment is a comment in ClickHouse
-- ---
SELECT count() FROM events #! shebang-style comment
-- ---
SELECT 1 /* nested /* comment */ still comment */ FROM events
-- ---
SELECT '-- not a comment' AS s, '/* not a comment */' AS t FROM events LIMIT 1
-- ---
SELECT `user_id`, `event_type` FROM `events`
-- ---
SELECT "user_id", "event_type" FROM "events"
-- ---
SELECT count() FROM `analytics`.`events_raw`
-- ---
SELECT count() FROM "analytics"."events_raw"
-- ---
SELECT count() FROM analytics.`events_raw` AS `raw events`
-- ---
SELECT `order id` FROM `ws_main`.orders
-- ---
SELECT "select", "from" FROM "orders"
-- ---
SELECT `weird``name`, "with""quote" FROM events
-- ---
SELECT `FROM`, `SELECT` FROM `events` AS `JOIN`
-- ---
SELECT count() FROM events WHERE url = 'it''s'
-- ---
SELECT count() FROM events WHERE url = 'it\'s' OR url = 'back\\slash' OR url = 'tab\there\nnewline'
-- ---
SELECT 'unicode: \u00e9 é 日本', '\x41\x42', 'quote " inside', 'semicolon; inside'
-- ---
SELECT count() FROM events WHERE url LIKE '%\_%' ESCAPE '\\'
-- ---
SELECT $$dollar quoted 'string'$$ AS s
-- ---
SELECT count() FROM events WHERE event_type = {etype:String}
-- ---
SELECT count() FROM events WHERE ts >= {from:DateTime} AND ts < {to:DateTime}
-- ---
SELECT user_id, count() FROM events WHERE toDate(ts) = {day:Date} GROUP BY user_id ORDER BY count() DESC LIMIT {n:UInt32}
-- ---
SELECT count() FROM orders WHERE user_id IN {ids:Array(UInt64)}
-- ---
SELECT count() FROM orders WHERE amount > {min_amount:Float64} AND status = {status:Nullable(String)}
-- ---
SELECT * FROM events ORDER BY ts DESC LIMIT {limit:UInt32} OFFSET {offset:UInt32}
-- ---
WITH {threshold:UInt32} AS t SELECT user_id FROM events GROUP BY user_id HAVING count() > t
-- ---
SELECT props[{key:String}] AS v, count() FROM events GROUP BY v
-- ---
SELECT count() FROM events WHERE country IN (SELECT country FROM users WHERE plan = {plan:String})
-- ---
SELECT toStartOfInterval(ts, toIntervalMinute({step:UInt16})) AS b, count() FROM events GROUP BY b ORDER BY b
-- ---
SELECT user_id, ts, url, row_number() OVER (PARTITION BY user_id ORDER BY ts) AS step FROM pageviews
-- ---
SELECT user_id, amount, sum(amount) OVER (PARTITION BY user_id ORDER BY created_at ASC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS ltv FROM orders
-- ---
SELECT user_id, ts, leadInFrame(ts) OVER (PARTITION BY user_id ORDER BY ts ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) AS next_ts FROM events
-- ---
SELECT product_id, amount, percent_rank() OVER (ORDER BY amount) AS pr, ntile(4) OVER (ORDER BY amount) AS quartile FROM orders
-- ---
SELECT category, name, price, rank() OVER w AS r, avg(price) OVER (w) AS cat_avg FROM products WINDOW w AS (PARTITION BY category ORDER BY price DESC)
-- ---
SELECT user_id, count() OVER () AS total, count() OVER (PARTITION BY country) AS per_country FROM users
-- ---
SELECT d, v, v - lagInFrame(v) OVER (ORDER BY d) AS delta FROM (SELECT toDate(ts) AS d, count() AS v FROM events GROUP BY d)
-- ---
SELECT session_id, nth_value(path, 2) OVER (PARTITION BY session_id ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) FROM pageviews
-- ---
SELECT user_id, groupArray(event_type) OVER (PARTITION BY session_id ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM events
-- ---
SELECT w1, w2 FROM (SELECT sum(amount) OVER w1 AS w1, max(amount) OVER w2 AS w2 FROM orders WINDOW w1 AS (PARTITION BY user_id), w2 AS (w1 ORDER BY created_at))
-- ---
SELECT user_id, max(amount) AS best FROM orders GROUP BY user_id ORDER BY best DESC LIMIT 10
-- ---
SELECT category, topK(5)(name) FROM products GROUP BY category
-- ---
SELECT country, quantile(0.95)(load_ms) AS p95 FROM pageviews JOIN users USING user_id GROUP BY country ORDER BY p95 DESC
-- ---
SELECT referrer, count() AS c, c / sum(c) OVER () AS share FROM pageviews GROUP BY referrer ORDER BY c DESC LIMIT 10
-- ---
SELECT source, avg(duration), median(pages) FROM sessions GROUP BY source HAVING count() > 50
-- ---
SELECT toYYYYMM(created_at) AS month, currency, sum(amount) FROM orders GROUP BY month, currency ORDER BY month, currency
-- ---
SELECT user_id, groupUniqArray(device) AS devices FROM events GROUP BY user_id HAVING length(devices) > 1
-- ---
SELECT sumIf(amount, status = 'paid') - sumIf(amount, status = 'refunded') AS net FROM orders
-- ---
SELECT countIf(event_type = 'signup') AS signups, countIf(event_type = 'purchase') AS purchases, purchases / signups AS conv FROM events
-- ---
SELECT uniqIf(user_id, event_type = 'purchase') / uniq(user_id) FROM events WHERE ts > today() - 7
-- ---
SELECT avgState(amount) FROM orders GROUP BY user_id
-- ---
SELECT finalizeAggregation(s) FROM (SELECT uniqState(user_id) AS s FROM events)
-- ---
SELECT sumMerge(x) FROM (SELECT sumState(amount) AS x FROM orders GROUP BY user_id)
-- ---
SELECT argMax(url, ts) AS last_url, argMin(url, ts) AS first_url, user_id FROM pageviews GROUP BY user_id
-- ---
SELECT user_id, min(ts) AS first_seen, max(ts) AS last_seen, dateDiff('day', first_seen, last_seen) AS lifetime FROM events GROUP BY user_id
-- ---
SELECT histogram(10)(load_ms) FROM pageviews
-- ---
SELECT count() FROM events WHERE match(url, '^/blog/[0-9]+$') AND NOT ilike(url, '%draft%')
-- ---
SELECT extract(url, 'utm_source=([^&]+)') AS src, domain(url), path(url), cutQueryString(url) FROM pageviews LIMIT 5
-- ---
SELECT splitByChar('/', path)[2] AS section, count() FROM pageviews GROUP BY section
-- ---
SELECT lower(email), upper(country), concat(country, '-', plan), country || '/' || plan, substring(email, 1, position(email, '@') - 1) FROM users
-- ---
SELECT JSONExtractString(props['payload'], 'sku'), JSONExtractInt(props['payload'], 'qty') FROM events WHERE event_type = 'cart'
-- ---
SELECT toUnixTimestamp(ts), fromUnixTimestamp(1700000000), toTimeZone(ts, 'Europe/Paris'), formatDateTime(ts, '%Y-%m-%d') FROM events LIMIT 1
-- ---
SELECT round(avg(amount), 2), floor(amount), ceil(amount), abs(-1), intDiv(qty, 2), qty % 3, -amount FROM orders GROUP BY amount, qty
-- ---
SELECT 1 + 2 * 3 - 4 / 2, 2 > 1 AND 3 >= 3 OR NOT 0, 1 = 1, 1 != 2, 1 <> 2, 1 == 1
-- ---
SELECT amount > 10 ? 'big' : 'small' FROM orders
-- ---
SELECT number IS NULL, number IS NOT NULL, number BETWEEN 1 AND 5, number NOT BETWEEN 2 AND 3 FROM numbers(5)
-- ---
SELECT toDate('2024-01-01'), DATE '2024-01-01', TIMESTAMP '2024-01-01 00:00:00', 1e3, 0x1F, 0b101, -0.5, inf, nan, NULL, true, false
-- ---
SELECT EXTRACT(YEAR FROM ts), EXTRACT(MONTH FROM ts), date_add(DAY, 1, ts), date_sub(HOUR, 2, ts), TRIM(BOTH ' ' FROM url), POSITION('a' IN url) FROM events LIMIT 1
-- ---
SELECT SUBSTRING(url FROM 2 FOR 5), TRIM(LEADING 'x' FROM url), TRIM(TRAILING '/' FROM path) FROM pageviews
-- ---
SELECT COLUMNS('^prop') FROM events
-- ---
SELECT * EXCEPT (props, tags) FROM events
-- ---
SELECT * REPLACE (amount * 100 AS amount) FROM orders
-- ---
SELECT e.* FROM events AS e JOIN users AS u USING user_id WHERE u.plan = 'pro'
-- ---
SELECT events.*, users.plan FROM events JOIN users ON events.user_id = users.user_id
-- ---
SELECT * APPLY (toString) FROM (SELECT 1 AS a, 2 AS b)
-- ---
SELECT count(*), count(DISTINCT user_id), COUNT(1) FROM events
-- ---
SELECT user_id FROM events WHERE (event_type, country) IN (('click', 'FR'), ('view', 'DE'))
-- ---
SELECT user_id FROM events WHERE event_type IN ['click', 'view']
-- ---
SELECT user_id FROM events WHERE user_id IN (SELECT user_id FROM orders UNION ALL SELECT user_id FROM sessions)
-- ---
SELECT user_id FROM events WHERE user_id IN (WITH p AS (SELECT user_id FROM orders) SELECT user_id FROM p)
-- ---
SELECT count() FROM (SELECT user_id FROM events INTERSECT SELECT user_id FROM orders)
-- ---
SELECT user_id FROM events WHERE session_id IN (SELECT session_id FROM sessions WHERE user_id IN (SELECT user_id FROM users WHERE plan IN (SELECT plan FROM analytics.plans)))
-- ---
SELECT (SELECT max(amount) FROM orders WHERE user_id = 1), (SELECT (SELECT 1))
-- ---
SELECT user_id, (SELECT count() FROM products) AS catalog_size FROM users LIMIT 10
-- ---
SELECT * FROM products WHERE price IN (SELECT max(price) FROM products GROUP BY category)
-- ---
SELECT if(user_id IN (SELECT user_id FROM orders), 'buyer', 'browser') AS segment, count() FROM users GROUP BY segment
-- ---
SELECT multiIf(amount > (SELECT quantile(0.9)(amount) FROM orders), 'top', 'rest') FROM orders
-- ---
SELECT arrayMap(x -> x * (SELECT max(qty) FROM orders), [1, 2, 3])
-- ---
SELECT user_id FROM users WHERE signup_at > (SELECT min(created_at) FROM orders) ORDER BY signup_at LIMIT (SELECT 5)
-- ---
SELECT user_id, count() FROM events GROUP BY user_id HAVING count() > (SELECT 10) ORDER BY count() DESC
-- ---
WITH (SELECT max(created_at) FROM orders) AS last_order, (SELECT count() FROM orders WHERE created_at = last_order) AS n SELECT last_order, n
-- ---
WITH (SELECT groupArray(product_id) FROM (SELECT product_id FROM orders GROUP BY product_id ORDER BY sum(amount) DESC LIMIT 3)) AS top3 SELECT name FROM products WHERE has(top3, product_id)
-- ---
WITH toDate((SELECT max(ts) FROM events)) AS last_day SELECT count() FROM events WHERE toDate(ts) = last_day
-- ---
WITH arrayMap(x -> x + (SELECT 1), [1, 2]) AS arr SELECT arr
-- ---
WITH (SELECT 1) AS one, one + 1 AS two SELECT one, two
-- ---
WITH (SELECT user_id FROM users LIMIT 1) AS u SELECT count() FROM events WHERE user_id = u
-- ---
WITH (SELECT groupArray(user_id) FROM users) AS s SELECT count() FROM events WHERE user_id IN s
-- ---
WITH cohorts AS (SELECT user_id, toStartOfMonth(signup_at) AS cohort FROM users), (SELECT max(cohort) FROM cohorts) AS latest SELECT count() FROM cohorts WHERE cohort = latest
-- ---
WITH paid AS (SELECT user_id, amount FROM orders WHERE status = 'paid') SELECT 'paid' AS k, sum(amount) FROM paid UNION ALL SELECT 'all', sum(amount) FROM orders UNION ALL SELECT 'n', count() FROM paid
-- ---
WITH v AS (SELECT user_id FROM events WHERE event_type = 'view') SELECT user_id FROM v EXCEPT SELECT user_id FROM orders
-- ---
WITH b AS (SELECT user_id FROM orders) SELECT user_id FROM users WHERE user_id IN b INTERSECT SELECT user_id FROM b
-- ---
SELECT x FROM (WITH w AS (SELECT 1 AS x) SELECT x FROM w UNION ALL SELECT x FROM w)
-- ---
SELECT user_id FROM events UNION ALL WITH s AS (SELECT user_id FROM sessions) SELECT user_id FROM s
-- ---
WITH a AS (SELECT user_id FROM events) SELECT user_id FROM a UNION ALL WITH b AS (SELECT user_id FROM orders) SELECT user_id FROM b
-- ---
SELECT user_id FROM (SELECT user_id FROM events UNION ALL SELECT user_id FROM pageviews) GROUP BY user_id HAVING count() > 1
-- ---
SELECT * FROM (SELECT 1 AS a UNION ALL SELECT 2) AS t1 JOIN (SELECT 1 AS a UNION DISTINCT SELECT 3) AS t2 USING a
-- ---
SELECT user_id FROM ((SELECT user_id FROM orders ORDER BY amount DESC LIMIT 3) UNION ALL (SELECT user_id FROM orders ORDER BY amount ASC LIMIT 3)) ORDER BY user_id
-- ---
SELECT user_id FROM events INTERSECT SELECT user_id FROM orders EXCEPT SELECT user_id FROM analytics.blocked_users
-- ---
SELECT e.user_id, s.source FROM events AS e JOIN (SELECT session_id, source FROM sessions WHERE source != '') AS s USING session_id
-- ---
SELECT u.country, d.n FROM users AS u JOIN (SELECT user_id, count() AS n FROM orders GROUP BY user_id) AS d ON u.user_id = d.user_id WHERE d.n > 3
-- ---
SELECT a.user_id FROM events AS a JOIN events AS b ON a.user_id = b.user_id AND a.ts < b.ts WHERE a.event_type = 'signup' AND b.event_type = 'purchase'
-- ---
SELECT o.order_id, p.name, c.rate FROM orders AS o JOIN products AS p USING product_id LEFT JOIN shared.currencies AS c ON o.currency = c.code
-- ---
SELECT e.country, g.region FROM events AS e LEFT JOIN shared.geo_countries AS g ON e.country = g.iso2
-- ---
SELECT count() FROM events AS e JOIN sessions AS s ON e.session_id = s.session_id AND e.user_id = s.user_id JOIN users USING user_id
-- ---
SELECT * FROM events AS e JOIN sessions AS s ON e.session_id = s.session_id OR e.user_id = s.user_id
-- ---
SELECT * FROM events AS e LEFT JOIN sessions AS s ON (e.session_id = s.session_id) AND (s.pages > 1)
-- ---
SELECT e.user_id, n.number FROM events AS e CROSS JOIN numbers(3) AS n LIMIT 10
-- ---
SELECT * FROM numbers(5) AS a JOIN numbers(5) AS b ON a.number = b.number
-- ---
SELECT * FROM events JOIN (SELECT * FROM values('code String, label String', ('click', 'Click'), ('view', 'View'))) AS labels ON events.event_type = labels.code
-- ---
SELECT * FROM events AS e PASTE JOIN (SELECT number FROM numbers(10)) AS n
-- ---
SELECT t.number, e.c FROM generate_series(0, 23) AS t LEFT JOIN (SELECT toHour(ts) AS h, count() AS c FROM events GROUP BY h) AS e ON t.generate_series = e.h
-- ---
SELECT arrayJoin(range(10)) AS i, i * i
-- ---
SELECT user_id, arrayJoin(arrayZip(tags, arrayEnumerate(tags))) AS p FROM events
-- ---
SELECT s.session_id, step FROM (SELECT session_id, groupArray(path) AS steps FROM pageviews GROUP BY session_id) AS s ARRAY JOIN steps AS step
-- ---
SELECT session_id, path, num FROM (SELECT session_id, groupArray(path) AS paths FROM pageviews GROUP BY session_id) ARRAY JOIN paths AS path, arrayEnumerate(paths) AS num
-- ---
SELECT user_id, t FROM events ARRAY JOIN tags AS t JOIN users USING user_id WHERE t != ''
-- ---
SELECT user_id FROM events ARRAY JOIN tags WHERE tags = 'beta'
-- ---
SELECT toStartOfDay(ts) AS day, event_type, count() AS c FROM events WHERE ts >= toStartOfDay(now()) - INTERVAL 14 DAY GROUP BY day, event_type ORDER BY day ASC, c DESC
-- ---
SELECT toStartOfWeek(ts, 1) AS week, uniq(user_id) AS wau FROM events GROUP BY week ORDER BY week DESC LIMIT 12
-- ---
SELECT toStartOfMonth(created_at) AS m, sum(amount) AS gmv, uniqExact(user_id) AS buyers, gmv / buyers AS arpu FROM orders GROUP BY m ORDER BY m
-- ---
SELECT toHour(ts) AS h, toDayOfWeek(ts) AS dow, count() FROM events GROUP BY h, dow ORDER BY dow, h
-- ---
SELECT cohort_week, week_n, uniq(user_id) AS retained
FROM (
  SELECT e.user_id, toStartOfWeek(u.signup_at) AS cohort_week, intDiv(dateDiff('day', u.signup_at, e.ts), 7) AS week_n
  FROM events AS e INNER JOIN users AS u ON e.user_id = u.user_id
  WHERE e.ts >= u.signup_at
)
GROUP BY cohort_week, week_n
ORDER BY cohort_week, week_n
-- ---
SELECT step, uniq(user_id) AS users
FROM (
  SELECT user_id, 1 AS step FROM events WHERE event_type = 'view'
  UNION ALL SELECT user_id, 2 FROM events WHERE event_type = 'cart'
  UNION ALL SELECT user_id, 3 FROM events WHERE event_type = 'purchase'
)
GROUP BY step ORDER BY step
-- ---
SELECT path, count() AS entries FROM (SELECT session_id, argMin(path, ts) AS path FROM pageviews GROUP BY session_id) GROUP BY path ORDER BY entries DESC LIMIT 10
-- ---
SELECT path, countIf(is_exit) / count() AS exit_rate FROM (SELECT path, ts = max(ts) OVER (PARTITION BY session_id) AS is_exit FROM pageviews) GROUP BY path
-- ---
SELECT session_id, count() AS pages, dateDiff('second', min(ts), max(ts)) AS secs FROM pageviews GROUP BY session_id HAVING pages = 1
-- ---
SELECT user_id, count() AS sessions_n, avg(duration) AS avg_dur FROM sessions WHERE started_at > now() - INTERVAL 90 DAY GROUP BY user_id ORDER BY sessions_n DESC LIMIT 100 SETTINGS max_threads = 4
-- ---
SELECT p.category, sum(o.amount) AS rev, rev / sum(rev) OVER () AS share FROM orders AS o JOIN products AS p USING product_id GROUP BY p.category ORDER BY rev DESC
-- ---
SELECT user_id, sum(amount) AS total, rank() OVER (ORDER BY total DESC) AS r FROM orders GROUP BY user_id QUALIFY r <= 10 ORDER BY r
-- ---
SELECT * FROM (SELECT user_id, created_at, amount, row_number() OVER (PARTITION BY user_id ORDER BY created_at) AS n FROM orders) WHERE n = 1
-- ---
SELECT user_id, sum(amount) FROM orders WHERE created_at >= {since:Date} GROUP BY user_id ORDER BY 2 DESC LIMIT 10 FORMAT JSONCompact
-- ---
SELECT count() FROM events WHERE ts > now() - INTERVAL 1 HOUR SETTINGS max_execution_time = 5, max_result_rows = 1000, result_overflow_mode = 'throw'
-- ---
SELECT count() FROM (SELECT user_id FROM events SETTINGS max_threads = 1)
-- ---
SELECT user_id FROM events LIMIT 10 SETTINGS max_block_size = 1024 FORMAT Pretty
-- ---
SELECT 1 FORMAT Null
-- ---
SELECT user_id, ts FROM events ORDER BY ts DESC LIMIT 5 FORMAT CSV
-- ---
SELECT country, count() FROM users GROUP BY country WITH TOTALS FORMAT JSON
-- ---
SELECT count() FROM events WHERE user_id GLOBAL IN (SELECT user_id FROM analytics.vip_users) AND session_id NOT IN (SELECT session_id FROM sessions WHERE pages = 0)
-- ---
SELECT count() FROM events WHERE user_id NOT IN archive.churned_users
-- ---
SELECT count() FROM events WHERE session_id IN `sessions`
-- ---
SELECT count() FROM events WHERE in(user_id, users)
-- ---
SELECT count() FROM events WHERE notIn(user_id, (SELECT user_id FROM orders))
-- ---
SELECT count() FROM events WHERE (user_id IN users) = 0
-- ---
SELECT dictGet('shared.geo_dict', 'region', country) AS region, count() FROM events GROUP BY region
-- ---
SELECT dictGetOrDefault('shared.plan_dict', 'label', toUInt64(user_id), 'none') FROM users LIMIT 5
-- ---
SELECT toTypeName(amount), hex(user_id), cityHash64(email), sipHash64(user_id), generateUUIDv4(), rand() % 100 FROM orders JOIN users USING user_id LIMIT 1
-- ---
SELECT bar(c, 0, 1000, 40), formatReadableSize(bytes), formatReadableQuantity(c) FROM (SELECT count() AS c, sum(load_ms) AS bytes FROM pageviews)
-- ---
SELECT user_id, groupBitmap(toUInt64(session_id)) FROM events GROUP BY user_id
-- ---
SELECT tumbleStart(ts, toIntervalMinute(5)) AS w, count() FROM events GROUP BY w
-- ---
SELECT user_id, sequenceCount('(?1).*(?2)')(ts, event_type = 'view', event_type = 'cart') AS n FROM events GROUP BY user_id HAVING n > 0
-- ---
SELECT uniqCombined(user_id), uniqHLL12(session_id), approx_top_k(3)(url) FROM events
-- ---
SELECT anyLast(url), any(device), min(ts), max(ts) FROM events GROUP BY session_id LIMIT 5
-- ---
SELECT user_id, groupArraySorted(5)(amount) FROM orders GROUP BY user_id
-- ---
SELECT corr(amount, qty), stddevPop(amount), varSamp(amount), covarPop(amount, qty) FROM orders
-- ---
SELECT * FROM events WHERE ts > now() - INTERVAL 10 MINUTE ORDER BY ts DESC LIMIT 1 BY session_id LIMIT 20
-- ---
SELECT user_id, count() c FROM events GROUP BY user_id ORDER BY c DESC NULLS LAST, user_id ASC NULLS FIRST LIMIT 10
-- ---
SELECT name FROM products ORDER BY name COLLATE 'en' LIMIT 10
-- ---
select lower_case_keywords, count() from events where 1 = 1 group by lower_case_keywords order by 2 desc limit 3
-- ---
SeLeCt Count() FrOm EvEnTs WhErE Ts > NoW() - InTeRvAl 1 DaY
-- ---
SELECT
    user_id,
    -- per-user stats
    count() AS n,            -- events
    uniq(session_id) AS s    /* sessions */
FROM events
/* only this month */
WHERE toStartOfMonth(ts) = toStartOfMonth(now())
GROUP BY user_id
-- ---
SELECT count() FROM events WHERE event_type = 'a;b' AND url != '--x' AND props['k'] = '/*'
-- ---
SELECT 1 AS `1`, 2 AS "two", 'x' AS `weird alias`
-- ---
SELECT count() FROM events AS `e` WHERE `e`.`user_id` > 0
-- ---
WITH `my cte` AS (SELECT user_id FROM events) SELECT count() FROM `my cte`
-- ---
WITH "Quoted" AS (SELECT 1 AS x) SELECT x FROM "Quoted"
-- ---
SELECT user_id FROM users WHERE email ILIKE '%@example.com' AND country IN ('FR', 'DE', 'IT') ORDER BY signup_at DESC LIMIT 50
-- ---
SELECT count() FROM orders WHERE created_at >= toDateTime({start:String}) AND user_id = {uid:UInt64} AND product_id IN (SELECT product_id FROM products WHERE category = {cat:String})
-- ---
SELECT session_id, step FROM (SELECT session_id, groupArray(path) AS paths FROM pageviews GROUP BY session_id) LEFT ARRAY JOIN paths AS step
-- ---
SELECT o.order_id, p.category FROM orders AS o ALL LEFT JOIN products AS p ON o.product_id = p.product_id
-- ---
SELECT s.session_id, count() FROM sessions AS s ALL INNER JOIN pageviews AS pv USING session_id GROUP BY s.session_id
-- ---
SELECT toDate(created_at), currency, status, sum(amount) FROM orders GROUP BY ALL ORDER BY ALL
-- ---
SELECT path, count() FROM pageviews PREWHERE load_ms > 1000 WHERE path != '/' GROUP BY path
-- ---
SELECT user_id, tag, n FROM events LEFT ARRAY JOIN tags AS tag, arrayEnumerate(tags) AS n PREWHERE event_type = 'tag'
-- ---
WITH lagged AS (SELECT user_id, ts, lagInFrame(ts) OVER (PARTITION BY user_id ORDER BY ts) AS prev FROM events)
SELECT user_id, countIf(dateDiff('minute', prev, ts) > 30) + 1 AS sessions FROM lagged GROUP BY user_id
-- ---
SELECT u.plan, count() FROM users AS u GLOBAL ALL LEFT JOIN (SELECT DISTINCT user_id FROM orders) AS o USING user_id GROUP BY u.plan
-- ---
SELECT count() FROM events WHERE session_id IN (sessions) AND user_id NOT IN (analytics.blocked_users)
-- ---
SELECT countIf(globalNotIn(user_id, users)) FROM orders
