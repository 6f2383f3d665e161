"""The HTTP API (FastAPI): routers, dependencies, security, errors and metrics."""
