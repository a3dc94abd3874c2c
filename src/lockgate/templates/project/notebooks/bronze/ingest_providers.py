# Databricks notebook source
# MAGIC %md
# MAGIC # Bronze: providers
# MAGIC Loads the newline-delimited JSON provider list into `bronze.providers`.

# COMMAND ----------

# MAGIC %run ./_config

# COMMAND ----------

dbutils.widgets.text("source_path", f"{LANDING_PATH}/providers.json")
source_path = dbutils.widgets.get("source_path")

providers = with_source(spark.read.json(source_path), source_path)
providers.write.mode("overwrite").saveAsTable(f"{BRONZE_SCHEMA}.providers")
display(providers)
