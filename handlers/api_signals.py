"""api_signals routes (filled in by its issue)."""

ROUTES: list = []
