"""Telemetry ingestion: PM XML, VES events, CSV/Parquet tables to validated KPI samples."""
