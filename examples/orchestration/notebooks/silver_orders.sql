-- Databricks notebook source
CREATE OR REPLACE TABLE silver.orders AS
SELECT
  CAST(order_id AS INT) AS order_id,
  customer,
  CAST(amount AS DOUBLE) AS amount,
  status,
  CAST(updated_at AS TIMESTAMP) AS updated_at
FROM bronze.orders
