"""Domain exceptions that services raise and the API maps to HTTP (``smartcity.api.errors``)."""


class InvalidTransition(Exception):
    """The object is not in a state that allows this action (409 Conflict)."""
