"""The order rules and statuses are listed in, wherever the report lists them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from oversight.criteria.pack import SEVERITIES

__all__ = ["STATUS_ORDER", "rule_order", "status_order"]

STATUS_ORDER = ("open", "in_review", "pending_approval", "confirmed", "escalated", "dismissed")


def status_order(by_status: Mapping[str, int]) -> list[tuple[str, int]]:
    """Statuses in review order (open first, dismissed last), unknown ones after."""
    def rank(s: str) -> tuple[int, str]:
        return (STATUS_ORDER.index(s) if s in STATUS_ORDER else len(STATUS_ORDER), s)
    return [(s, by_status[s]) for s in sorted(by_status, key=rank)]


def rule_order(rules: Mapping[str, Mapping[str, Any]], rule_ids: Iterable[str]) -> list[str]:
    """Most severe rule first, then by id."""
    def rank(rule_id: str) -> tuple[int, str]:
        sev = rules.get(rule_id, {}).get("severity")
        return (-(SEVERITIES.index(sev) if sev in SEVERITIES else -1), rule_id)
    return sorted(rule_ids, key=rank)
