# Databricks notebook source
dbutils.widgets.text("status", "paid")
status = dbutils.widgets.get("status")

# COMMAND ----------

total = spark.sql(f"SELECT coalesce(sum(amount), 0) AS total FROM silver.orders WHERE status = '{status}'").collect()[0][0]
print(f"{status}: {total}")
dbutils.notebook.exit(str(total))
