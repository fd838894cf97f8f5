"""The saved runs of benchmarks/generalization.py: the training setting that names them
(:class:`TrainConfig`, :func:`run_key`), the environment recorded with each, and reuse: a run is
trained once, kept with its weights, and completed from them when a later command asks it for
more test sets."""
from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from generalization_eval import SPLIT_KEYS, evaluate
from synth.resume import versions
from tiny_matting_net import TinyMattingNet

def environment() -> dict[str, str]:
    """What a run's floating-point results depend on besides its data and seed: the versions of
    the libraries that train and feed it, and torch's thread count. Saved with every run; a
    saved run recorded under another environment is retrained (:func:`saved_run`), so that a
    report never pairs runs of two environments (their errors differ by more than some of the
    differences measured). The codecs' versions are the build's own record
    (:func:`synth.resume.versions`)."""
    import numba
    import scipy

    return {"python": platform.python_version(), "torch": torch.__version__, **versions(),
            "numba": numba.__version__, "scipy": scipy.__version__, "torch_threads": str(torch.get_num_threads())}


def saved_run(path: Path, train_data: str, env: dict[str, str] | None = None) -> dict | None:
    """The finished run saved at ``path`` if it trained on the dataset ``train_data``
    (:func:`dataset_digest`) in the environment ``env`` (:func:`environment`; a run saved without
    one is kept, and :func:`unrecorded_runs` counts it); ``None`` if there is none, or it
    trained on other bytes or in another environment."""
    if not path.exists():
        return None
    run = json.loads(path.read_text())
    if run.get("train_data") != train_data:
        print(f"{path.name}: trained on other data ({run.get('train_data')}, now {train_data}): retraining",
              flush=True)
        return None
    saved_env = run.get("env")
    if env is not None and saved_env is not None and saved_env != env:
        changed = ", ".join(f"{k} {saved_env.get(k)} -> {env.get(k)}" for k in sorted(set(env) | set(saved_env))
                            if saved_env.get(k) != env.get(k))
        print(f"{path.name}: trained in another environment ({changed}): retraining", flush=True)
        return None
    return run


def unrecorded_runs(results: dict) -> list[str]:
    """Lines warning of the runs in ``results`` (variant -> seed -> runs) saved without an
    environment (before it was recorded): they may come from another one; none when all have it."""
    n = sum(1 for per_seed in results.values() for runs in per_seed.values() for run in runs if "env" not in run)
    if n == 0:
        return []
    return [(f"\nWARNING: {n} run(s) were saved without a record of their environment (library versions, "
             "threads) and may come from another one; runs of two environments are not a paired comparison. "
             "Delete OUT/runs to retrain them here.")]


@dataclass
class TrainConfig:
    steps: int
    batch: int
    crop: int
    widths: tuple[int, ...]
    lr: float
    workers: int
    photometric: float = 0.0  # the loader's colour jitter of the image (AugmentConfig.photometric)
    band_outer: tuple[int, int] | None = None  # the trimap band's background side (AugmentConfig.band_outer)
    guide: str = "trimap"  # the network's second input: "trimap", or "mask" (the loader's guidance output)


#: TrainConfig fields added after runs were saved, with the value those runs had: at that value a
#: field stays out of the run key, so that the saved runs keep their names and are reused.
LATER_FIELDS = {"photometric": 0.0, "band_outer": None, "guide": "trimap"}

#: The network's second input (``--guide``): a trimap (known regions taken from it), or a coarse
#: mask of the subject as one more channel, the alpha predicted near the mask's edge and the mask
#: kept elsewhere (a mask-guided model; ``generalization_eval.mask_trimap``).
GUIDES = ("trimap", "mask")


def new_model(cfg: TrainConfig) -> TinyMattingNet:
    """The untrained network of ``cfg``: the mask-guided one reads the mask as an extra channel."""
    if cfg.guide not in GUIDES:
        raise ValueError(f"guide must be one of {GUIDES}, got {cfg.guide!r}")
    return TinyMattingNet(widths=cfg.widths, extra_channels=int(cfg.guide == "mask"))


def run_key(cfg: TrainConfig, samples: int, canvas: int, val_samples: int, real: Path | None) -> str:
    """The 12 hex digits naming the runs of one training setting (OUT/runs/NAME-KEY.json)."""
    fields = {k: v for k, v in vars(cfg).items() if LATER_FIELDS.get(k, object()) != v}
    return hashlib.sha256(json.dumps([fields, samples, canvas, val_samples, str(real)],
                                     sort_keys=True).encode()).hexdigest()[:12]


def finished_run(done: Path, train_data: str, cfg: TrainConfig, also: dict[str, list],
                 fit: Callable[[], TinyMattingNet], measure: Callable[[TinyMattingNet], dict],
                 env: dict[str, str] | None = None, trimaps: dict[str, list] | None = None) -> dict:
    """The run saved at ``done`` when it trained on ``train_data`` in ``env`` (default: this
    :func:`environment`) and has every ``also`` set (name -> test items) and every ``trimaps`` set
    (``--test-trimaps`` spec -> the held-out photos with those trimaps); else it is completed and
    saved: sets it lacks are evaluated from its saved weights, or, with no usable run or weights,
    the model is trained (``fit``), measured (``measure``: its ``real`` and ``comp`` errors) and
    saved with its weights (``.pt``) and ``env``."""
    env = environment() if env is None else env
    sets = {"also": also, "trimaps": trimaps or {}}  # the run's section -> name -> test items
    run = saved_run(done, train_data, env)
    unsplit = run is not None and not all(k in run["real"] for k in SPLIT_KEYS)  # saved before the SAD split
    missing = {sec: [n for n in named if unsplit or n not in (run or {}).get(sec, {})] for sec, named in sets.items()}
    if run is not None and not any(missing.values()) and not unsplit:
        return run
    model = saved_model(done, cfg) if run is not None else None
    if model is None:
        model = fit()
        fresh = {**measure(model), "train_data": train_data, "env": env}
        check_retrained(done, run, fresh)
        run, missing = {**fresh, "also": {}}, {sec: list(named) for sec, named in sets.items()}
        done.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), done.with_suffix(".pt"))
    elif unsplit:
        fresh = measure(model)
        check_retrained(done, run, fresh, "re-evaluated from its weights")
        run = {**run, **fresh}
    run.setdefault("also", {})
    for sec, names in missing.items():
        if names:
            run.setdefault(sec, {}).update({n: evaluate(model, sets[sec][n], per_image=True) for n in names})
    done.write_text(json.dumps(run))
    return run


def saved_model(done: Path, cfg: TrainConfig) -> TinyMattingNet | None:
    """The weights saved beside the finished run ``done`` (``.pt``), or ``None`` when there are
    none (runs from before weights were kept)."""
    path = done.with_suffix(".pt")
    if not path.exists():
        return None
    model = new_model(cfg)
    model.load_state_dict(torch.load(path, weights_only=True))
    return model


def check_retrained(done: Path, old: dict | None, fresh: dict,
                    how: str = "retrained to evaluate more photos") -> None:
    """A run retrained (or re-evaluated) only to measure more must repeat its saved errors
    (training is deterministic for a seed); say so loudly where it does not."""
    if old is None:
        return
    a, b = old["real"]["sad"], fresh["real"]["sad"]
    if abs(a - b) > 1e-9 * max(abs(a), 1e-12):
        print(f"WARNING {done.name}: {how}, but its real-photo SAD is {b:.6f}, "
              f"saved {a:.6f}: the run did not repeat itself (thread count? library version?)", flush=True)
