# Databricks notebook source
# MAGIC %md
# MAGIC # Bronze settings
# MAGIC Shared by the bronze notebooks through `%run ./_config`: where raw files land, the bronze schema and
# MAGIC a helper that tags every row with the file it came from.

# COMMAND ----------

from pyspark.sql import functions as F

BRONZE_SCHEMA = "bronze"
LANDING_PATH = "data/landing"


def with_source(df, source_path):
    """Return ``df`` with a ``_source_file`` column naming the raw file it was read from."""
    return df.withColumn("_source_file", F.lit(source_path))
