"""Dataset recipes (``datasets/*.yaml``): sources, class mappings, teacher, dedup, split, output.

``build_recipe`` is deterministic: the same inputs give the same split, labels and manifest digest.
Relative paths in a recipe are resolved against the repository root.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from detection.data.checks import ImageInfo, validate
from detection.data.dedup import drop_exact_duplicates, near_duplicate_groups
from detection.data.importers import IMPORTERS, Format
from detection.data.mapping import ClassMapping, apply_mapping
from detection.data.samples import ImportResult, Issue, Sample, Severity, format_report
from detection.data.split import SplitFractions, group_split
from detection.data.teacher import (
    FLOOR_CONF,
    RawBox,
    TeacherCache,
    cache_key,
    dedup_same_class,
    merge_teacher,
    run_teacher,
    teacher_boxes,
)
from detection.data.teachers import TeacherSpec, check_names
from detection.data.teachers import check_bar as check_teacher_bar
from detection.data.writer import write_yolo_dataset
from detection.errors import LISTED, ConfigError, ModelError, validation_message
from detection.resources import REPO_ROOT
from detection.taxonomy import Taxonomy, default_taxonomy, load_taxonomy

log = logging.getLogger(__name__)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceSpec(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$", description="Short source id (file prefix).")
    path: Path = Field(description="Dataset folder or annotation file (repo-relative or absolute).")
    format: Format = Field("yolo", description="Annotation format of the source.")
    classes: dict[str, str | None] | None = Field(
        None, description="Source class → taxonomy class (null drops); unlisted classes drop."
    )
    mapping: Path | None = Field(
        None, description="A class-mapping YAML file instead of 'classes'."
    )
    images: Path | None = Field(None, description="Image folder for single-file formats.")
    teacher: bool = Field(True, description="Add teacher pseudo-labels to this source's images.")
    limit: int | None = Field(None, ge=1, description="Use only the first N images (slices).")


class Recipe(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9._-]+$", description="Dataset name, e.g. 'v1'.")
    out: Path = Field(description="Output folder (repo-relative or absolute).")
    seed: int = Field(0, ge=0, description="Seed of the group split.")
    split: SplitFractions = Field(default_factory=SplitFractions, description="Split shares.")
    near_duplicate_bits: int = Field(
        6, ge=0, le=32, description="dHash Hamming distance at or below which images are grouped."
    )
    taxonomy: Path | None = Field(
        None, description="Taxonomy file; default datasets/taxonomy.yaml."
    )
    teachers: list[TeacherSpec] = Field(
        default_factory=list, description="Teacher models for pseudo-labels, first one wins."
    )
    min_teacher_precision: float = Field(
        0.6, ge=0.0, le=1.0, description="Measured precision a teacher class needs to be used."
    )
    min_teacher_boxes: int = Field(
        10, ge=1, description="Boxes a used teacher class's precision must be measured on."
    )
    teacher_dedup_iou: float = Field(
        0.5, gt=0.0, le=1.0, description="A teacher box overlapping a human box this much drops."
    )
    sources: list[SourceSpec] = Field(min_length=1, description="Labelled sources.")
    reviews: list[Path] = Field(
        default_factory=list,
        description="Reviewer-correction folders (YOLO, taxonomy names in data.yaml); an image "
        "also present in a source takes the reviewer's labels.",
    )


def resolve(path: Path) -> Path:
    return path if path.is_absolute() else (REPO_ROOT / path).resolve()


def load_recipe(file: Path, check_bar: bool = True) -> Recipe:
    """A validated recipe; ``check_bar=False`` only to measure teachers before deciding on them."""
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
        recipe = Recipe.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read recipe {file}: {exc}") from exc
    except ValidationError as exc:
        problems = validation_message(exc, layout=LISTED)
        raise ConfigError(f"invalid recipe {file}:\n{problems}") from exc
    if check_bar:
        check_teacher_bar(
            recipe.teachers, recipe.min_teacher_precision, recipe.min_teacher_boxes, file
        )
    return recipe


def _mapping(spec: SourceSpec, taxonomy: Taxonomy, recipe_file: Path) -> ClassMapping:
    if spec.mapping is not None:
        return ClassMapping.load(resolve(spec.mapping), taxonomy)
    if spec.classes is None:
        return ClassMapping.identity(taxonomy)
    return ClassMapping.checked(spec.classes, taxonomy, f"{recipe_file} (source '{spec.name}')")


def gather(
    recipe: Recipe, recipe_file: Path, taxonomy: Taxonomy
) -> tuple[ImportResult, dict[str, Any]]:
    """Import reviews first (so their labels win exact-duplicate dedup), then every source."""
    result, dropped = ImportResult(), Counter[str]()
    reviews = [
        SourceSpec(name=f"review{i}", path=p, teacher=False) for i, p in enumerate(recipe.reviews)
    ]
    for spec in [*reviews, *recipe.sources]:
        mapping = _mapping(spec, taxonomy, recipe_file)
        images = resolve(spec.images) if spec.images else None
        part = IMPORTERS[spec.format](resolve(spec.path), spec.name, images)
        if spec.limit:
            part.samples = part.samples[: spec.limit]
        if part.samples and not any(s.boxes for s in part.samples):
            msg = f"source '{spec.name}': all {len(part.samples)} label files are empty"
            part.issues.append(Issue(resolve(spec.path), msg, Severity.WARNING))
        stats = apply_mapping(part, mapping)
        dropped.update({f"{spec.name}:{k}": v for k, v in stats.dropped.items()})
        log.info("%s: %d images, kept %s", spec.name, len(part.samples), dict(stats.kept))
        result.extend(part)
    return result, {"dropped_classes": dict(sorted(dropped.items()))}


def recipe_taxonomy(recipe: Recipe) -> Taxonomy:
    return load_taxonomy(resolve(recipe.taxonomy)) if recipe.taxonomy else default_taxonomy()


def collect(
    recipe: Recipe, recipe_file: Path, taxonomy: Taxonomy
) -> tuple[ImportResult, dict[Path, ImageInfo], int, dict[str, Any]]:
    """Every source imported, validated and exact-deduplicated: what teachers run on."""
    result, notes = gather(recipe, recipe_file, taxonomy)
    infos = validate(result, frozenset(taxonomy.class_names))
    exact = drop_exact_duplicates(result, infos)
    return result, infos, exact, notes


def build_recipe(recipe_file: Path, cache_dir: Path | None = None) -> dict[str, Any]:
    """Build the dataset a recipe describes; returns the manifest (also written as JSON)."""
    recipe = load_recipe(recipe_file)
    taxonomy = recipe_taxonomy(recipe)
    result, infos, exact, notes = collect(recipe, recipe_file, taxonomy)
    if recipe.teachers:
        raw = teach(recipe, result.samples, infos, taxonomy, cache_dir)
        result.samples = _with_teachers(recipe, result.samples, raw, taxonomy, recipe_file)
    keys = [infos[s.image].sha256 for s in result.samples]
    groups = near_duplicate_groups(
        [infos[s.image].dhash for s in result.samples], recipe.near_duplicate_bits
    )
    splits = group_split(
        keys, groups, [s.source for s in result.samples], recipe.split, recipe.seed
    )
    out = resolve(recipe.out)
    manifest = write_yolo_dataset(
        out,
        result.samples,
        splits,
        infos,
        taxonomy.class_names,
        {
            "name": recipe.name,
            "recipe": json.loads(recipe.model_dump_json()),
            "recipe_sha256": hashlib.sha256(recipe_file.read_bytes()).hexdigest(),
            "exact_duplicates_dropped": exact,
            "near_duplicate_groups": len(set(groups)),
            "issues": len(result.issues),
            **notes,
        },
        extra_files={"report.txt": format_report(result.issues, limit=10_000) + "\n"},
    )
    return manifest


def teach(
    recipe: Recipe,
    samples: list[Sample],
    infos: dict[Path, ImageInfo],
    taxonomy: Taxonomy,
    cache_dir: Path | None,
) -> dict[str, dict[Path, list[RawBox]]]:
    """Raw detections of every teacher on the images of sources with ``teacher: true``."""
    from detection.engine import OnnxDetector

    wanted = {s.name for s in recipe.sources if s.teacher}
    todo = [s for s in samples if s.source in wanted]
    out = {}
    for spec in recipe.teachers:
        model = resolve(spec.model)
        if not model.is_file():
            raise ConfigError(f"teacher '{spec.name}': model file not found: {model}")
        try:
            detector = OnnxDetector(model, conf=FLOOR_CONF, iou=spec.iou, imgsz=spec.imgsz)
        except ModelError as exc:
            raise ConfigError(f"teacher '{spec.name}' cannot be used: {exc}") from exc
        check_names(spec, detector.names, taxonomy)
        cache = TeacherCache(cache_dir, cache_key(model, spec.iou, spec.imgsz))
        out[spec.name] = run_teacher(todo, infos, detector.predict, cache, spec.name)
    return out


def human_classes(recipe: Recipe, taxonomy: Taxonomy, recipe_file: Path) -> dict[str, set[str]]:
    """Taxonomy classes each source labels by hand (a teacher never adds those there)."""
    return {
        s.name: {v for v in _mapping(s, taxonomy, recipe_file).table.values() if v}
        for s in recipe.sources
    }


def _with_teachers(
    recipe: Recipe,
    samples: list[Sample],
    raw: dict[str, dict[Path, list[RawBox]]],
    taxonomy: Taxonomy,
    recipe_file: Path,
) -> list[Sample]:
    rules = {spec.name: spec.rules() for spec in recipe.teachers}
    human = human_classes(recipe, taxonomy, recipe_file)
    out = []
    for sample in samples:
        boxes = [
            box
            for name, per_image in raw.items()
            for box in teacher_boxes(per_image.get(sample.image, []), rules[name])
            if box.label not in human.get(sample.source, set())
        ]
        merged = merge_teacher(sample.boxes, dedup_same_class(boxes, 0.5), recipe.teacher_dedup_iou)
        out.append(Sample(sample.image, sample.boxes, sample.source, tuple(merged)))
    return out
