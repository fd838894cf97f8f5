"""The field's usual on-the-fly generator, the baseline ``bench_loader.py`` compares the loader with.

:class:`OnTheFlyGenerator` follows the per-``__getitem__`` pattern of GCA-Matting's
``data_generator.py``, written here from its description (not copied): files of F, alpha and
B in, a composite crop with a fresh trimap out. Tested in ``tests/test_bench_onthefly.py``.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["OnTheFlyGenerator"]


class OnTheFlyGenerator(Dataset):
    """GCA-Matting-style per-item generator (written from its description, not copied).

    Per item (``full=False``, the steps the loader issue lists): read F (jpg), alpha
    (png) and B (jpg) files; random affine of F and alpha (rotation, scale, shear,
    flip) with the same matrix; a trimap by random erosion of the alpha's definite
    regions; B resized (bicubic) to F's size; a 512 crop of F, alpha, trimap and B
    around an unknown pixel (all resized up when smaller, as GCA's RandomCrop does);
    I = aF + (1-a)B in float; normalised float tensors.

    ``full=True`` adds the rest of GCA's published training augmentation
    (``augmentation = true``): with p 0.5 a second F and alpha read and
    over-composited onto the first, with p 0.25 both resized to 640x640, an HSV
    jitter of the cropped F, clipping before compositing, and a one-hot trimap.
    Each item draws from its own RNG (index) -- unlike the original's global RNG.
    """

    def __init__(self, triples, crop=512, full=False):
        self.triples, self.crop, self.full = triples, crop, full

    def __len__(self):
        return len(self.triples)

    def _second_foreground(self, rng, fg, alpha, i):
        """GCA's _composite_fg: another F/alpha pasted behind this one (p 0.5), then maybe 640x640."""
        h, w = alpha.shape
        if rng.random() < 0.5:
            fg2_p, a2_p, _ = self.triples[(i + 1 + int(rng.integers(len(self.triples) - 1))) % len(self.triples)]
            fg2 = cv2.resize(cv2.imread(fg2_p, cv2.IMREAD_COLOR), (w, h), interpolation=cv2.INTER_NEAREST)
            a2 = cv2.resize(cv2.imread(a2_p, cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0, (w, h),
                            interpolation=cv2.INTER_NEAREST)
            union = 1 - (1 - alpha) * (1 - a2)
            if np.any(union < 1):
                fg = (fg.astype(np.float32) * alpha[:, :, None] + fg2.astype(np.float32) * (1 - alpha[:, :, None]))
                fg, alpha = fg.astype(np.uint8), union
        if rng.random() < 0.25:
            fg = cv2.resize(fg, (640, 640), interpolation=cv2.INTER_NEAREST)
            alpha = cv2.resize(alpha, (640, 640), interpolation=cv2.INTER_NEAREST)
        return fg, alpha

    @staticmethod
    def _hsv_jitter(rng, fg, alpha):
        """GCA's RandomJitter: hue, saturation and value shifts of F in float HSV."""
        if not np.any(alpha > 0):
            return fg.astype(np.float32)
        hsv = cv2.cvtColor(fg.astype(np.float32) / 255.0, cv2.COLOR_BGR2HSV)
        hsv[:, :, 0] = np.remainder(hsv[:, :, 0] + rng.integers(-40, 40), 360)
        for c in (1, 2):
            bar = hsv[:, :, c][alpha > 0].mean()
            v = np.abs(hsv[:, :, c] + rng.random() * (1.1 - bar) / 5 - (1.1 - bar) / 10)
            v[v > 1] = 2 - v[v > 1]
            hsv[:, :, c] = v
        return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR) * 255

    def __getitem__(self, i):
        rng = np.random.default_rng([i, 1234])
        fg_p, a_p, bg_p = self.triples[i]
        fg = cv2.imread(fg_p, cv2.IMREAD_COLOR)
        alpha = cv2.imread(a_p, cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0
        bg = cv2.imread(bg_p, cv2.IMREAD_COLOR)
        if self.full:
            fg, alpha = self._second_foreground(rng, fg, alpha, i)
        h, w = alpha.shape
        # random affine
        angle, scale = rng.uniform(-30, 30), rng.uniform(0.8, 1.25)
        shear = rng.uniform(-10, 10, 2)
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
        sh = np.array([[1, np.tan(np.radians(shear[0])), 0], [np.tan(np.radians(shear[1])), 1, 0]])
        m = m @ np.vstack([sh, [0, 0, 1]])
        if rng.random() < 0.5:
            m = np.array([[-1, 0, w - 1], [0, 1, 0]]) @ np.vstack([m, [0, 0, 1]])
        fg = cv2.warpAffine(fg, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        alpha = cv2.warpAffine(alpha, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        # erosion trimap
        k_fg, k_bg = int(rng.integers(1, 30)), int(rng.integers(1, 30))
        fg_mask = (alpha + 1e-5).astype(np.int32).astype(np.uint8)
        bg_mask = (1 - alpha + 1e-5).astype(np.int32).astype(np.uint8)
        fg_mask = cv2.erode(fg_mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k_fg, k_fg)))
        bg_mask = cv2.erode(bg_mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k_bg, k_bg)))
        trimap = np.full(alpha.shape, 128, np.uint8)
        trimap[fg_mask == 1] = 255
        trimap[bg_mask == 1] = 0
        # crop around the unknown region; B is first resized to F's size and cropped with it
        c = self.crop
        bg = cv2.resize(bg, (w, h), interpolation=cv2.INTER_CUBIC)
        if min(h, w) < c:
            s = c / min(h, w)
            nh, nw = int(np.ceil(h * s)), int(np.ceil(w * s))
            fg = cv2.resize(fg, (nw, nh), interpolation=cv2.INTER_LINEAR)
            alpha = cv2.resize(alpha, (nw, nh), interpolation=cv2.INTER_LINEAR)
            trimap = cv2.resize(trimap, (nw, nh), interpolation=cv2.INTER_NEAREST)
            bg = cv2.resize(bg, (nw, nh), interpolation=cv2.INTER_CUBIC)
            h, w = nh, nw
        ys, xs = np.where(trimap == 128)
        if len(ys):
            j = int(rng.integers(len(ys)))
            top = int(np.clip(ys[j] - c // 2, 0, h - c))
            left = int(np.clip(xs[j] - c // 2, 0, w - c))
        else:
            top, left = int(rng.integers(h - c + 1)), int(rng.integers(w - c + 1))
        fg = fg[top:top + c, left:left + c]
        alpha = alpha[top:top + c, left:left + c]
        trimap = trimap[top:top + c, left:left + c]
        bg = bg[top:top + c, left:left + c]
        fg = fg.astype(np.float32)
        bg = bg.astype(np.float32)
        if self.full:
            fg = self._hsv_jitter(rng, fg, alpha)
            np.clip(alpha, 0, 1, out=alpha)
            np.clip(fg, 0, 255, out=fg)
            np.clip(bg, 0, 255, out=bg)
        a = alpha[..., None]
        image = fg * a + bg * (1 - a)
        mean = np.array([0.485, 0.456, 0.406], np.float32) * 255
        std = np.array([0.229, 0.224, 0.225], np.float32) * 255
        to_t = lambda x: torch.from_numpy(np.ascontiguousarray(((x[..., ::-1] - mean) / std).transpose(2, 0, 1)))  # noqa: E731
        tri = torch.from_numpy(trimap)[None]
        if self.full:  # GCA's 3-channel one-hot trimap
            tri = torch.nn.functional.one_hot(torch.from_numpy((trimap >= 85).astype(np.int64) + (trimap >= 170)), 3).permute(2, 0, 1).float()
        return {"image": to_t(image), "fg": to_t(fg), "bg": to_t(bg), "alpha": torch.from_numpy(alpha)[None],
                "trimap": tri}
