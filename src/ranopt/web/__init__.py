"""The operations dashboard: static files only (``static/``), served by ``ranopt.api``.

A one-page app in plain ES modules with vendored, pinned libraries (uPlot, Leaflet; see
``static/vendor/vendor.json`` and ``scripts/vendor_web.py``); it reads everything it shows
from the authenticated ``/api/v2`` endpoints.
"""
