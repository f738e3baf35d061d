"""The dashboard: server-rendered pages whose JavaScript reads the same JSON API as the integrators.

The pages compute nothing: every figure comes from ``/api/v1/completion/…`` and ``/api/v1/reports/…``,
fetched with the session cookie. The server only decides which pages exist for the signed-in user
(another prefecture's page is a 404, like in the API) and renders the prefecture table export.
"""
