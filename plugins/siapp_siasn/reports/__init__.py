"""Reports the hub writes to files (CSV, self-contained HTML): no Airflow, no personal data."""
