"""Integrations with the frameworks watchkeeper users run: Django, WSGI/ASGI, Celery, logging.

They share one instrumentation core (``metrics``: multiprocess-exact
counters and histograms) and one set of metric names (``http``).
"""
