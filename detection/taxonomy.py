"""The six-standards taxonomy: standards, clauses and evidence classes, loaded from one YAML file.

Everything that needs a class list, a clause text, a clause's dwell defaults or a standard name
reads it from here, so adding a class to ``datasets/taxonomy.yaml`` is all it takes for datasets,
rules and tickets to know it (adding a clause also needs its rule: docs/adding-a-class.md).
"""

from __future__ import annotations

import os
from collections import Counter
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from detection.errors import LISTED, TaxonomyError, validation_message
from detection.resources import resource

DEFAULT_TAXONOMY = resource("datasets/taxonomy.yaml")

Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", min_length=2, max_length=40)]


class Role(StrEnum):
    DISORDER = "disorder"
    CUE = "cue"
    CONTEXT = "context"


class DataStatus(StrEnum):
    TRAINED = "trained"
    TEACHER_ONLY = "teacher_only"
    NO_DATA = "no_data"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


#: A clause's dwell defaults: the fields each clause of the file must set.
DWELL_FIELDS = ("dwell_s", "min_frames")


class Clause(_Strict):
    id: str = Field(pattern=r"^[1-6][a-z]$", description="Standard number and letter, e.g. '1a'.")
    key: Name
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    text_zh: str = Field(min_length=1, description="The clause as the bureau's opinion words it.")
    # The dwell defaults are rules policy, not labels: kept out of what the service publishes
    # (GET /taxonomy and its OpenAPI schema) by exclude=True.
    dwell_s: float = Field(
        ge=0.0,
        le=7 * 86_400.0,
        exclude=True,
        description="Seconds an object must stay put before the clause fires on a fixed camera, "
        "unless a source's rules override it.",
    )
    min_frames: int = Field(
        ge=1,
        le=100_000,
        exclude=True,
        description="Frames an object must be seen in (all a moving camera counts), unless a "
        "source's rules override it.",
    )

    @model_validator(mode="before")
    @classmethod
    def _has_dwell_defaults(cls, data: Any) -> Any:
        """A clause without dwell defaults would fire on one frame: refuse it by name."""
        if isinstance(data, dict):
            missing = [f for f in DWELL_FIELDS if f not in data]
            if missing:
                raise ValueError(
                    f"clause '{data.get('id', '?')}' has no {' or '.join(missing)}: every clause "
                    "sets how long an object must stay put (dwell_s, seconds) and in how many "
                    "frames it must be seen (min_frames) before the clause fires"
                )
        return data

    @property
    def standard_id(self) -> int:
        return int(self.id[0])


class Standard(_Strict):
    id: int = Field(ge=1)
    key: Name
    name_zh: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    clauses: tuple[Clause, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _clauses_belong(self) -> Standard:
        wrong = [c.id for c in self.clauses if c.standard_id != self.id]
        if wrong:
            raise ValueError(f"standard {self.id} lists clauses of another standard: {wrong}")
        return self


class EvidenceClass(_Strict):
    name: Name
    name_zh: str = Field(min_length=1)
    role: Role
    clauses: tuple[str, ...] = Field(description="Clause ids this class is evidence for.")
    data_status: DataStatus
    coco_name: str | None = Field(
        default=None,
        description="The class's COCO name, so a plain COCO detector's output maps onto it.",
    )
    supplied_by: str | None = Field(
        default=None,
        min_length=1,
        description="The model of the default detector set (models/default.yaml) that detects "
        "this class at run time; None: no model supplies it yet. data_status is about training "
        "data, this about what runs.",
    )


class Taxonomy(_Strict):
    version: int = Field(ge=1)
    standards: tuple[Standard, ...] = Field(min_length=6, max_length=6)
    classes: tuple[EvidenceClass, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Taxonomy:
        if sorted(s.id for s in self.standards) != [1, 2, 3, 4, 5, 6]:
            raise ValueError("standards must be numbered 1 to 6, once each")
        _no_duplicates("class name", [c.name for c in self.classes])
        _no_duplicates("clause id", list(self.clause_ids))
        for cls in self.classes:
            unknown = sorted(set(cls.clauses) - set(self.clause_ids))
            if unknown:
                raise ValueError(f"class '{cls.name}' refers to unknown clauses {unknown}")
        return self

    @property
    def class_names(self) -> tuple[str, ...]:
        """All class names in canonical order (dataset class ids follow it)."""
        return tuple(c.name for c in self.classes)

    @property
    def clause_ids(self) -> tuple[str, ...]:
        """All clause ids, standard by standard, in the file's order."""
        return tuple(c.id for s in self.standards for c in s.clauses)

    def cls(self, name: str) -> EvidenceClass:
        for c in self.classes:
            if c.name == name:
                return c
        raise KeyError(f"'{name}' is not a taxonomy class; known: {', '.join(self.class_names)}")

    def standard(self, standard_id: int) -> Standard:
        for s in self.standards:
            if s.id == standard_id:
                return s
        known = ", ".join(str(s.id) for s in self.standards)
        raise KeyError(f"no standard {standard_id}; the taxonomy has {known}")

    def clause(self, clause_id: str) -> Clause:
        for s in self.standards:
            for c in s.clauses:
                if c.id == clause_id:
                    return c
        raise KeyError(f"no clause '{clause_id}'")

    def classes_for(self, clause_id: str, *roles: Role) -> tuple[str, ...]:
        """Names of classes that are evidence for a clause, optionally only of the given roles."""
        self.clause(clause_id)
        return tuple(
            c.name
            for c in self.classes
            if clause_id in c.clauses and (not roles or c.role in roles)
        )

    def with_status(self, *statuses: DataStatus) -> tuple[str, ...]:
        return tuple(c.name for c in self.classes if c.data_status in statuses)

    def coco_aliases(self) -> dict[str, str]:
        """COCO class name → taxonomy class name, for models that speak COCO."""
        return {c.coco_name: c.name for c in self.classes if c.coco_name is not None}


def _no_duplicates(what: str, items: list[str]) -> None:
    dupes = sorted(item for item, n in Counter(items).items() if n > 1)
    if dupes:
        raise ValueError(f"duplicate {what}: {dupes}")


def load_taxonomy(path: str | os.PathLike[str] | None = None) -> Taxonomy:
    """Load and validate a taxonomy file; errors name the file and the offending field."""
    file = Path(path or os.environ.get("SHIRONG_TAXONOMY") or DEFAULT_TAXONOMY)
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TaxonomyError(f"cannot read taxonomy file {file}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise TaxonomyError(f"taxonomy file {file} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise TaxonomyError(f"taxonomy file {file} must hold a mapping, not {type(raw).__name__}")
    try:
        return Taxonomy.model_validate(raw)
    except ValidationError as exc:
        problems = validation_message(exc, layout=LISTED)
        raise TaxonomyError(f"invalid taxonomy file {file}:\n{problems}") from exc


@lru_cache(maxsize=1)
def default_taxonomy() -> Taxonomy:
    """The project's taxonomy, loaded once per process."""
    return load_taxonomy()
