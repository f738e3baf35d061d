"""The benchmark (issue 7): the production stack it starts, the load it drives, the floors it measures against.

Only the ``benchmark`` and ``benchmark_generate`` management commands and their smoke test import it;
the service itself never routes to anything here (see ``settings.py``).
"""
