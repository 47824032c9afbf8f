"""Per-source rules configuration: zones, schedules, thresholds. Loaded from YAML or JSON.

One file holds one or more sources::

    version: 1
    sources:
      - id: cam-001
        name: 长江路口东
        zones:
          - {id: front, type: shop_front_band, polygon: [[0, 300], [400, 300], [400, 380]]}
          - id: nm
            type: night_market_area
            polygon: [[0, 400], [600, 400], [600, 470], [0, 470]]
            hours: [{start: "18:00", end: "02:00"}]
        rules: {3a: {dwell_s: 600}}

Everything that names a class or a clause is checked against the taxonomy, and every error names
the file, the source id and the field.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from datetime import datetime, time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from detection.errors import LISTED, ConfigError, validation_message
from detection.rules.schedule import TimeWindow, any_contains
from detection.taxonomy import Role, Taxonomy, default_taxonomy

#: Example configs shipped with the package (vtest.avi zones, ...).
EXAMPLES_DIR = Path(__file__).with_name("examples")

ClauseId = Annotated[str, Field(pattern=r"^[1-6][a-z]$")]
Ident = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
Coord = Annotated[float, Field(ge=0.0, le=100_000.0)]
Polygon = Annotated[tuple[tuple[Coord, Coord], ...], Field(min_length=3, max_length=512)]
Pixels = Annotated[int, Field(ge=1, le=20_000)]


class ZoneType(StrEnum):
    """What a zone of the image is; the rules decide which clauses apply where."""

    SHOP_FRONT_BAND = "shop_front_band"
    PAVEMENT = "pavement"
    ROADWAY = "roadway"
    PARKING_BAYS = "parking_bays"
    PLAZA = "plaza"
    GREEN_SPACE = "green_space"
    MARKET_AREA = "market_area"
    NIGHT_MARKET_AREA = "night_market_area"


PUBLIC_ZONES = frozenset(
    {
        ZoneType.SHOP_FRONT_BAND,
        ZoneType.PAVEMENT,
        ZoneType.ROADWAY,
        ZoneType.PARKING_BAYS,
        ZoneType.PLAZA,
        ZoneType.GREEN_SPACE,
    }
)
TRADING_ZONES = frozenset({ZoneType.MARKET_AREA, ZoneType.NIGHT_MARKET_AREA})


class DwellDefaults(Mapping[str, tuple[float, int]]):
    """Clause id → (seconds an object must stay put, frames it must be seen in), as the taxonomy
    sets them (each clause's ``dwell_s`` and ``min_frames``); a source's ``rules`` override them.

    They live in the taxonomy so that a clause cannot exist without them (the taxonomy refuses
    one), and an unknown clause is a KeyError, never a dwell of 0 s in 1 frame. Without a
    taxonomy the project's is read on first use, so importing this module reads no file.
    """

    def __init__(self, taxonomy: Taxonomy | None = None) -> None:
        self._taxonomy = taxonomy

    def _tax(self) -> Taxonomy:
        return self._taxonomy or default_taxonomy()

    def __getitem__(self, clause_id: str) -> tuple[float, int]:
        clause = self._tax().clause(clause_id)
        return clause.dwell_s, clause.min_frames

    def __iter__(self) -> Iterator[str]:
        return iter(self._tax().clause_ids)

    def __len__(self) -> int:
        return len(self._tax().clause_ids)


#: The project taxonomy's defaults per clause.
DEFAULT_RULES: Mapping[str, tuple[float, int]] = DwellDefaults()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _taxonomy(info: ValidationInfo) -> Taxonomy:
    ctx = info.context or {}
    tax = ctx.get("taxonomy")
    return tax if isinstance(tax, Taxonomy) else default_taxonomy()


def _check_clauses(ids: tuple[str, ...] | list[str], info: ValidationInfo) -> None:
    known = _taxonomy(info).clause_ids
    unknown = sorted(set(ids) - set(known))
    if unknown:
        raise ValueError(f"unknown clause ids {unknown}; the taxonomy has {', '.join(known)}")


def _polygon_area(poly: tuple[tuple[float, float], ...]) -> float:
    xs = [p[0] for p in poly]
    ys = [p[1] for p in poly]
    n = len(poly)
    return 0.5 * abs(sum(xs[i] * ys[(i + 1) % n] - xs[(i + 1) % n] * ys[i] for i in range(n)))


class Zone(_Strict):
    """A polygon of the image (pixel coordinates) that is one kind of place."""

    id: Ident = Field(description="Zone id, unique within the source.")
    name: str = Field("", max_length=80, description="Human name shown on incidents (any script).")
    type: ZoneType = Field(description="What the place is; decides which clauses apply in it.")
    polygon: Polygon = Field(description="Vertices [[x, y], ...] in image pixels, >= 3 points.")
    hours: tuple[TimeWindow, ...] | None = Field(
        default=None,
        min_length=1,
        max_length=14,
        description="Trading hours, required for market_area and night_market_area and "
        "forbidden elsewhere: outside them trading (1c) and, in night markets, tables and "
        "chairs (3b) are violations.",
    )
    spill_margin_px: float = Field(
        40.0,
        ge=0.0,
        le=5000.0,
        description="Trading zones only: stall activity outside the polygon but within this many "
        "pixels of it is market spill-over (1c, 冒市); 0 turns the check off.",
    )
    exempt: tuple[ClauseId, ...] = Field(
        default=(),
        max_length=20,
        description="Clauses that do not apply in this zone (e.g. a permit for outdoor seating).",
    )

    @field_validator("polygon")
    @classmethod
    def _has_area(cls, poly: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
        if _polygon_area(poly) < 1.0:
            raise ValueError("polygon has no area (points are collinear or repeated)")
        return poly

    @field_validator("exempt")
    @classmethod
    def _known_exempt(cls, ids: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        _check_clauses(ids, info)
        return ids

    @model_validator(mode="after")
    def _hours_for_trading(self) -> Zone:
        trading = self.type in TRADING_ZONES
        if trading and self.hours is None:
            raise ValueError(f"a {self.type.value} zone needs 'hours' (when trading is allowed)")
        if not trading and self.hours is not None:
            raise ValueError(f"'hours' only apply to market zones, not to a {self.type.value} zone")
        return self

    @property
    def trading(self) -> bool:
        return self.type in TRADING_ZONES

    def is_open(self, local: datetime) -> bool:
        """Trading zones: whether trading is allowed at ``local`` time."""
        return self.hours is not None and any_contains(self.hours, local)


class DetectionFilter(_Strict):
    """Which detections the rules consider at all."""

    min_confidence: float = Field(
        0.35, ge=0.0, le=1.0, description="Detections below this confidence are ignored."
    )
    class_min_confidence: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]] = Field(
        default_factory=dict,
        description="Per-class overrides of min_confidence, by taxonomy class name.",
    )
    min_box_px: float = Field(
        8.0, ge=0.0, le=10_000.0, description="Boxes with a side shorter than this are ignored."
    )

    @field_validator("class_min_confidence")
    @classmethod
    def _known_classes(cls, value: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        names = _taxonomy(info).class_names
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ValueError(f"unknown classes {unknown}; taxonomy classes: {', '.join(names)}")
        return value

    def threshold(self, class_name: str) -> float:
        return self.class_min_confidence.get(class_name, self.min_confidence)


class Stationarity(_Strict):
    """When an object counts as staying put, and when a lost track is the same object again."""

    max_drift: float = Field(
        0.5,
        gt=0.0,
        le=20.0,
        description="How far an object's centre may wander, in box sizes (sqrt(w*h)), and still "
        "count as stationary.",
    )
    context_max_drift: float = Field(
        1.5,
        gt=0.0,
        le=20.0,
        description="The same for context classes (people fidget more than tables).",
    )
    rejoin_gap_s: float = Field(
        30.0,
        ge=0.0,
        le=3600.0,
        description="A lost track that reappears within this many seconds at the same place "
        "(same class) continues its dwell instead of starting over.",
    )
    rejoin_iou: float = Field(
        0.3, gt=0.0, le=1.0, description="Box IoU at or above which a reappearing box rejoins."
    )
    rejoin_distance: float = Field(
        0.5,
        ge=0.0,
        le=20.0,
        description="Centre distance, in box sizes, within which a reappearing box rejoins.",
    )


class ContextSettings(_Strict):
    """'A person staying by them': what turns stall cues into trading (1a, 1c)."""

    distance_factor: float = Field(
        2.0,
        ge=0.0,
        le=50.0,
        description="A context object (person) counts when its box is within this many cue "
        "sizes (sqrt(w*h)) of the cue's box.",
    )
    dwell_s: float = Field(
        30.0, ge=0.0, le=86_400.0, description="...and has stayed put for at least this long."
    )


class DogSettings(_Strict):
    """Unleashed and stray dog candidates (6a, 6b)."""

    distance_factor: float = Field(
        4.0,
        gt=0.0,
        le=100.0,
        description="A person within this many dog sizes (sqrt(w*h)) of the dog's box counts as "
        "its companion.",
    )
    leash_class: str = Field(
        "leash",
        min_length=1,
        max_length=40,
        description="Taxonomy class whose box, touching both dog and companion, clears the dog; "
        "only used when the model detects it. Must be a context class of clause 6a.",
    )

    @field_validator("leash_class")
    @classmethod
    def _context_of_6a(cls, value: str, info: ValidationInfo) -> str:
        context = _taxonomy(info).classes_for("6a", Role.CONTEXT)
        if value not in context:
            raise ValueError(
                f"'{value}' is not a context class of clause 6a ({', '.join(context)})"
            )
        return value


class RuleSettings(_Strict):
    """Overrides for one clause; unset fields keep the taxonomy's defaults (DwellDefaults)."""

    enabled: bool = Field(True, description="False switches the clause off for this source.")
    dwell_s: float | None = Field(
        None,
        ge=0.0,
        le=7 * 86_400.0,
        description="Seconds an object must stay put before the clause fires (fixed cameras).",
    )
    min_frames: int | None = Field(
        None,
        ge=1,
        le=100_000,
        description="Frames an object must be seen in (moving cameras use only this); for dogs, "
        "consecutive frames without a companion or leash.",
    )


class ResolvedRule(_Strict):
    """A clause's effective settings for one source."""

    enabled: bool = Field(description="Whether the clause is evaluated.")
    dwell_s: float = Field(ge=0.0, description="Required stationary dwell in seconds.")
    min_frames: int = Field(ge=1, description="Required number of frames.")


class EvidenceSettings(_Strict):
    """How evidence images are kept."""

    min_gain: float = Field(
        0.05,
        ge=0.0,
        le=1.0,
        description="A new best evidence frame is saved only when confidence beats the current "
        "best by at least this much.",
    )
    crop_margin: float = Field(
        0.25, ge=0.0, le=5.0, description="Margin around the region in the crop, in region sizes."
    )
    jpeg_quality: int = Field(90, ge=30, le=100, description="JPEG quality of annotated copies.")


class SourceConfig(_Strict):
    """Everything the rules need to know about one camera, dashcam or photo set."""

    id: Ident = Field(description="Source id; matches FrameMeta.source_id and tickets.")
    name: str = Field("", max_length=120, description="Human name of the place or vehicle.")
    timezone: str = Field(
        "Asia/Shanghai", min_length=1, max_length=64, description="IANA timezone of schedules."
    )
    moving: bool = Field(
        False,
        description="A moving camera (dashcam): dwell cannot be measured in the image, so rules "
        "count frames and incidents are deduplicated by GPS distance.",
    )
    frame_size: tuple[Pixels, Pixels] | None = Field(
        default=None,
        description="[width, height] the polygons were drawn on; frames of another size scale "
        "them. Omitted: polygons are used as they are.",
    )
    default_zone: ZoneType | None = Field(
        None,
        description="Zone type of image parts no zone covers (dashcams: e.g. pavement); "
        "omitted: uncovered parts are no zone.",
    )
    zones: tuple[Zone, ...] = Field(
        default=(),
        max_length=256,
        description="Zones; where they overlap, an object belongs to the first listed, so list "
        "specific zones (a shop-front band) before general ones (the pavement around it).",
    )
    masks: tuple[Polygon, ...] = Field(
        default=(),
        max_length=256,
        description="Ignore regions: detections centred inside are dropped (overlays, private "
        "ground).",
    )
    priority_hours: tuple[TimeWindow, ...] = Field(
        default=(TimeWindow(start=time(8), end=time(18)),),
        max_length=14,
        description="The bureau's priority period (08:00–18:00); incidents starting in it are "
        "flagged.",
    )
    detection: DetectionFilter = Field(
        default_factory=DetectionFilter, description="Confidence and size filters."
    )
    stationarity: Stationarity = Field(
        default_factory=Stationarity, description="Stationarity and track rejoining."
    )
    context: ContextSettings = Field(
        default_factory=ContextSettings, description="People staying by stall cues."
    )
    dog: DogSettings = Field(default_factory=DogSettings, description="Dog rules.")
    rules: dict[ClauseId, RuleSettings] = Field(
        default_factory=dict, description="Per-clause overrides, keyed by clause id ('3a')."
    )
    cooldown_s: float = Field(
        600.0,
        ge=0.0,
        le=7 * 86_400.0,
        description="An incident not seen again for this long is closed; seen again sooner, it "
        "is updated instead of opening a new one.",
    )
    dedup_iou: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="Fixed cameras: a hit whose box overlaps an open incident's region (same "
        "standard) by IoU above this updates that incident.",
    )
    dedup_radius_m: float = Field(
        25.0,
        ge=0.0,
        le=10_000.0,
        description="Moving cameras: a hit of the same class and standard within this GPS "
        "distance of an open incident updates it.",
    )
    evidence: EvidenceSettings = Field(
        default_factory=EvidenceSettings, description="Evidence images."
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown timezone {value!r} (use an IANA name like Asia/Shanghai)"
            ) from exc
        return value

    @field_validator("rules")
    @classmethod
    def _known_rules(
        cls, value: dict[str, RuleSettings], info: ValidationInfo
    ) -> dict[str, RuleSettings]:
        _check_clauses(list(value), info)
        return value

    @model_validator(mode="after")
    def _zones_consistent(self) -> SourceConfig:
        ids = [z.id for z in self.zones]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate zone ids {dupes}")
        if self.default_zone in TRADING_ZONES:
            raise ValueError(
                "default_zone cannot be a market zone (markets need hours and a shape)"
            )
        if self.frame_size is not None:
            w, h = self.frame_size
            for z in self.zones:
                if any(x > w or y > h for x, y in z.polygon):
                    raise ValueError(f"zone '{z.id}' has points outside frame_size {w}x{h}")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def rule(self, clause_id: str, taxonomy: Taxonomy | None = None) -> ResolvedRule:
        """Effective settings of a clause: overrides on top of the taxonomy's defaults (the
        project's without ``taxonomy``); a clause the taxonomy lacks is a KeyError."""
        dwell, frames = DwellDefaults(taxonomy)[clause_id]
        o = self.rules.get(clause_id, RuleSettings())
        return ResolvedRule(
            enabled=o.enabled,
            dwell_s=dwell if o.dwell_s is None else o.dwell_s,
            min_frames=frames if o.min_frames is None else o.min_frames,
        )


class RulesConfig(_Strict):
    """A configuration file: one or more sources."""

    version: Literal[1] = Field(1, description="File format version.")
    sources: tuple[SourceConfig, ...] = Field(min_length=1, description="The sources.")

    @model_validator(mode="after")
    def _unique_sources(self) -> RulesConfig:
        ids = [s.id for s in self.sources]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate source ids {dupes}")
        return self

    def source(self, source_id: str | None = None) -> SourceConfig:
        """The source with ``source_id``; with None, the only source of the file."""
        if source_id is None:
            if len(self.sources) == 1:
                return self.sources[0]
            raise ConfigError(
                f"the config has {len(self.sources)} sources; choose one of "
                f"{', '.join(s.id for s in self.sources)}"
            )
        for s in self.sources:
            if s.id == source_id:
                return s
        raise ConfigError(
            f"no source '{source_id}' in the config; it has {', '.join(s.id for s in self.sources)}"
        )


def load_config(path: str | os.PathLike[str], taxonomy: Taxonomy | None = None) -> RulesConfig:
    """Load and validate a rules config (YAML, or JSON by its .json suffix).

    Errors are ConfigErrors naming the file, the source (id and index) and the field.
    """
    file = Path(path)
    raw = _read(file)
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {file} must hold a mapping, not {type(raw).__name__}")
    sources = raw.get("sources")
    if not isinstance(sources, list) or not sources:
        raise ConfigError(f"config file {file}: 'sources' must be a non-empty list of sources")
    ctx = {"taxonomy": taxonomy or default_taxonomy()}
    parsed = [_source(file, i, s, ctx) for i, s in enumerate(sources)]
    try:
        return RulesConfig.model_validate({**raw, "sources": parsed}, context=ctx)
    except ValidationError as exc:
        raise ConfigError(
            f"invalid config file {file}:\n{validation_message(exc, layout=LISTED)}"
        ) from exc


def source_config(data: Mapping[str, Any], taxonomy: Taxonomy | None = None) -> SourceConfig:
    """Validate one source given as a mapping (for callers that build configs in code)."""
    return _source(Path("<mapping>"), 0, data, {"taxonomy": taxonomy or default_taxonomy()})


def _read(file: Path) -> Any:
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {file}: {exc.strerror}") from exc
    try:
        return json.loads(text) if file.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        kind = "JSON" if file.suffix.lower() == ".json" else "YAML"
        raise ConfigError(f"config file {file} is not valid {kind}: {exc}") from exc


def _source(file: Path, index: int, data: Any, ctx: dict[str, Any]) -> SourceConfig:
    sid = data.get("id") if isinstance(data, Mapping) else None
    where = f"{file}: source '{sid}' (sources[{index}])" if sid else f"{file}: sources[{index}]"
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be a mapping, not {type(data).__name__}")
    try:
        return SourceConfig.model_validate(data, context=ctx)
    except ValidationError as exc:
        raise ConfigError(f"invalid {where}:\n{validation_message(exc, layout=LISTED)}") from exc
