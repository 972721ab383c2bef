"""Retraining on a schedule: the retrain decision, the schedules in conf, their runner and
exporters for cron and Airflow."""
