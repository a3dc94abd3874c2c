# Databricks notebook source
# MAGIC %md
# MAGIC # Gold: patient summary
# MAGIC One row per patient: number of encounters, total charge and last admission up to `run_date`.

# COMMAND ----------

import json

from pyspark.sql import functions as F

dbutils.widgets.text("run_date", "2024-12-31")
run_date = dbutils.widgets.get("run_date")

# COMMAND ----------

summary = (
    spark.table("silver.encounters")
    .filter(F.col("admit_date") <= F.to_date(F.lit(run_date)))
    .groupBy("patient_id")
    .agg(
        F.count("encounter_id").alias("encounters"),
        F.round(F.sum("total_charge"), 2).alias("total_charge"),
        F.max("admit_date").alias("last_admit_date"),
    )
    .withColumn("days_since_last_admit", F.datediff(F.to_date(F.lit(run_date)), F.col("last_admit_date")))
)
summary.write.mode("overwrite").saveAsTable("gold.patient_summary")

# COMMAND ----------

# MAGIC %sql
# MAGIC SELECT patient_id, encounters, total_charge, last_admit_date
# MAGIC FROM gold.patient_summary
# MAGIC ORDER BY total_charge DESC
# MAGIC LIMIT 10

# COMMAND ----------

dbutils.notebook.exit(json.dumps({"patients": summary.count(), "run_date": run_date}))
