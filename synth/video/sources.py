"""Clip sources: folders of numbered frames (foreground clips with their mattes, background
clips), scanned, checked and prepared once per clip.

Layout: ``ROOT/CLIP/NNNN.ext``, one sub-folder per clip (VideoMatte240K: ``fgr/CLIP`` with
``pha/CLIP``). Scanning checks what the listing shows: a clip without its matte folder,
frame numbers that are not numbers or have gaps, colour and matte frames that differ in
count or numbering, a clip shorter than the frames one sample needs. Preparation reads every
frame once (the clip's id is the sha256 over its kind and its files' sha256, in order),
decodes it and checks that all frames decode and share one size, mattes included; a clip's
F is its colour frames (``fg_alpha_clips``) or estimated per frame when rendered
(``image_alpha_clips``). A bad clip is an :class:`InputError` naming the clip and the frame,
which the build skips and records, or stops on, as ``on_error`` says.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from shards.atomic import atomic_write_bytes

from ..bg_descriptors import describe_background, describe_foreground
from ..prepare import CACHE_VERSION, PreparedBg, PreparedFg, content_id
from ..recipe import Recipe
from ..recipe.video import BackgroundClips, FgAlphaClips, ImageAlphaClips
from ..sources.imageio import InputError, SizeLimits, decode_alpha, decode_rgb, image_size, read_bytes
from ..sources.scan import BgInput, FgInput, Skipped, list_images, scan_backgrounds, scan_foregrounds

__all__ = ["ClipBgInput", "ClipFgInput", "PreparedClipBg", "PreparedClipFg", "prepare_clip_background",
           "prepare_clip_foreground", "scan_video_backgrounds", "scan_video_foregrounds"]


@dataclass(frozen=True)
class ClipFgInput:
    """One foreground clip before preparation: its colour and matte frames, in frame order."""

    source: str
    kind: str  # fg_alpha_clips | image_alpha_clips
    clip: str  # the clip's folder, relative to the source roots
    frames: tuple[tuple[str, str], ...]  # (colour, matte) per frame

    @property
    def paths(self) -> tuple[str, ...]:
        return self.frames[0]

    @property
    def name(self) -> str:
        return str(PurePosixPath(self.frames[0][0]).parent)


@dataclass(frozen=True)
class ClipBgInput:
    """One background clip before preparation: its frames, in frame order."""

    source: str
    clip: str
    frames: tuple[str, ...]

    @property
    def path(self) -> str:
        return str(PurePosixPath(self.frames[0]).parent)

    @property
    def name(self) -> str:
        return self.path


@dataclass(frozen=True)
class PreparedClipFg(PreparedFg):
    """A prepared foreground clip; ``fg_path`` / ``alpha_path`` are its first frame's files."""

    frames: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class PreparedClipBg(PreparedBg):
    """A prepared background clip; ``path`` is its folder."""

    frames: tuple[str, ...] = ()


def _group(files: list[str], root: str) -> dict[str, list[str]]:
    """Files by clip: the folder under ``root`` that holds them."""
    clips: dict[str, list[str]] = {}
    base = root.rstrip("/") + "/"
    for f in files:
        rel = f[len(base):] if f.startswith(base) else PurePosixPath(f).name
        clips.setdefault(str(PurePosixPath(rel).parent), []).append(f)
    return clips


def _numbered(clip: str, files: list[str], what: str) -> tuple[dict[int, str], str | None]:
    """Frames by number, or the reason the numbering is unusable (non-numeric names, gaps)."""
    by_number: dict[int, str] = {}
    for f in files:
        stem = PurePosixPath(f).stem
        if not stem.isdigit():
            return {}, f"clip {clip}: {what} frame {PurePosixPath(f).name} is not numbered (expected NNNN.ext)"
        if int(stem) in by_number:
            return {}, f"clip {clip}: {what} frame {int(stem)} appears twice ({by_number[int(stem)]}, {f})"
        by_number[int(stem)] = f
    numbers = sorted(by_number)
    for a, b in zip(numbers, numbers[1:]):
        if b != a + 1:
            return {}, f"clip {clip}: gap in {what} frame numbers: frame {a + 1} missing (after {a}, next {b})"
    return dict(sorted(by_number.items())), None


def needed_frames(recipe: Recipe) -> int:
    """Source frames one clip sample spans: ``(frames - 1) * source_stride + 1``."""
    video = recipe.video
    return 1 if video is None else (video.frames - 1) * video.source_stride + 1


def _scan_fg_clips(src: FgAlphaClips | ImageAlphaClips, n: int, need: int) -> tuple[list[ClipFgInput], list[Skipped]]:
    colour_field = "fg_dir" if isinstance(src, FgAlphaClips) else "image_dir"
    colour_dir = getattr(src, colour_field)
    colour = _group(_list(colour_dir, f"foregrounds.{n}.{colour_field}"), colour_dir)
    matte = _group(_list(src.alpha_dir, f"foregrounds.{n}.alpha_dir"), src.alpha_dir)
    items, skipped = [], []
    for clip in sorted(colour):
        where = str(PurePosixPath(colour_dir) / clip)
        if clip not in matte:
            skipped.append(Skipped(where, f"clip {clip}: no matte folder {PurePosixPath(src.alpha_dir) / clip}"))
            continue
        fgs, why = _numbered(clip, colour[clip], "colour")
        alphas, why_a = _numbered(clip, matte[clip], "matte") if why is None else ({}, None)
        why = why or why_a
        if why is None and sorted(fgs) != sorted(alphas):
            missing = sorted(set(fgs) ^ set(alphas))
            why = (f"clip {clip}: {len(fgs)} colour frames and {len(alphas)} matte frames disagree "
                   f"(frame {missing[0]} is in only one of them)")
        if why is None and len(fgs) < need:
            why = f"clip {clip}: {len(fgs)} frames, shorter than the {need} one clip sample needs"
        if why is not None:
            skipped.append(Skipped(where, why))
            continue
        items.append(ClipFgInput(src.name, src.kind, clip, tuple((fgs[k], alphas[k]) for k in sorted(fgs))))
    for clip in sorted(set(matte) - set(colour)):
        skipped.append(Skipped(str(PurePosixPath(src.alpha_dir) / clip), f"clip {clip}: matte folder without frames in "
                                                                          f"{colour_dir}"))
    return items, skipped


def _list(location: str, field: str) -> list[str]:
    try:
        return list_images(location)
    except InputError as err:
        raise InputError(err.path, f"{err.reason} (recipe field {field})") from None


def scan_video_foregrounds(recipe: Recipe) -> tuple[list[FgInput | ClipFgInput], list[Skipped]]:
    """The foreground inputs of every source, clips included, in a stable order (a recipe
    without clip sources: exactly :func:`synth.sources.scan.scan_foregrounds`)."""
    sources = recipe.foregrounds
    if not any(isinstance(s, (FgAlphaClips, ImageAlphaClips)) for s in sources):
        return scan_foregrounds(sources)  # type: ignore[return-value]
    items: list[FgInput | ClipFgInput] = []
    skipped: list[Skipped] = []
    for n, src in enumerate(sources):
        found, skip = (_scan_fg_clips(src, n, needed_frames(recipe)) if isinstance(src, (FgAlphaClips, ImageAlphaClips))
                       else scan_foregrounds([src]))
        items.extend(found)
        skipped.extend(skip)
    return items, skipped


def scan_video_backgrounds(recipe: Recipe) -> tuple[list[BgInput | ClipBgInput], list[Skipped]]:
    """The background inputs of every source, clips included, and the clips skipped."""
    sources = recipe.backgrounds
    if not any(isinstance(s, BackgroundClips) for s in sources):
        return scan_backgrounds(sources), []  # type: ignore[return-value]
    items: list[BgInput | ClipBgInput] = []
    skipped: list[Skipped] = []
    for n, src in enumerate(sources):
        if not isinstance(src, BackgroundClips):
            items.extend(scan_backgrounds([src]))
            continue
        clips = _group(_list(src.path, f"backgrounds.{n}.path"), src.path)
        if not clips:
            raise InputError(src.path, f"background clips {src.name!r}: no frames found (recipe field backgrounds.{n}.path)")
        for clip in sorted(clips):
            frames, why = _numbered(clip, clips[clip], "background")
            if why is None and len(frames) < needed_frames(recipe):
                why = f"clip {clip}: {len(frames)} frames, shorter than the {needed_frames(recipe)} one clip sample needs"
            if why is not None:
                skipped.append(Skipped(str(PurePosixPath(src.path) / clip), why))
            else:
                items.append(ClipBgInput(src.name, clip, tuple(frames.values())))
    return items, skipped


def _frame_error(clip: str, t: int, path: str, err: Exception) -> InputError:
    reason = err.reason if isinstance(err, InputError) else f"{type(err).__name__}: {err}"
    return InputError(path, f"clip {clip} frame {t}: {reason}")


def prepare_clip_foreground(item: ClipFgInput, *, estimator: str, cache_dir: str | Path,
                            limits: SizeLimits = SizeLimits()) -> PreparedClipFg:
    """Read, hash and check every frame of a foreground clip once (cached by content).

    Raises InputError naming the clip and the frame: unreadable, a matte of another size than
    its frame, a frame of another size than the clip's first, an empty matte in every frame."""
    blobs = []
    for t, (f, a) in enumerate(item.frames):
        try:
            blobs += [read_bytes(f), read_bytes(a)]
        except InputError as err:
            raise _frame_error(item.clip, t, err.path, err) from None
    clip_id = content_id(item.kind, blobs)
    method = estimator if item.kind == "image_alpha_clips" else "given"
    meta_path = Path(cache_dir) / "clip" / clip_id[:2] / f"{clip_id}.{method}.v{CACHE_VERSION}.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
    else:
        hw = None
        mid = len(item.frames) // 2
        desc, nonempty = None, False
        for t, (f, a) in enumerate(item.frames):
            try:
                fg = decode_rgb(blobs[2 * t], f, limits)
                alpha = decode_alpha(blobs[2 * t + 1], a, limits)
            except Exception as err:  # noqa: BLE001 - named and recorded
                raise _frame_error(item.clip, t, f, err) from None
            if alpha.shape != fg.shape[:2]:
                raise InputError(a, f"clip {item.clip} frame {t}: matte is {alpha.shape[1]}x{alpha.shape[0]}, its "
                                    f"frame {fg.shape[1]}x{fg.shape[0]} (WxH)")
            hw = hw or alpha.shape
            if alpha.shape != hw:
                raise InputError(f, f"clip {item.clip} frame {t}: {alpha.shape[1]}x{alpha.shape[0]}, frame 0 is "
                                    f"{hw[1]}x{hw[0]} (WxH)")
            nonempty = nonempty or float(alpha.max()) >= 0.5 / 255
            if t == mid:
                desc = json.loads(json.dumps(describe_foreground(fg, alpha).to_dict()))
        if not nonempty:
            raise InputError(item.name, f"clip {item.clip}: every matte is empty (all zero): nothing to composite")
        meta = {"hw": list(hw), "descriptor": desc}
        atomic_write_bytes(meta_path, json.dumps(meta, sort_keys=True).encode())
    return PreparedClipFg(clip_id, item.source, item.kind, item.clip, tuple(meta["hw"]), 8, method, item.frames[0][0],
                          item.frames[0][1], meta["descriptor"], frames=item.frames)


def prepare_clip_background(item: ClipBgInput, *, cache_dir: str | Path,
                            limits: SizeLimits = SizeLimits()) -> PreparedClipBg:
    """Read, hash and decode every frame of a background clip once (cached by content);
    InputError naming the clip and the frame for an unreadable frame or a change of size."""
    blobs = []
    for t, f in enumerate(item.frames):
        try:
            blobs.append(read_bytes(f))
        except InputError as err:
            raise _frame_error(item.clip, t, err.path, err) from None
    clip_id = content_id("background_clip", blobs)
    meta_path = Path(cache_dir) / "clip" / clip_id[:2] / f"{clip_id}.bg.v{CACHE_VERSION}.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
    else:
        hw, desc = None, None
        for t, (f, data) in enumerate(zip(item.frames, blobs)):
            try:
                image_size(data, f, limits)
                image = decode_rgb(data, f, limits)
            except Exception as err:  # noqa: BLE001 - named and recorded
                raise _frame_error(item.clip, t, f, err) from None
            hw = hw or image.shape[:2]
            if image.shape[:2] != hw:
                raise InputError(f, f"clip {item.clip} frame {t}: {image.shape[1]}x{image.shape[0]}, frame 0 is "
                                    f"{hw[1]}x{hw[0]} (WxH)")
            if t == len(item.frames) // 2:
                desc = json.loads(json.dumps(describe_background(image).to_dict()))
        meta = {"hw": list(hw), "descriptor": desc}
        atomic_write_bytes(meta_path, json.dumps(meta, sort_keys=True).encode())
    return PreparedClipBg(clip_id, item.source, item.clip, item.path, tuple(meta["hw"]), None, meta["descriptor"],
                          frames=item.frames)
