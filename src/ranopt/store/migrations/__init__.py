"""Alembic migration scripts of the ranopt store (``ranopt db upgrade`` runs them)."""
