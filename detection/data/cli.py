"""``shirong data ...``: import, merge, dedup, split, validate, stats and build datasets."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from detection.data.checks import validate
from detection.data.dedup import drop_exact_duplicates, near_duplicate_groups
from detection.data.importers import IMPORTERS
from detection.data.mapping import ClassMapping, apply_mapping
from detection.data.recipe import build_recipe
from detection.data.samples import ImportResult, format_report
from detection.data.split import SplitFractions, group_split
from detection.data.stats import compute_stats, plot_stats, write_stats_json
from detection.data.writer import write_yolo_dataset
from detection.data.yolo import load_dataset
from detection.taxonomy import default_taxonomy

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    data = sub.add_parser("data", help="dataset tooling (import, validate, build, ...)")
    cmds = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")

    p = cmds.add_parser("import", help="convert a labelled source into a YOLO folder")
    p.add_argument("format", choices=sorted(IMPORTERS))
    p.add_argument("path", type=Path, help="source folder or annotation file")
    p.add_argument("--out", type=Path, required=True, help="output YOLO folder")
    p.add_argument("--source", default="import", help="source id used as file-name prefix")
    p.add_argument("--images", type=Path, help="image folder (single-file formats)")
    p.add_argument("--mapping", type=Path, help="class-mapping YAML (source → taxonomy name)")
    p.set_defaults(func=_import)

    p = cmds.add_parser("merge", help="merge YOLO folders (taxonomy names) into one")
    p.add_argument("folders", type=Path, nargs="+")
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=_merge)

    p = cmds.add_parser("dedup", help="report exact and near-duplicate images")
    p.add_argument("folder", type=Path)
    p.add_argument("--bits", type=int, default=6, help="dHash Hamming threshold")
    p.set_defaults(func=_dedup)

    p = cmds.add_parser("split", help="group-split a YOLO folder into train/val/test")
    p.add_argument("folder", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bits", type=int, default=6, help="dHash Hamming threshold for groups")
    p.add_argument("--fractions", type=float, nargs=3, default=(0.8, 0.1, 0.1))
    p.set_defaults(func=_split)

    p = cmds.add_parser("validate", help="check images and labels; print a report")
    p.add_argument("folder", type=Path)
    p.set_defaults(func=_validate)

    p = cmds.add_parser("stats", help="per-class counts, box sizes, images per source (+ PNG)")
    p.add_argument("folder", type=Path)
    p.add_argument("--plot", type=Path, help="PNG path (default FOLDER/stats.png)")
    p.set_defaults(func=_stats)

    p = cmds.add_parser("build", help="build the dataset a recipe describes (deterministic)")
    p.add_argument("recipe", type=Path)
    p.add_argument("--cache", type=Path, default=Path("data/.cache"), help="teacher cache folder")
    p.set_defaults(func=_build)

    p = cmds.add_parser(
        "teachers", help="measure a recipe's teacher classes (precision, galleries)"
    )
    p.add_argument("recipe", type=Path)
    p.add_argument("--cache", type=Path, default=Path("data/.cache"), help="teacher cache folder")
    p.add_argument("--gallery", type=Path, help="write a 50-crop sheet per class without truth")
    p.add_argument("--all-galleries", action="store_true", help="a sheet for every class")
    p.set_defaults(func=_teachers)


def _write_flat(result: ImportResult, out: Path) -> None:
    infos = validate(result, frozenset(default_taxonomy().class_names))
    drop_exact_duplicates(result, infos)
    write_yolo_dataset(
        out, result.samples, [""] * len(result.samples), infos, default_taxonomy().class_names, {}
    )
    print(format_report(result.issues))
    print(f"wrote {len(result.samples)} images to {out}")


def _import(args: argparse.Namespace) -> int:
    taxonomy = default_taxonomy()
    result = IMPORTERS[args.format](args.path, args.source, args.images)
    mapping = (
        ClassMapping.load(args.mapping, taxonomy)
        if args.mapping
        else ClassMapping.identity(taxonomy)
    )
    stats = apply_mapping(result, mapping)
    if stats.dropped:
        print(f"dropped unmapped classes: {dict(stats.dropped)}")
    _write_flat(result, args.out)
    return 0


def _merge(args: argparse.Namespace) -> int:
    result = ImportResult()
    for folder in args.folders:
        result.extend(load_dataset(folder))
    _write_flat(result, args.out)
    return 0


def _dedup(args: argparse.Namespace) -> int:
    result = load_dataset(args.folder)
    infos = validate(result, frozenset(default_taxonomy().class_names))
    exact = drop_exact_duplicates(result, infos)
    groups = near_duplicate_groups([infos[s.image].dhash for s in result.samples], args.bits)
    members: dict[int, list[Path]] = {}
    for sample, g in zip(result.samples, groups, strict=True):
        members.setdefault(g, []).append(sample.image)
    near = [m for m in members.values() if len(m) > 1]
    print(f"{exact} exact duplicate(s); {len(near)} near-duplicate group(s) (<= {args.bits} bits)")
    for group in near:
        print("  " + "  ~  ".join(str(p) for p in group))
    return 0


def _split(args: argparse.Namespace) -> int:
    fractions = SplitFractions(
        train=args.fractions[0], val=args.fractions[1], test=args.fractions[2]
    )
    result = load_dataset(args.folder)
    infos = validate(result, frozenset(default_taxonomy().class_names))
    drop_exact_duplicates(result, infos)
    keys = [infos[s.image].sha256 for s in result.samples]
    groups = near_duplicate_groups([infos[s.image].dhash for s in result.samples], args.bits)
    splits = group_split(keys, groups, [s.source for s in result.samples], fractions, args.seed)
    manifest = write_yolo_dataset(
        args.out, result.samples, splits, infos, default_taxonomy().class_names, {"seed": args.seed}
    )
    print(f"wrote {args.out}: {manifest['images']}")
    return 0


def _validate(args: argparse.Namespace) -> int:
    result = load_dataset(args.folder)
    validate(result, frozenset(default_taxonomy().class_names))
    print(format_report(result.issues, limit=10_000))
    print(f"{len(result.samples)} usable image(s)")
    return 1 if result.issues else 0


def _stats(args: argparse.Namespace) -> int:
    stats = compute_stats(load_dataset(args.folder).samples)
    print(json.dumps(stats.to_dict(), indent=1))
    png = plot_stats(stats, args.plot or args.folder / "stats.png", f"dataset {args.folder.name}")
    write_stats_json(stats, png.with_suffix(".json"))
    print(f"plot: {png}")
    return 0


def _build(args: argparse.Namespace) -> int:
    manifest = build_recipe(args.recipe, cache_dir=args.cache)
    out = manifest["recipe"]["out"]
    print(f"built {manifest['name']} in {out}: images {manifest['images']}")
    print(
        f"labels digest {manifest['labels_digest']}; {manifest['issues']} issue(s), see report.txt"
    )
    return 0


def _teachers(args: argparse.Namespace) -> int:
    from detection.data.recipe import load_recipe
    from detection.data.teacher_report import gallery, markdown, measure

    rows, raw, _ = measure(args.recipe, args.cache)
    print(markdown(rows, load_recipe(args.recipe, check_bar=False)))
    for row in rows:
        if args.gallery and (args.all_galleries or row.precision is None):
            sheet = args.gallery / f"{row.teacher}-{row.name.replace(' ', '_')}.png"
            n = gallery(raw[row.teacher], row.name, row.conf, sheet)
            print(f"gallery {sheet}: {n} crops" if n else f"gallery {row.name}: no boxes")
        if row.sweep:
            cells = ", ".join(
                f"{c}: {'—' if p is None else f'{p:.2f}'} ({n})" for c, p, n in row.sweep
            )
            print(f"{row.teacher} {row.name} sweep {cells}")
    return 0
