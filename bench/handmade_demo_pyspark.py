"""The `lockgate init` demo pipeline (`pipelines/daily.yaml`, environment dev) written by hand as one PySpark script.

The baseline of `bench/spark_vs_pyspark.py`. It does what the demo's notebooks do, in the pipeline's order, with
the values the pipeline passes them (`source_path` under `data/landing`, `min_admit_year` 2022, `run_date`
2024-12-31): the same reads, transformations and writes, each table written as Parquet to OUT/<schema>/<table>
(plain Spark has no Delta jar here) and read back from there where a notebook reads a table back, plus the
`dbutils.notebook.exit(... .count())` counts. With `--show` it also runs the notebooks' `display(...)` calls and
`%sql` SELECT cells as `.show()` (a fetch of 21 rows, as lockgate's display does); the benchmark passes it only
when lockgate's own run printed rows for them, so both sides run the same Spark jobs. The session gets the
settings lockgate gives a `local[*]` driver (`_classic_defaults` in `lockgate.engine.spark_session`).

Run it in the project folder (the landing paths are relative, as in the pipeline):

    python bench/handmade_demo_pyspark.py OUT [--show] [--log4j FILE]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

LANDING_PATH = "data/landing"
MIN_ADMIT_YEAR = 2022
RUN_DATE = "2024-12-31"

GOLD_SQL = {
    "encounters_by_month": """
        SELECT year(admit_date) AS year, month(admit_date) AS month, encounter_type, count(*) AS encounters,
               round(sum(total_charge), 2) AS total_charges
        FROM silver_encounters
        GROUP BY year(admit_date), month(admit_date), encounter_type""",
    "encounter_type_stats": """
        SELECT encounter_type, count(*) AS encounters, round(avg(length_of_stay_days), 2) AS avg_length_of_stay_days,
               round(avg(total_charge), 2) AS avg_charge
        FROM silver_encounters
        GROUP BY encounter_type""",
    "top_diagnoses": """
        SELECT diagnosis_code, count(*) AS encounters, count(DISTINCT patient_id) AS patients,
               round(sum(total_charge), 2) AS total_charges
        FROM silver_encounters
        GROUP BY diagnosis_code
        ORDER BY encounters DESC, diagnosis_code
        LIMIT 10""",
}


class Demo:
    """The demo's tables as Parquet folders under ``out``."""

    def __init__(self, spark: SparkSession, out: Path, *, show: bool):
        self.spark = spark
        self.out = out
        self.show = show

    def write(self, df: DataFrame, table: str) -> None:
        df.write.mode("overwrite").parquet(str(self.out / table.replace(".", "/")))

    def read(self, table: str) -> DataFrame:
        return self.spark.read.parquet(str(self.out / table.replace(".", "/")))

    def view(self, table: str) -> None:
        """Make ``table`` readable from SQL as ``schema_table``."""
        self.read(table).createOrReplaceTempView(table.replace(".", "_"))

    def display(self, df: DataFrame) -> None:
        if self.show:
            df.show()

    def sql_cell(self, query: str, *tables: str) -> None:
        """A notebook's `%sql` SELECT cell: lockgate runs the query and displays it."""
        if self.show:
            for table in tables:
                self.view(table)
            self.spark.sql(query).show()


def bronze_patients(demo: Demo) -> None:
    source_path = f"{LANDING_PATH}/patients.csv"
    raw = demo.spark.read.csv(source_path, header=True, inferSchema=True)
    patients = raw.withColumn("_source_file", F.lit(source_path))
    demo.write(patients, "bronze.patients")
    demo.sql_cell(
        "SELECT state, COUNT(*) AS patients, COUNT(city) AS with_city FROM bronze_patients "
        "GROUP BY state ORDER BY patients DESC",
        "bronze.patients",
    )
    print(json.dumps({"table": "bronze.patients", "rows": patients.count()}))  # dbutils.notebook.exit


def bronze_encounters(demo: Demo) -> None:
    source_path = f"{LANDING_PATH}/encounters.parquet"
    encounters = demo.spark.read.parquet(source_path).withColumn("_source_file", F.lit(source_path))
    demo.write(encounters, "bronze.encounters")
    demo.sql_cell(
        "SELECT encounter_type, COUNT(*) AS encounters, MIN(admit_date) AS first_admit, MAX(admit_date) AS last_admit "
        "FROM bronze_encounters GROUP BY encounter_type ORDER BY encounter_type",
        "bronze.encounters",
    )


def bronze_providers(demo: Demo) -> None:
    source_path = f"{LANDING_PATH}/providers.json"
    providers = demo.spark.read.json(source_path).withColumn("_source_file", F.lit(source_path))
    demo.write(providers, "bronze.providers")
    demo.display(providers)


def silver_patients(demo: Demo) -> None:
    patients = (
        demo.read("bronze.patients")
        .drop("_source_file")
        .dropDuplicates(["patient_id"])
        .withColumn("first_name", F.trim(F.col("first_name")))
        .withColumn("last_name", F.trim(F.col("last_name")))
        .withColumn("city", F.coalesce(F.col("city"), F.lit("Unknown")))
        .withColumn("ssn_hash", F.sha2(F.col("ssn"), 256))
        .drop("ssn")
        .withColumn("date_of_birth", F.to_date(F.col("date_of_birth")))
        .withColumn("age_years", F.floor(F.datediff(F.current_date(), F.col("date_of_birth")) / 365.25).cast("int"))
    )
    demo.write(patients, "silver.patients")
    demo.sql_cell(
        "SELECT state, COUNT(*) AS patients, ROUND(AVG(age_years), 1) AS avg_age FROM silver_patients "
        "GROUP BY state ORDER BY patients DESC",
        "silver.patients",
    )


def silver_encounters(demo: Demo) -> None:
    patients = demo.read("silver.patients").select("patient_id", "sex", "age_years", "state")
    providers = demo.read("bronze.providers").select("provider_id", F.col("specialty").alias("provider_specialty"))
    encounters = (
        demo.read("bronze.encounters")
        .drop("_source_file")
        .filter(F.year("admit_date") >= MIN_ADMIT_YEAR)
        .join(patients, on="patient_id", how="inner")
        .join(providers, on="provider_id", how="left")
        .withColumn("length_of_stay_days", F.datediff(F.col("discharge_date"), F.col("admit_date")))
        .select(
            "encounter_id",
            "patient_id",
            "provider_id",
            "provider_specialty",
            "admit_date",
            "discharge_date",
            "length_of_stay_days",
            "encounter_type",
            "diagnosis_code",
            "total_charge",
            "sex",
            "age_years",
            "state",
        )
    )
    demo.write(encounters, "silver.encounters")
    demo.display(encounters.groupBy("encounter_type").agg(F.avg("length_of_stay_days").alias("avg_stay_days")))


def gold_encounters_by_month(demo: Demo) -> None:
    """The `sql` activity: three CREATE OR REPLACE TABLE ... AS SELECT over silver.encounters."""
    demo.view("silver.encounters")
    for table, query in GOLD_SQL.items():
        demo.write(demo.spark.sql(query), f"gold.{table}")


def gold_patient_summary(demo: Demo) -> None:
    summary = (
        demo.read("silver.encounters")
        .filter(F.col("admit_date") <= F.to_date(F.lit(RUN_DATE)))
        .groupBy("patient_id")
        .agg(
            F.count("encounter_id").alias("encounters"),
            F.round(F.sum("total_charge"), 2).alias("total_charge"),
            F.max("admit_date").alias("last_admit_date"),
        )
        .withColumn("days_since_last_admit", F.datediff(F.to_date(F.lit(RUN_DATE)), F.col("last_admit_date")))
    )
    demo.write(summary, "gold.patient_summary")
    demo.sql_cell(
        "SELECT patient_id, encounters, total_charge, last_admit_date FROM gold_patient_summary "
        "ORDER BY total_charge DESC LIMIT 10",
        "gold.patient_summary",
    )
    print(json.dumps({"patients": summary.count(), "run_date": RUN_DATE}))  # dbutils.notebook.exit


def start_spark(out: Path, log4j: str | None) -> SparkSession:
    """A `local[*]` session with the settings lockgate's Spark engine uses for one."""
    conf = {
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.warehouse.dir": str(out / "_warehouse"),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": str(max(2, 2 * (os.cpu_count() or 2))),
    }
    if log4j:
        conf["spark.driver.extraJavaOptions"] = f"-Dlog4j2.configurationFile={Path(log4j).as_uri()}"
    builder = SparkSession.builder.master("local[*]").appName("handmade")
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="Folder to write the tables to, as OUT/<schema>/<table>.")
    parser.add_argument("--show", action="store_true", help="Run the notebooks' displays and %%sql SELECT cells.")
    parser.add_argument("--log4j", help="A log4j2 properties file for the driver (the benchmark passes lockgate's).")
    args = parser.parse_args()
    spark = start_spark(args.out, args.log4j)
    demo = Demo(spark, args.out, show=args.show)
    for step in (
        bronze_patients,
        bronze_encounters,
        bronze_providers,
        silver_patients,
        silver_encounters,
        gold_encounters_by_month,
        gold_patient_summary,
    ):
        step(demo)
    spark.stop()


if __name__ == "__main__":
    main()
