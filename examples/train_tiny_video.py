"""Train a tiny recurrent matting network on video clips, on CPU, with the clip loader.

    python examples/train_tiny_video.py --steps 200 --out runs/tiny_video
    python examples/train_tiny_video.py --data out/video --frames 8 --steps 400

Without ``--data`` a small procedural clip dataset is built first with
``synth build recipes/video_demo.yaml``. Each batch is a window of ``--frames``
frames per clip (``MattingDataset(frames=T)``: one crop and flip for the window,
fresh trimaps). The network is the tiny U-Net of ``tiny_matting_net.py`` with the
previous frame's predicted alpha as a seventh input, run frame by frame through the
window (back-propagation through the whole window). The loss is the per-frame matting
loss plus a temporal-consistency term: the L1 distance, over the unknown region,
between the predicted and the true frame-to-frame change of alpha (a flickering
prediction pays for it even when each frame alone is close).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from shards import MattingDataset, MattingLoader  # noqa: E402
from tiny_matting_net import TinyMattingNet, matting_loss  # noqa: E402


class TinyRecurrentMattingNet(nn.Module):
    """The tiny U-Net fed its own previous alpha: (B, T, ...) windows in, (B, T, 1, H, W) alpha out."""

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64)) -> None:
        super().__init__()
        self.net = TinyMattingNet(widths, extra_channels=1)

    def forward(self, image: torch.Tensor, trimap: torch.Tensor) -> torch.Tensor:
        """image uint8 (B, T, 3, H, W), trimap uint8 (B, T, 1, H, W) -> alpha float (B, T, 1, H, W)."""
        prev = torch.zeros_like(trimap[:, 0], dtype=torch.float32)
        out = []
        for t in range(image.shape[1]):
            prev = self.net(image[:, t], trimap[:, t], prev)
            out.append(prev)
        return torch.stack(out, dim=1)


def temporal_loss(pred: torch.Tensor, alpha: torch.Tensor, trimap: torch.Tensor) -> torch.Tensor:
    """Mean |d pred/dt - d alpha/dt| over pixels unknown in either of two consecutive frames;
    (B, T, 1, H, W) tensors; 0 for a single frame."""
    if pred.shape[1] < 2:
        return pred.sum() * 0.0
    unknown = ((trimap[:, 1:] == 128) | (trimap[:, :-1] == 128)).float()
    diff = ((pred[:, 1:] - pred[:, :-1]) - (alpha[:, 1:] - alpha[:, :-1])).abs()
    return (diff * unknown).sum() / unknown.sum().clamp_min(1.0)


def window_loss(pred: torch.Tensor, batch: dict, weight: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(total, temporal part): the frames' matting loss (as for images) plus ``weight`` x the temporal term."""
    flat = {k: v.flatten(0, 1) for k, v in batch.items() if k in ("alpha", "trimap", "fg", "bg", "image")}
    tc = temporal_loss(pred, batch["alpha"], batch["trimap"])
    return matting_loss(pred.flatten(0, 1), flat) + weight * tc, tc


def build_demo(out: Path, frames: int) -> Path:
    cmd = [sys.executable, "-m", "synth.cli", "build", str(ROOT / "recipes" / "video_demo.yaml"), "-o", str(out),
           "--quiet", "--workers", "0", "--set", f"video.frames={max(frames, 12)}"]
    subprocess.run(cmd, check=True, cwd=ROOT)
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, help="clip dataset folder (manifest.json); default: build the video demo")
    ap.add_argument("--out", type=Path, default=Path("runs/tiny_video"))
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--frames", type=int, default=6)
    ap.add_argument("--crop", type=int, default=96)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--temporal-weight", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--log-every", type=int, default=20)
    args = ap.parse_args(argv)

    torch.manual_seed(args.seed)
    cv2.setNumThreads(1)  # before the workers fork (see train_tiny.py)
    torch.set_num_threads(max(1, (os.cpu_count() or 2) - args.workers))
    data = args.data or build_demo(Path(tempfile.mkdtemp(prefix="tiny_video_")) / "video", args.frames)
    args.out.mkdir(parents=True, exist_ok=True)
    dataset = MattingDataset(data, "train", crop=args.crop, frames=args.frames, frame_stride=(1, 2),
                             reverse_p=0.5, seed=args.seed, buffer_size=64)
    loader = MattingLoader(dataset, batch_size=args.batch, num_workers=args.workers,
                           persistent_workers=args.workers > 0, drop_last=True)
    model = TinyRecurrentMattingNet()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    step, seen, running, running_tc = 0, 0, 0.0, 0.0
    t0 = time.perf_counter()
    model.train()
    while step < args.steps:
        for batch in loader:
            pred = model(batch["image"], batch["trimap"])
            loss, tc = window_loss(pred, batch, args.temporal_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            seen += batch["image"].shape[0] * batch["image"].shape[1]
            running = 0.9 * running + 0.1 * loss.item() if step > 1 else loss.item()
            running_tc = 0.9 * running_tc + 0.1 * tc.item() if step > 1 else tc.item()
            if step % args.log_every == 0:
                rate = seen / (time.perf_counter() - t0)
                print(f"step {step:4d}  epoch {loader.epoch}  loss {running:.4f}  temporal {running_tc:.4f}  "
                      f"{rate:.0f} frames/s", flush=True)
            if step >= args.steps:
                break
    torch.save(model.state_dict(), args.out / "model.pt")
    print(f"done: {step} steps, errors {dataset.error_counts()}")
    return {"step": step, "loss": running, "temporal": running_tc}


if __name__ == "__main__":
    main()
