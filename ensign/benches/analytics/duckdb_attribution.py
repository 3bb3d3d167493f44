"""The baseline a user would pick instead of Ensign's analysis: DuckDB
running the same attribution as one SQL query over the same CSV files,
with as many threads as the machine has cores.

    python3 duckdb_attribution.py EXPOSURES.csv EVENTS.csv FLAG WINDOW_SECONDS

Prints, per variant (control, treatment), the users, the purchasers, and
the revenue's sum and sample variance as JSON, for the bench to compare
with Ensign's report. Needs `pip install duckdb`.
"""

import json
import os
import sys

import duckdb

QUERY = """
WITH exposures AS (
    SELECT variant, targeting_key, "timestamp" AS ts
    FROM read_csv(?, header = true, columns = {
        'flag_key': 'VARCHAR', 'variant': 'VARCHAR',
        'targeting_key': 'VARCHAR', 'timestamp': 'TIMESTAMPTZ'})
    WHERE flag_key = ?
),
firsts AS (
    -- First exposure wins; ties on time go to the smaller variant name.
    SELECT targeting_key, min(ts) AS t0, arg_min(variant, (ts, variant)) AS variant
    FROM exposures
    GROUP BY targeting_key
),
users AS (
    SELECT * FROM firsts WHERE variant IN ('control', 'treatment')
),
purchases AS (
    SELECT targeting_key, "timestamp" AS ts, value
    FROM read_csv(?, header = true, columns = {
        'event_name': 'VARCHAR', 'targeting_key': 'VARCHAR',
        'timestamp': 'TIMESTAMPTZ', 'value': 'DOUBLE'})
    WHERE event_name = 'purchase'
),
attributed AS (
    SELECT u.targeting_key, count(*) AS n, sum(coalesce(p.value, 0)) AS revenue
    FROM purchases p JOIN users u USING (targeting_key)
    WHERE p.ts >= u.t0 AND p.ts < u.t0 + to_seconds(?)
    GROUP BY u.targeting_key
)
SELECT u.variant,
       count(*) AS users,
       count(a.n) AS purchasers,
       sum(coalesce(a.revenue, 0)) AS revenue,
       var_samp(coalesce(a.revenue, 0)) AS revenue_variance
FROM users u LEFT JOIN attributed a USING (targeting_key)
GROUP BY u.variant
ORDER BY u.variant
"""


def main():
    exposures, events, flag, window = sys.argv[1:5]
    connection = duckdb.connect()
    connection.execute(f"SET threads = {os.cpu_count()}")
    connection.execute("SET TimeZone = 'UTC'")
    rows = connection.execute(QUERY, [exposures, flag, events, int(window)]).fetchall()
    print(json.dumps([
        {"variant": v, "users": u, "purchasers": p, "revenue": r, "revenue_variance": var}
        for v, u, p, r, var in rows
    ]))


if __name__ == "__main__":
    main()
