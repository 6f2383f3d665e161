"""Persistence: SQLAlchemy 2 tables, Alembic migrations and tenant-scoped repository functions."""
