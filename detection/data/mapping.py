"""Class mapping: source class name → taxonomy class name (or ``null`` to drop the class)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from detection.data.samples import ImportResult, Sample
from detection.errors import ConfigError
from detection.taxonomy import Taxonomy


@dataclass(frozen=True)
class ClassMapping:
    """Source name → taxonomy name; names absent from the mapping are dropped and counted."""

    table: Mapping[str, str | None]
    origin: str = "<inline>"

    @classmethod
    def load(cls, file: Path, taxonomy: Taxonomy) -> ClassMapping:
        try:
            raw = yaml.safe_load(file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read class-mapping file {file}: {exc}") from exc
        if not isinstance(raw, dict):
            raise ConfigError(f"class-mapping file {file} must hold 'source: taxonomy' pairs")
        return cls.checked(raw, taxonomy, str(file))

    @classmethod
    def checked(cls, table: Mapping[str, object], taxonomy: Taxonomy, origin: str) -> ClassMapping:
        """Validate that every target is a taxonomy class; the error names the file and name."""
        clean: dict[str, str | None] = {}
        for src, dst in table.items():
            if dst is not None and (not isinstance(dst, str) or dst not in taxonomy.class_names):
                raise ConfigError(
                    f"{origin}: '{src}' maps to '{dst}', which is not a taxonomy class "
                    f"(known: {', '.join(taxonomy.class_names)})"
                )
            clean[str(src)] = dst
        return cls(clean, origin)

    @classmethod
    def identity(cls, taxonomy: Taxonomy) -> ClassMapping:
        return cls({n: n for n in taxonomy.class_names}, "<taxonomy>")


@dataclass
class MappingStats:
    kept: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)


def apply_mapping(result: ImportResult, mapping: ClassMapping) -> MappingStats:
    """Relabel every box in place; boxes of unmapped or ``null``-mapped classes are dropped."""
    stats = MappingStats()
    mapped: list[Sample] = []
    for sample in result.samples:
        boxes = []
        for box in sample.boxes:
            target = mapping.table.get(box.label)
            if target is None:
                stats.dropped[box.label] += 1
                continue
            stats.kept[target] += 1
            boxes.append(box.relabel(target))
        mapped.append(sample.with_boxes(boxes))
    result.samples = mapped
    return stats
