"""The fact type the extractors produce (see ``tracker.ingest.extract``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FACT_KINDS = ("tariff_rate", "project_count", "listing", "export_control", "mechanism_status")


@dataclass(frozen=True, slots=True)
class Fact:
    """One extracted fact: ``kind`` (see FACT_KINDS), a kind-specific ``value``, its sentence."""

    kind: str
    value: dict[str, Any]
    sentence: str
    confidence: float = field(default=0.5)
