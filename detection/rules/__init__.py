"""The six-standards rules: tracked detections plus per-source context → incidents with evidence."""

from detection.rules.config import (
    RulesConfig,
    SourceConfig,
    Zone,
    ZoneType,
    load_config,
    source_config,
)
from detection.rules.engine import RulesEngine
from detection.rules.incident import SCHEMA_VERSION, EvidenceFrame, Incident
from detection.rules.output import IncidentLog
from detection.rules.rules import Hit, Rule, Scene, default_rules
from detection.rules.schedule import TimeWindow, any_contains

__all__ = [
    "SCHEMA_VERSION",
    "EvidenceFrame",
    "Hit",
    "Incident",
    "IncidentLog",
    "Rule",
    "RulesConfig",
    "RulesEngine",
    "Scene",
    "SourceConfig",
    "TimeWindow",
    "Zone",
    "ZoneType",
    "any_contains",
    "default_rules",
    "load_config",
    "source_config",
]
