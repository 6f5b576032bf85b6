"""The links our mail gives clients: the status page of an item, and signed survey links that expire."""
from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadData, URLSafeTimedSerializer

STATUS_PATH = "/s/"
SURVEY_PATH = "/r/"
RATINGS = (1, 2, 3, 4, 5)
_SALT = "client-intake survey"


def status_url(base_url: str, token: str) -> str:
    """The address of the client view behind TOKEN; "" without a token."""
    return f"{base_url.rstrip('/')}{STATUS_PATH}{token}" if token else ""


@dataclass(frozen=True)
class SurveyLinks:
    """Signs and reads survey tokens: each names one survey of one item, and expires after MAX_AGE seconds."""

    key: str
    max_age: float = 30 * 86400

    def _serializer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.key, salt=_SALT)

    def token(self, survey_id: int, item_id: int) -> str:
        """A token for the survey SURVEY_ID of ITEM_ID, signed now."""
        return str(self._serializer().dumps([survey_id, item_id]))

    def read(self, token: str) -> tuple[int, int] | None:
        """(survey id, item id) of a genuine, unexpired TOKEN; None for anything else."""
        if not token or len(token) > 300 or not token.isascii():
            return None
        try:
            value = self._serializer().loads(token, max_age=self.max_age)
        except BadData:
            return None
        if (not isinstance(value, list) or len(value) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
            return None
        return value[0], value[1]

    def urls(self, base_url: str, token: str) -> dict[str, object]:
        """The survey mail's links: one per rating, the comment page and the unsubscribe page."""
        base = f"{base_url.rstrip('/')}{SURVEY_PATH}{token}"
        return {"ratings": {n: f"{base}/{n}" for n in RATINGS}, "comment": f"{base}/comment",
                "unsubscribe": f"{base}/unsubscribe"}
