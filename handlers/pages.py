"""pages routes (filled in by its issue)."""

ROUTES: list = []
