"""Silver encounters: bronze encounters joined with their patient and provider.

Adds ``length_of_stay_days`` and keeps only admissions from ``min_admit_year`` on.
A plain Python notebook: ``spark`` and ``dbutils`` are provided by the runtime.
"""

from pyspark.sql import functions as F

dbutils.widgets.text("min_admit_year", "2022")
min_admit_year = int(dbutils.widgets.get("min_admit_year"))

patients = spark.table("silver.patients").select("patient_id", "sex", "age_years", "state")
providers = spark.table("bronze.providers").select(
    "provider_id", F.col("specialty").alias("provider_specialty")
)

encounters = (
    spark.table("bronze.encounters")
    .drop("_source_file")
    .filter(F.year("admit_date") >= min_admit_year)
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

encounters.write.mode("overwrite").saveAsTable("silver.encounters")
display(encounters.groupBy("encounter_type").agg(F.avg("length_of_stay_days").alias("avg_stay_days")))
