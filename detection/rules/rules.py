"""The rules: from objects that stay somewhere to a clause of the six standards.

Which classes a rule looks at comes only from the taxonomy (``classes_for(clause, roles)``), so a
model that learns a new class (``ground_lock``) lights up its clause without code changes. What
this module fixes is policy: where each clause applies (zone types, schedules) and in which order
the clauses claim an object, most specific first; e.g. a table in a night-market area by day is
3b, not 3a, and a table in a shop-front band is 1b.

Zone rules (every clause but 6a and 6b): an object of the clause's disorder or cue classes whose
anchor (bottom centre for things on the ground, centre for things on walls or hanging) lies in a
zone where the clause applies, and that has stayed put for ``dwell_s`` and been seen in
``min_frames`` frames (moving cameras: frames only). For 1a and 1c a cue (umbrella, table) also
needs a context object (a person) staying by it; a ``disorder`` class (a stall) suffices alone.

Dog rule (6a, 6b): a dog with no person within ``dog.distance_factor`` dog sizes for
``min_frames`` frames is a candidate: 6a when people are in view (the dog is away from them), 6b
when nobody is (stray). When the model detects leashes, a dog next to a person without a leash
box touching both is 6a too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Protocol

import numpy.typing as npt

from detection.core import FrameMeta
from detection.rules.config import PUBLIC_ZONES, ResolvedRule, SourceConfig, Zone, ZoneType
from detection.rules.geometry import (
    ZoneMap,
    box_gap,
    box_size,
    box_union,
    centre_point,
    ground_point,
)
from detection.rules.tracks import ObjectTrack, Seen
from detection.taxonomy import Role, Taxonomy

#: A rule's verdict on where an object is: (the zone reported, the rule name), or None.
Placement = tuple[Zone | None, str]


class Anchor(Enum):
    GROUND = "ground"
    CENTRE = "centre"

    def point(self, box: npt.ArrayLike) -> tuple[float, float]:
        return ground_point(box) if self is Anchor.GROUND else centre_point(box)


@dataclass(frozen=True)
class Scene:
    """Everything a rule sees about one frame."""

    meta: FrameMeta
    local_time: datetime
    seen: tuple[Seen, ...]
    zones: ZoneMap
    source: SourceConfig
    taxonomy: Taxonomy
    model_classes: frozenset[str]

    def of_classes(self, names: Iterable[str]) -> list[Seen]:
        wanted = set(names)
        return [s for s in self.seen if s.class_name in wanted]


@dataclass(frozen=True)
class Hit:
    """A rule firing on some objects in one frame."""

    clause_id: str
    rule: str
    objects: tuple[Seen, ...]
    context: tuple[Seen, ...]
    zone: Zone | None
    confidence: float
    dwell_s: float

    @property
    def box(self) -> tuple[float, float, float, float]:
        x1, y1, x2, y2 = box_union([s.box for s in self.objects])
        return float(x1), float(y1), float(x2), float(y2)

    @property
    def standard_id(self) -> int:
        return int(self.clause_id[0])


class Rule(Protocol):
    """A rule over one frame's scene; stateful rules keep their own per-object counters."""

    @property
    def clause_ids(self) -> tuple[str, ...]:
        """The clauses the rule can fire."""
        ...

    def evaluate(self, scene: Scene, claimed: Mapping[int, str]) -> list[Hit]:
        """Hits in this frame; objects claimed by another clause (``claimed``) are skipped."""
        ...


Locator = Callable[[Zone | None, tuple[float, float], Scene], Placement | None]


def in_zone_types(types: Iterable[ZoneType], rule: str) -> Locator:
    allowed = frozenset(types)

    def locate(zone: Zone | None, point: tuple[float, float], scene: Scene) -> Placement | None:
        return (zone, rule) if zone is not None and zone.type in allowed else None

    return locate


def anywhere(rule: str) -> Locator:
    def locate(zone: Zone | None, point: tuple[float, float], scene: Scene) -> Placement | None:
        return zone, rule

    return locate


def closed_zone(zone_type: ZoneType, rule: str) -> Locator:
    def locate(zone: Zone | None, point: tuple[float, float], scene: Scene) -> Placement | None:
        if zone is not None and zone.type is zone_type and not zone.is_open(scene.local_time):
            return zone, rule
        return None

    return locate


def market_overflow(
    zone: Zone | None, point: tuple[float, float], scene: Scene
) -> Placement | None:
    """1c: trading in a market zone outside its hours, or just outside its polygon (冒市)."""
    if zone is not None and zone.trading:
        return None if zone.is_open(scene.local_time) else (zone, "1c.market_after_hours")
    spill = scene.zones.spill_zone(point)
    return None if spill is None else (spill, "1c.market_spill_over")


def long_enough(track: ObjectTrack, settings: ResolvedRule, moving: bool) -> bool:
    """Seen in enough frames and, for fixed cameras, stationary for long enough."""
    if track.frames < settings.min_frames:
        return False
    return moving or track.dwell_s >= settings.dwell_s


@dataclass(frozen=True)
class ZoneRule:
    """Objects of a clause's classes staying put where the clause applies."""

    clause_id: str
    locate: Locator
    anchor: Anchor = Anchor.GROUND
    cue_needs_context: bool = False

    @property
    def clause_ids(self) -> tuple[str, ...]:
        return (self.clause_id,)

    def evaluate(self, scene: Scene, claimed: Mapping[int, str]) -> list[Hit]:
        settings = scene.source.rule(self.clause_id, scene.taxonomy)
        if not settings.enabled:
            return []
        tax, clause = scene.taxonomy, self.clause_id
        cues = set(tax.classes_for(clause, Role.CUE))
        context = tax.classes_for(clause, Role.CONTEXT)
        hits = []
        for s in scene.of_classes(tax.classes_for(clause, Role.DISORDER, Role.CUE)):
            if claimed.get(s.track.key, clause) != clause:
                continue
            point = self.anchor.point(s.box)
            placed = self.locate(scene.zones.zone_at(point), point, scene)
            if placed is None or (placed[0] is not None and clause in placed[0].exempt):
                continue
            if not long_enough(s.track, settings, scene.source.moving):
                continue
            support: tuple[Seen, ...] = ()
            if self.cue_needs_context and s.class_name in cues:
                support = staying_near(s, scene.of_classes(context), scene.source)
                if not support:
                    continue
            dwell = s.track.age_s if scene.source.moving else s.track.dwell_s
            hits.append(Hit(clause, placed[1], (s,), support, placed[0], s.confidence, dwell))
        return hits


def staying_near(cue: Seen, others: list[Seen], source: SourceConfig) -> tuple[Seen, ...]:
    """Context objects (people) close to ``cue`` that have stayed put long enough."""
    reach = source.context.distance_factor * box_size(cue.box)
    return tuple(
        o
        for o in others
        if box_gap(cue.box, o.box) <= reach
        and (source.moving or o.track.dwell_s >= source.context.dwell_s)
    )


@dataclass
class DogRule:
    """Unleashed (6a) and stray (6b) dog candidates; counts frames per dog."""

    clause_ids: tuple[str, ...] = ("6a", "6b")
    _alone: dict[int, tuple[int, ObjectTrack]] = field(default_factory=dict)
    _unleashed: dict[int, tuple[int, ObjectTrack]] = field(default_factory=dict)

    def evaluate(self, scene: Scene, claimed: Mapping[int, str]) -> list[Hit]:
        tax, cfg = scene.taxonomy, scene.source.dog
        dogs = {*tax.classes_for("6a", Role.DISORDER), *tax.classes_for("6b", Role.DISORDER)}
        owners = set(tax.classes_for("6a", Role.CONTEXT)) - {cfg.leash_class}
        people = scene.of_classes(owners)
        leashes = scene.of_classes([cfg.leash_class])
        leash_known = cfg.leash_class in scene.model_classes
        hits = []
        for dog in scene.of_classes(dogs):
            if claimed.get(dog.track.key, "6a")[0] != "6":
                continue
            reach = cfg.distance_factor * box_size(dog.box)
            near = tuple(p for p in people if box_gap(dog.box, p.box) <= reach)
            leashed = any(
                box_gap(leash.box, dog.box) == 0
                and any(box_gap(leash.box, p.box) == 0 for p in near)
                for leash in leashes
            )
            alone = self._count(self._alone, dog, not near)
            unleashed = self._count(
                self._unleashed, dog, bool(near) and leash_known and not leashed
            )
            if alone:
                clause = "6a" if people else "6b"
                rule = "6a.dog_away_from_people" if people else "6b.dog_alone"
                hits += self._fire(scene, clause, rule, dog, (), alone)
            elif unleashed:
                hits += self._fire(scene, "6a", "6a.dog_without_leash", dog, near, unleashed)
        self._forget(scene)
        return hits

    @staticmethod
    def _count(counts: dict[int, tuple[int, ObjectTrack]], dog: Seen, condition: bool) -> int:
        n = counts.get(dog.track.key, (0, dog.track))[0] + 1 if condition else 0
        counts[dog.track.key] = (n, dog.track)
        return n

    @staticmethod
    def _fire(
        scene: Scene, clause: str, rule: str, dog: Seen, context: tuple[Seen, ...], frames: int
    ) -> list[Hit]:
        settings = scene.source.rule(clause, scene.taxonomy)
        if not settings.enabled or frames < settings.min_frames:
            return []
        zone = scene.zones.zone_at(ground_point(dog.box))
        if zone is not None and clause in zone.exempt:
            return []
        return [Hit(clause, rule, (dog,), context, zone, dog.confidence, dog.track.age_s)]

    def _forget(self, scene: Scene) -> None:
        """Drop counters of dogs the track memory has let go of."""
        horizon = scene.source.stationarity.rejoin_gap_s
        for counts in (self._alone, self._unleashed):
            stale = [
                k
                for k, (_, tr) in counts.items()
                if (scene.meta.wall_time - tr.last_seen).total_seconds() > horizon
            ]
            for k in stale:
                del counts[k]


def default_rules() -> tuple[Rule, ...]:
    """All rules in claiming order: the most specific clause gets an object first."""
    return (
        ZoneRule("1d", anywhere("1d.open_air_barbecue")),
        ZoneRule("3b", closed_zone(ZoneType.NIGHT_MARKET_AREA, "3b.night_market_furniture_by_day")),
        ZoneRule("1c", market_overflow, cue_needs_context=True),
        ZoneRule("1b", in_zone_types({ZoneType.SHOP_FRONT_BAND}, "1b.trading_beyond_shop_front")),
        ZoneRule(
            "1a", in_zone_types(PUBLIC_ZONES, "1a.vending_in_public_space"), cue_needs_context=True
        ),
        ZoneRule("4a", in_zone_types(PUBLIC_ZONES, "4a.fencing_off_public_space")),
        ZoneRule("3a", in_zone_types(PUBLIC_ZONES, "3a.piled_in_public_space")),
        ZoneRule("6c", in_zone_types(PUBLIC_ZONES, "6c.dog_waste_in_public_space")),
        ZoneRule("5a", in_zone_types(PUBLIC_ZONES, "5a.banner_in_public_space"), Anchor.CENTRE),
        ZoneRule("5b", in_zone_types(PUBLIC_ZONES, "5b.laundry_in_public_space"), Anchor.CENTRE),
        ZoneRule("2a", anywhere("2a.graffiti_or_small_ads"), Anchor.CENTRE),
        ZoneRule("2b", anywhere("2b.posted_on_wall_or_window"), Anchor.CENTRE),
        DogRule(),
    )
