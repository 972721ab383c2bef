"""MLflow conventions: run hierarchy, model logging, registry moves."""
