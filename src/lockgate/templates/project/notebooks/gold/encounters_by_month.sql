-- Gold: encounters and charges per month and encounter type, for the monthly activity report.
CREATE OR REPLACE TABLE gold.encounters_by_month AS
SELECT
  year(admit_date) AS year,
  month(admit_date) AS month,
  encounter_type,
  count(*) AS encounters,
  round(sum(total_charge), 2) AS total_charges
FROM silver.encounters
GROUP BY year(admit_date), month(admit_date), encounter_type;

-- Gold: average stay and charge per encounter type over the whole period.
CREATE OR REPLACE TABLE gold.encounter_type_stats AS
SELECT
  encounter_type,
  count(*) AS encounters,
  round(avg(length_of_stay_days), 2) AS avg_length_of_stay_days,
  round(avg(total_charge), 2) AS avg_charge
FROM silver.encounters
GROUP BY encounter_type;

-- Gold: the most frequent diagnoses, with how many distinct patients received them.
CREATE OR REPLACE TABLE gold.top_diagnoses AS
SELECT
  diagnosis_code,
  count(*) AS encounters,
  count(DISTINCT patient_id) AS patients,
  round(sum(total_charge), 2) AS total_charges
FROM silver.encounters
GROUP BY diagnosis_code
ORDER BY encounters DESC, diagnosis_code
LIMIT 10;
