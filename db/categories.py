"""The four categories an item can have, in a module of their own so that reading them loads no ORM."""
from __future__ import annotations

CATEGORIES = ("issue", "change_request", "question", "feedback")
