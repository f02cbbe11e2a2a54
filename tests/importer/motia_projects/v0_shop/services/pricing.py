"""Prices and dates for orders (a project module the steps reach through sys.path)."""

from datetime import datetime

from dateutil import parser


def order_total(items: list[dict]) -> int:
    """Total in cents."""
    return sum(int(item.get("price", 0)) * int(item.get("quantity", 1)) for item in items)


def parse_date(text: str) -> datetime:
    return parser.isoparse(text)
