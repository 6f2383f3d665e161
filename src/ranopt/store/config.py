"""Where the store lives: ``RANOPT_DATABASE_URL``, else a SQLite file in the data directory."""

import os
from pathlib import Path

DEFAULT_DATA_DIR = ".ranopt"
SQLITE_FILE = "ranopt.db"


def data_dir() -> Path:
    """Return the data directory (``RANOPT_DATA_DIR``, default ``.ranopt``)."""
    return Path(os.environ.get("RANOPT_DATA_DIR", DEFAULT_DATA_DIR))


def database_url() -> str:
    """Return the database URL: ``RANOPT_DATABASE_URL`` or the embedded SQLite file."""
    url = os.environ.get("RANOPT_DATABASE_URL")
    if url:
        return url
    directory = data_dir()
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(directory / SQLITE_FILE).resolve()}"


# FULL: the WAL is fsynced at every commit (a commit survives power loss); NORMAL: at
# checkpoints only (a commit survives the process being killed, not the machine failing)
SQLITE_SYNCHRONOUS_MODES = ("FULL", "EXTRA", "NORMAL")


def sqlite_synchronous() -> str:
    """Return SQLite's ``synchronous`` mode: ``RANOPT_SQLITE_SYNCHRONOUS``, default ``FULL``."""
    mode = os.environ.get("RANOPT_SQLITE_SYNCHRONOUS", "FULL").strip().upper()
    if mode not in SQLITE_SYNCHRONOUS_MODES:
        msg = f"RANOPT_SQLITE_SYNCHRONOUS: {mode!r} is not one of {SQLITE_SYNCHRONOUS_MODES}"
        raise ValueError(msg)
    return mode
