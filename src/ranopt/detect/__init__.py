"""Anomaly detection (pure core): KPI anomalies per cell and security analytics on API logs.

Every detector is a function of explicit state and new observations that returns the new state
and what changed (conditions raised or cleared); nothing here reads a clock, a file or a
database. The store's hooks (``ranopt.store.kpi_watch``, ``ranopt.store.security_watch``)
load the state, feed the observations and write the alerts.
"""
