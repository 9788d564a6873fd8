"""Outcomes of domain functions that the HTTP layer turns into 4xx answers."""

from pairs import messages


class Rejected(ValueError):
    """400 with this message: the request conflicts with stored data or a business rule."""

    status = 400


class NotFound(LookupError):
    """404 with this message."""

    status = 404

    def __init__(self, text: str = messages.NOT_FOUND):
        super().__init__(text)
