# Databricks notebook source
# MAGIC %md
# MAGIC # Bronze: patients
# MAGIC Loads the raw patient CSV as it is into `bronze.patients`. Cleaning happens in silver.

# COMMAND ----------

# MAGIC %run ./_config

# COMMAND ----------

import json

dbutils.widgets.text("source_path", f"{LANDING_PATH}/patients.csv")
source_path = dbutils.widgets.get("source_path")

# COMMAND ----------

raw = spark.read.csv(source_path, header=True, inferSchema=True)
patients = with_source(raw, source_path)
patients.write.mode("overwrite").saveAsTable(f"{BRONZE_SCHEMA}.patients")

# COMMAND ----------

# MAGIC %sql
# MAGIC SELECT state, COUNT(*) AS patients, COUNT(city) AS with_city
# MAGIC FROM bronze.patients
# MAGIC GROUP BY state
# MAGIC ORDER BY patients DESC

# COMMAND ----------

dbutils.notebook.exit(json.dumps({"table": f"{BRONZE_SCHEMA}.patients", "rows": patients.count()}))
