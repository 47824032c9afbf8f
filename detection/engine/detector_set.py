"""A detector set: several models run on every frame, merged into one ``Detections``.

No single released model covers the taxonomy (the disorder model has unlearnt dogs, tables and
umbrellas; a COCO model knows those but not graffiti), so the default detection is a set declared
in one file (``models/default.yaml``): each model, the taxonomy classes it supplies with a
confidence floor each, and the rules that settle conflicts between them. The set satisfies the
same ``Detector`` protocol as one model, so the pipeline and the service take it unchanged.

Everything is checked when the set is opened, so a bad file fails at start-up, naming the file
and the class: a missing model, a class the taxonomy lacks or its model does not produce, a class
claimed by two models without a ``merge`` rule, a rule naming a class the set does not supply.
Conflicts are settled by the declared rules alone; no code here names a class.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from detection.core import Detections, box_coverage, box_iou
from detection.engine.onnx import OnnxDetector, Prepared
from detection.errors import LISTED, ConfigError, ModelError, ShirongError, validation_message
from detection.taxonomy import Taxonomy, default_taxonomy

#: Opens one model of a set: (path, options) → a detector (``load_detector`` in practice).
ModelOpener = Callable[..., Any]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SuppliedClass(_Strict):
    floor: float = Field(
        ge=0.0, le=1.0, description="Boxes of this class below this confidence are dropped."
    )
    model_class: str | None = Field(
        default=None,
        min_length=1,
        description="The model's own name for the class where it differs (COCO 'dining table').",
    )


class SetModel(_Strict):
    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9._-]*$", description="Tag of the boxes this model produces."
    )
    path: Path = Field(description="The ONNX model, relative to the set file's folder.")
    classes: dict[str, SuppliedClass] = Field(
        min_length=1, description="Taxonomy class → its floor (and the model's name for it)."
    )


class Suppress(_Strict):
    class_: str = Field(alias="class", description="The class whose boxes may be dropped.")
    inside: tuple[str, ...] = Field(min_length=1, description="Classes that explain it away.")
    min_overlap: float = Field(
        gt=0.0, le=1.0, description="Share of the box's area inside one of them that drops it."
    )


class Merge(_Strict):
    class_: str = Field(alias="class", description="A class two or more models supply.")
    iou: float = Field(
        gt=0.0, le=1.0, description="Boxes of different models overlapping this much are one."
    )


class ConflictRule(_Strict):
    suppress: Suppress | None = None
    merge: Merge | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ConflictRule:
        if (self.suppress is None) == (self.merge is None):
            raise ValueError("a conflict rule is exactly one of suppress or merge")
        return self


class SetFile(_Strict):
    models: tuple[SetModel, ...] = Field(min_length=1, description="Every model runs per frame.")
    conflicts: tuple[ConflictRule, ...] = Field(
        default=(), description="The only ways boxes of one class may remove another's."
    )

    @model_validator(mode="after")
    def _unique_names(self) -> SetFile:
        names = [m.name for m in self.models]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"model names must be unique: {twice}")
        return self


def read_set_file(path: Path, taxonomy: Taxonomy | None = None) -> SetFile:
    """Parse and check a set file without opening its models (the API process checks the files
    exist; the workers open them)."""
    if not path.is_file():
        raise ModelError(f"detector set file not found: {path}")
    spec = _parsed(path, path.stat().st_mtime_ns)
    _check_classes(path, spec, taxonomy or default_taxonomy())
    for model in spec.models:
        if not (path.parent / model.path).is_file():
            raise ModelError(f"{path}: model '{model.name}' names a missing file {model.path}")
    return spec


@functools.lru_cache(maxsize=8)
def _parsed(path: Path, _mtime_ns: int) -> SetFile:
    """The file parsed once per version of it (keyed by its modification time): the API process
    checks the set before every photo it accepts, and a frozen ``SetFile`` is safe to share."""
    try:
        raw = yaml.safe_load(path.read_text("utf-8"))
        return SetFile.model_validate(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    except ValidationError as exc:
        raise ConfigError(f"{path}:\n{validation_message(exc, layout=LISTED)}") from exc


def _check_classes(path: Path, spec: SetFile, taxonomy: Taxonomy) -> None:
    known = set(taxonomy.class_names)
    claims: dict[str, list[str]] = {}
    for model in spec.models:
        for name in model.classes:
            if name not in known:
                raise ConfigError(
                    f"{path}: model '{model.name}' supplies '{name}', not a taxonomy class"
                )
            claims.setdefault(name, []).append(model.name)
    merged = {r.merge.class_ for r in spec.conflicts if r.merge is not None}
    for name, models in claims.items():
        if len(models) > 1 and name not in merged:
            raise ConfigError(
                f"{path}: class '{name}' is claimed by {', '.join(models)} with no merge rule"
            )
    for rule in spec.conflicts:
        named = (
            [rule.suppress.class_, *rule.suppress.inside]
            if rule.suppress is not None
            else [rule.merge.class_]  # type: ignore[union-attr]
        )
        for name in named:
            if name not in claims:
                raise ConfigError(
                    f"{path}: a conflict rule names '{name}', which no model supplies"
                )


class DetectorSet:
    """Every model of a set file on each frame, as one detector.

    Output ``names`` are the supplied classes in the taxonomy's order; each box carries the
    ``model`` tag of the set entry that produced it.
    """

    def __init__(
        self,
        path: Path,
        open_model: ModelOpener,
        taxonomy: Taxonomy | None = None,
        **opts: Any,
    ) -> None:
        taxonomy = taxonomy or default_taxonomy()
        self.path = path
        self.spec = read_set_file(path, taxonomy)
        supplied = {c for m in self.spec.models for c in m.classes}
        self.names: tuple[str, ...] = tuple(n for n in taxonomy.class_names if n in supplied)
        self._models: list[tuple[SetModel, Any, npt.NDArray[np.int64], npt.NDArray[np.float32]]]
        self._models = []
        for model in self.spec.models:
            try:
                detector = open_model(path.parent / model.path, **opts)
            except ShirongError as exc:
                raise type(exc)(f"{path}: model '{model.name}': {exc}") from exc
            self._models.append((model, detector, *self._class_map(model, detector.names)))

    def _class_map(
        self, model: SetModel, model_names: Sequence[str]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Per model class id: the set's class id (-1: not supplied) and its floor."""
        to_set = np.full(len(model_names), -1, np.int64)
        floors = np.ones(len(model_names), np.float32)
        for name, supplied in model.classes.items():
            own = supplied.model_class or name
            if own not in model_names:
                raise ConfigError(
                    f"{self.path}: model '{model.name}' ({model.path}) has no class '{own}' "
                    f"for '{name}'; its classes: {', '.join(model_names)}"
                )
            index = model_names.index(own)
            to_set[index] = self.names.index(name)
            floors[index] = supplied.floor
        return to_set, floors

    def __repr__(self) -> str:
        return f"DetectorSet({str(self.path)!r}, models={[m.name for m in self.spec.models]})"

    def __call__(self, image: npt.NDArray[np.uint8]) -> Detections:
        return self.predict([image])[0]

    def predict(self, images: Sequence[npt.NDArray[np.uint8]]) -> list[Detections]:
        prepared: dict[tuple[object, ...], list[Prepared]] = {}
        per_model = []
        for model, det, to_set, floors in self._models:
            if isinstance(det, OnnxDetector):  # same input plan: letterbox the frame once
                if det.input_plan not in prepared:
                    prepared[det.input_plan] = det.prepare(images)
                found = det.infer(prepared[det.input_plan])
            else:
                found = det.predict(images)
            per_model.append((model, found, to_set, floors))
        out = []
        for i in range(len(images)):
            parts = [
                self._adopt(model, found[i], to_set, floors)
                for model, found, to_set, floors in per_model
            ]
            out.append(resolve_conflicts(Detections.merge(*parts), self.spec.conflicts))
        return out

    def _adopt(
        self,
        model: SetModel,
        found: Detections,
        to_set: npt.NDArray[np.int64],
        floors: npt.NDArray[np.float32],
    ) -> Detections:
        """One model's boxes of supplied classes above their floors, renamed into the set."""
        keep = (to_set[found.class_id] >= 0) & (found.confidence >= floors[found.class_id])
        kept = found[keep]
        return Detections.from_arrays(
            kept.xyxy,
            kept.confidence,
            to_set[kept.class_id],
            self.names,
            model=[model.name] * len(kept),
        )


def resolve_conflicts(found: Detections, rules: Sequence[ConflictRule]) -> Detections:
    """Apply the declared rules, in order: ``merge`` keeps the more confident of two boxes of the
    class from different models overlapping by ``iou``; ``suppress`` drops a box of the class
    lying ``min_overlap`` inside a box of one of the ``inside`` classes."""
    for rule in rules:
        names = np.asarray(found.class_name, object)
        drop = np.zeros(len(found), bool)
        if rule.merge is not None:
            idx = np.flatnonzero(names == rule.merge.class_)
            tags = np.asarray(found.model or [""] * len(found), object)[idx]
            overlap = box_iou(found.xyxy[idx], found.xyxy[idx])
            conf = found.confidence[idx]
            for a in range(len(idx)):
                rivals = (tags != tags[a]) & (overlap[a] >= rule.merge.iou)
                beaten = rivals & ((conf > conf[a]) | ((conf == conf[a]) & (idx < idx[a])))
                drop[idx[a]] = bool(beaten.any())
        elif rule.suppress is not None:
            idx = np.flatnonzero(names == rule.suppress.class_)
            covers = np.flatnonzero(np.isin(names, rule.suppress.inside))
            if len(idx) and len(covers):
                coverage = box_coverage(found.xyxy[idx], found.xyxy[covers])
                drop[idx] = coverage.max(axis=1) >= rule.suppress.min_overlap
        found = found[~drop]
    return found
