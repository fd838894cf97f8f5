"""The generalisation benchmark's data: cross-validation folds of the alphamatting photos,
the variants (recipes, ablations, overrides) and their training and validation sets, built
from symlinked subsets of ../shared/data (benchmarks/generalization.py)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from synth.build import build
from synth.execution import SerialExecutor
from synth.recipe import load_recipe
from variants import parse_variant

ROOT = Path(__file__).resolve().parents[1]

PHOTOS = [f"GT{i:02d}" for i in range(1, 19)]
#: Cross-validation: fold k tests on GT{6k+1}-GT{6k+6} and trains on the other twelve photos.
FOLDS = 3
DEFAULT_FOLD = 2  # GT13-GT18 held out: the split the pinned detector and `synth tune` keep clean


def fold_photos(fold: int) -> tuple[list[str], list[str]]:
    """(training, test) alphamatting stems of cross-validation fold ``fold`` (0, 1 or 2)."""
    if not 0 <= fold < FOLDS:
        raise ValueError(f"fold must be in 0..{FOLDS - 1}, got {fold}")
    test = PHOTOS[6 * fold:6 * fold + 6]
    return [p for p in PHOTOS if p not in test], test


TRAIN_FG, TEST_FG = fold_photos(DEFAULT_FOLD)

# Overrides on top of recipes/portrait.yaml for one-step-off ablations.
ABLATIONS: dict[str, list[str]] = {
    "portrait-noharm": ["harmonization.p=0"],
    "portrait-nonoise": ["realism.noise.p=0"],
    "portrait-nodefocus": ["realism.defocus.p=0", "realism.sharpness_match_p=0"],
    "portrait-halfdefocus": ["realism.defocus.p=0.45"],  # half of portrait.yaml's 0.9
    "portrait-lightdefocus": ["realism.defocus.radius=[2.0,8.0]"],  # portrait.yaml's: [6, 24]
    "portrait-nores": ["realism.resolution_match=false"],
    "portrait-nojpeg": ["realism.jpeg.p=0"],
    "portrait-photoF": ["composition.fg_estimation=photo"],
    "portrait-random-bg": ["composition.background_choice.mode=random"],
    "portrait-nobackdrop": ["realism.backdrop.p=0"],
    "portrait-nocomp": ["realism.noise.compensate=false"],
    "portrait-stretch": ["composition.background.fit=stretch"],
    "portrait-cutanywhere": ["composition.placement.cut_edges=anywhere"],
}


# --------------------------------------------------------------------------- data


def _link_subset(src: Path, dst: Path, stems: list[str] | None, pattern: str = "*") -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for p in sorted(src.glob(pattern)):
        if stems is None or p.stem in stems:
            link = dst / p.name
            if not link.exists():
                link.symlink_to(p.resolve())
    return dst


def _fold_dir(folder: Path, fold: int) -> Path:
    """Where a fold keeps its own sources and datasets (the default fold: the folder itself)."""
    return folder if fold == DEFAULT_FOLD else folder / f"fold{fold}"


def prepare_sources(shared: Path, work: Path, fold: int = DEFAULT_FOLD) -> dict[str, Path]:
    """Symlinked subsets: a fold's train/test foregrounds and the train/val backgrounds (never copied)."""
    am, bgs = shared / "alphamatting", shared / "backgrounds"
    all_bg = sorted(p.stem for p in bgs.glob("*.jpg"))
    train_fg, test_fg = fold_photos(fold)
    fg = _fold_dir(work / "src", fold)
    return {
        "fg_train_image": _link_subset(am / "image", fg / "train" / "image", train_fg),
        "fg_train_alpha": _link_subset(am / "alpha", fg / "train" / "alpha", train_fg),
        "fg_test_image": _link_subset(am / "image", fg / "test" / "image", test_fg),
        "fg_test_alpha": _link_subset(am / "alpha", fg / "test" / "alpha", test_fg),
        "bg_train": _link_subset(bgs, work / "src" / "bg_train", all_bg[:50]),
        "bg_val": _link_subset(bgs, work / "src" / "bg_val", all_bg[50:]),
    }


#: Variants that are a recipe of their own (besides naive and portrait).
RECIPES = {"portrait-guided": ROOT / "recipes" / "portrait_guided.yaml"}


def variant_name(variant: str) -> str:
    """``NAME=RECIPE`` or ``NAME=OVERRIDES`` -> NAME; other variants are their own name."""
    return variant.partition("=")[0]


def variant_form(variant: str) -> str:
    """``"overrides"`` (``NAME=path.to.field=value[,...]``), ``"file"`` (``NAME=RECIPE``) or ``"name"``."""
    rest = variant.partition("=")[2]
    return "overrides" if "=" in rest else "file" if rest else "name"


def variant_overrides(variant: str) -> list[str]:
    """The recipe overrides a variant applies to its recipe: those of ``NAME=path.to.field=value[,...]``
    (on portrait.yaml), an ablation's (:data:`ABLATIONS`), else none."""
    form = variant_form(variant)
    if form == "overrides":
        return parse_variant(variant)[1]
    return ABLATIONS.get(variant, []) if form == "name" else []


def _recipe_path(variant: str) -> Path:
    name, _, path = variant.partition("=")
    if variant_form(variant) == "overrides":
        return ROOT / "recipes" / "portrait.yaml"
    if path:
        if not Path(path).is_file():
            raise SystemExit(f"variant {name}: recipe {path} not found")
        return Path(path).resolve()
    if name in RECIPES:
        return RECIPES[name]
    base = "naive" if name == "naive" else "portrait"
    if name not in ("naive", "portrait") and name not in ABLATIONS:
        raise SystemExit(f"unknown variant {name!r}; known: naive, portrait, {', '.join([*RECIPES, *ABLATIONS])} "
                         "or NAME=RECIPE or NAME=path.to.field=value[,...]")
    return ROOT / "recipes" / f"{base}.yaml"


def _recipe_for(variant: str, fg_image: Path, fg_alpha: Path, bg: Path, samples: int, canvas: int, seed: int):
    extra = variant_overrides(variant)
    overrides = [
        f"foregrounds.0.image_dir={fg_image}", f"foregrounds.0.alpha_dir={fg_alpha}", f"backgrounds.0.path={bg}",
        "background_split=shared", f"splits=[{{name: train, fraction: 1.0, samples: {samples}}}]",
        f"canvas.height={canvas}", f"canvas.width={canvas}", f"seed={seed}", "output.samples_per_shard=64",
        *extra,
    ]
    return load_recipe(_recipe_path(variant), overrides)


def dataset_digest(folder: Path) -> str:
    """12 hex digits naming a built dataset's bytes: a hash of its shards' sha256 (manifest.json)."""
    shards = json.loads((folder / "manifest.json").read_text())["shards"]
    return hashlib.sha256(" ".join(sorted(s["sha256"] for s in shards)).encode()).hexdigest()[:12]


def build_variant(variant: str, src: dict[str, Path], work: Path, samples: int, val_samples: int,
                  canvas: int, fold: int = DEFAULT_FOLD, data_seed: int = 0) -> tuple[Path, Path]:
    """(train dataset folder, composited validation folder) of one variant, built if absent.
    The training set is drawn with recipe seed ``data_seed`` (folder ``train``, or
    ``train-seed{data_seed}`` for other seeds); the validation set always with seed 1."""
    out = _fold_dir(work / "data", fold) / variant_name(variant)
    cache = work / "cache"
    train = _recipe_for(variant, src["fg_train_image"], src["fg_train_alpha"], src["bg_train"], samples, canvas,
                        data_seed)
    val = _recipe_for(variant, src["fg_test_image"], src["fg_test_alpha"], src["bg_val"], val_samples, canvas, 1)
    train_dir = out / ("train" if data_seed == 0 else f"train-seed{data_seed}")
    for recipe, folder in ((train, train_dir), (val, out / "val")):
        if not (folder / "manifest.json").exists():
            build(recipe, folder, overwrite=True, cache_dir=cache, executor=SerialExecutor())
    return train_dir, out / "val"
