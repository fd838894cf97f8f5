"""The plain-webdataset baseline ``bench_loader.py`` compares the loader with: the same members
decoded to tensors with no augmentation, by ``webdataset`` itself (``.decode("rgb8")``, PIL) or
with this project's codecs; and whole clips' first frames. The classes live at module level
so that DataLoader workers can pickle them."""
from __future__ import annotations

import numpy as np
import torch

from shards.codec import decode_alpha, decode_rgb

__all__ = ["WdsClip", "WdsMap", "WdsPil", "webdataset_pipeline"]


class WdsMap:
    """webdataset sample -> tensors with this project's codecs (module level: picklable)."""

    def __call__(self, s: dict) -> dict:
        img = next(v for k, v in s.items() if k.startswith("image."))
        fg = next(v for k, v in s.items() if k.startswith("fg."))
        bg = next(v for k, v in s.items() if k.startswith("bg."))
        return {"image": torch.from_numpy(decode_rgb(img)).permute(2, 0, 1).contiguous(),
                "alpha": torch.from_numpy(decode_alpha(s["alpha.png"]))[None],
                "fg": torch.from_numpy(decode_rgb(fg)).permute(2, 0, 1).contiguous(),
                "bg": torch.from_numpy(decode_rgb(bg)).permute(2, 0, 1).contiguous()}


class WdsPil:
    """webdataset's own decoded arrays (``.decode("rgb8")``) -> tensors."""

    def __call__(self, s: dict) -> dict:
        def t(a):
            a = np.asarray(a)
            return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1) if a.ndim == 3 else a[None]))
        pick = lambda stem: next(v for k, v in s.items() if k.startswith(stem + "."))  # noqa: E731
        return {"image": t(pick("image")), "alpha": t(np.asarray(pick("alpha"))[..., 0]),
                "fg": t(pick("fg")), "bg": t(pick("bg"))}


def webdataset_pipeline(urls: list[str], own_codec: bool):
    """The members image, alpha, fg and bg of every sample of `urls` as tensors, through
    `webdataset.WebDataset`: with this project's codecs (`own_codec`) or webdataset's own
    `.decode("rgb8")`."""
    import webdataset as wds

    keep = lambda s: {k: v for k, v in s.items() if k.split(".")[0] in ("image", "alpha", "fg", "bg") or k.startswith("__")}  # noqa: E731
    ds = wds.WebDataset(urls, shardshuffle=False, empty_check=False).map(keep)
    if own_codec:
        return ds.map(WdsMap())
    return ds.decode("rgb8").map(WdsPil())


class WdsClip:
    """A clip sample decoded by plain webdataset with this project's codecs: the first
    ``frames`` frames' image, alpha, fg and bg (module level: picklable)."""

    def __init__(self, frames: int) -> None:
        self.frames = frames

    def __call__(self, s: dict) -> dict:
        def stack(stem: str, alpha: bool = False) -> torch.Tensor:
            out = []
            for t in range(self.frames):
                data = next(v for k, v in s.items() if k.startswith(f"{stem}_{t:03d}."))
                out.append(torch.from_numpy(decode_alpha(data))[None] if alpha
                           else torch.from_numpy(decode_rgb(data)).permute(2, 0, 1))
            return torch.stack(out)
        return {"image": stack("image"), "alpha": stack("alpha", alpha=True), "fg": stack("fg"), "bg": stack("bg")}
