"""`lockgate run` of a 20-notebook SQL pipeline over 100k-row inputs, versus the same SQL run by DuckDB directly.

Every side runs as a fresh process, as a user would start it, and persists its results: lockgate commits every
table as a Delta Lake version (Parquet files + log) and records the run in its state store. Two baselines run
the same SQL in DuckDB: one keeps the tables in a DuckDB database file, one writes each table as a Parquet file
(the closest thing to lockgate's output that other engines can read). A last line times `python -c "import
lockgate.services.runner, lockgate.engine.duckdb"` to show how much of lockgate's time is fixed start-up.
Each side runs REPEATS times; the script prints medians and ratios measured in this one run.

    python bench/run_vs_duckdb.py [--rows 100000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LOCKGATE = [sys.executable, "-m", "lockgate"]

# Each notebook: (name, Spark SQL body). `{t}` is replaced by the target table.
NOTEBOOKS: list[tuple[str, str]] = [
    ("bronze_orders", "SELECT * FROM read_parquet('data/orders.parquet')"),
    ("bronze_customers", "SELECT * FROM read_parquet('data/customers.parquet')"),
    (
        "clean_orders",
        "SELECT order_id, customer_id, CAST(order_ts AS DATE) AS order_date, amount, status "
        "FROM bench.bronze_orders WHERE amount > 0",
    ),
    (
        "clean_customers",
        "SELECT customer_id, upper(trim(name)) AS name, region, signup_date FROM bench.bronze_customers",
    ),
    (
        "orders_enriched",
        "SELECT o.*, c.name, c.region FROM bench.clean_orders o JOIN bench.clean_customers c USING (customer_id)",
    ),
    (
        "daily_revenue",
        "SELECT order_date, sum(amount) AS revenue, count(*) AS orders FROM bench.orders_enriched GROUP BY order_date",
    ),
    ("region_revenue", "SELECT region, sum(amount) AS revenue FROM bench.orders_enriched GROUP BY region"),
    ("status_counts", "SELECT status, count(*) AS n FROM bench.orders_enriched GROUP BY status"),
    (
        "customer_totals",
        "SELECT customer_id, name, region, sum(amount) AS total, count(*) AS orders "
        "FROM bench.orders_enriched GROUP BY customer_id, name, region",
    ),
    (
        "customer_rank",
        "SELECT *, row_number() OVER (PARTITION BY region ORDER BY total DESC) AS rank_in_region "
        "FROM bench.customer_totals",
    ),
    ("top_customers", "SELECT * FROM bench.customer_rank WHERE rank_in_region <= 10"),
    (
        "monthly_revenue",
        "SELECT year(order_date) AS y, month(order_date) AS m, sum(amount) AS revenue "
        "FROM bench.orders_enriched GROUP BY year(order_date), month(order_date)",
    ),
    (
        "rolling_revenue",
        "SELECT order_date, revenue, avg(revenue) OVER (ORDER BY order_date ROWS BETWEEN 6 "
        "PRECEDING AND CURRENT ROW) AS revenue_7d FROM bench.daily_revenue",
    ),
    ("first_orders", "SELECT customer_id, min(order_date) AS first_order FROM bench.clean_orders GROUP BY customer_id"),
    (
        "cohorts",
        "SELECT date_trunc('month', first_order) AS cohort, count(*) AS customers "
        "FROM bench.first_orders GROUP BY date_trunc('month', first_order)",
    ),
    ("large_orders", "SELECT * FROM bench.orders_enriched WHERE amount > 900"),
    (
        "refunds",
        "SELECT customer_id, count(*) AS refunds FROM bench.clean_orders WHERE status = 'refunded' "
        "GROUP BY customer_id",
    ),
    (
        "customer_health",
        "SELECT t.customer_id, t.total, coalesce(r.refunds, 0) AS refunds, "
        "CASE WHEN coalesce(r.refunds, 0) > 2 THEN 'risk' ELSE 'ok' END AS health "
        "FROM bench.customer_totals t LEFT JOIN bench.refunds r USING (customer_id)",
    ),
    (
        "region_health",
        "SELECT c.region, h.health, count(*) AS customers FROM bench.customer_health h "
        "JOIN bench.clean_customers c USING (customer_id) GROUP BY c.region, h.health",
    ),
    (
        "summary",
        "SELECT (SELECT sum(revenue) FROM bench.daily_revenue) AS revenue, "
        "(SELECT count(*) FROM bench.customer_health WHERE health = 'risk') AS risky_customers",
    ),
]


def write_inputs(root: Path, rows: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(11)
    customers = max(rows // 10, 10)
    regions = ["north", "south", "east", "west", "central"]
    pq.write_table(
        pa.table(
            {
                "customer_id": list(range(customers)),
                "name": [f" customer {i} " for i in range(customers)],
                "region": [rng.choice(regions) for _ in range(customers)],
                "signup_date": [f"2023-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}" for _ in range(customers)],
            }
        ),
        root / "data/customers.parquet",
    )
    pq.write_table(
        pa.table(
            {
                "order_id": list(range(rows)),
                "customer_id": [rng.randrange(customers) for _ in range(rows)],
                "order_ts": [f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} 10:00:00" for _ in range(rows)],
                "amount": [round(rng.uniform(-5, 1000), 2) for _ in range(rows)],
                "status": [rng.choice(["paid", "paid", "paid", "refunded", "pending"]) for _ in range(rows)],
            }
        ),
        root / "data/orders.parquet",
    )


def write_project(root: Path, rows: int) -> None:
    (root / "data").mkdir(parents=True)
    (root / "notebooks").mkdir()
    (root / "pipelines").mkdir()
    write_inputs(root, rows)
    (root / "lockgate.yaml").write_text("name: bench\nenvironments:\n  dev: {lake: .lockgate/lake/dev}\n")
    activities = []
    previous: list[str] = []
    for name, body in NOTEBOOKS:
        (root / "notebooks" / f"{name}.sql").write_text(f"CREATE OR REPLACE TABLE bench.{name} AS\n{body};\n")
        depends = sorted({dep for dep in previous if f"bench.{dep} " in body + " " or f"bench.{dep}\n" in body})
        activities.append(
            f"  - name: {name}\n    type: notebook\n    notebook: notebooks/{name}.sql\n"
            + (f"    depends_on: [{', '.join(depends)}]\n" if depends else "")
        )
        previous.append(name)
    (root / "pipelines/bench.yaml").write_text("activities:\n" + "".join(activities))
    baseline = "\n".join(f"CREATE OR REPLACE TABLE bench.{name} AS {body};" for name, body in NOTEBOOKS)
    (root / "baseline.sql").write_text("CREATE SCHEMA IF NOT EXISTS bench;\n" + baseline + "\n")
    (root / "parquet").mkdir()
    views = "\n".join(
        f"COPY ({body.replace('bench.', 'pq_')}) TO 'parquet/{name}.parquet' (FORMAT parquet);\n"
        f"CREATE OR REPLACE VIEW pq_{name} AS SELECT * FROM 'parquet/{name}.parquet';"
        for name, body in NOTEBOOKS
    )
    (root / "baseline_parquet.sql").write_text(views + "\n")


BASELINE = """
import duckdb, pathlib, sys
root = pathlib.Path(sys.argv[1])
con = duckdb.connect(str(root / sys.argv[3]) if sys.argv[3] != ":memory:" else ":memory:")
con.execute(f"SET file_search_path = '{root}'")
con.execute((root / sys.argv[2]).read_text())
con.close()
"""
IMPORTS = "import lockgate.services.runner, lockgate.engine.duckdb, lockgate.cli"


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{completed.stdout}\n{completed.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "bench"
        write_project(root, args.rows)
        times: dict[str, list[float]] = {"duckdb_file": [], "duckdb_parquet": [], "lockgate": [], "imports": []}
        for _ in range(args.repeats):
            times["duckdb_file"].append(
                timed([sys.executable, "-c", BASELINE, str(root), "baseline.sql", "baseline.duckdb"], root)
            )
            times["duckdb_parquet"].append(
                timed([sys.executable, "-c", BASELINE, str(root), "baseline_parquet.sql", ":memory:"], root)
            )
            times["lockgate"].append(timed([*LOCKGATE, "run", "bench"], root))
            times["imports"].append(timed([sys.executable, "-c", IMPORTS], root))
        shutil.rmtree(root / ".lockgate", ignore_errors=True)
    median = {side: statistics.median(values) for side, values in times.items()}
    lg = median["lockgate"]
    print(f"20-notebook SQL pipeline, {args.rows:,}-row input, median of {args.repeats} (process start included)")
    print(f"  duckdb, tables in a database file : {median['duckdb_file']:6.2f} s")
    print(f"  duckdb, tables as Parquet files   : {median['duckdb_parquet']:6.2f} s")
    print(f"  lockgate run (Delta tables)       : {lg:6.2f} s")
    print(f"    of which lockgate's imports     : {median['imports']:6.2f} s")
    print(f"  ratio lockgate / duckdb file     : {lg / median['duckdb_file']:.2f}x")
    print(f"  ratio lockgate / duckdb parquet  : {lg / median['duckdb_parquet']:.2f}x")


if __name__ == "__main__":
    main()
