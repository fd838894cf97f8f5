"""Train a tiny trimap-based matting network on CPU with the streaming loader.

    python examples/train_tiny.py --data out/demo --steps 300 --out runs/tiny
    python examples/train_tiny.py --data out/demo --steps 600 --out runs/tiny --resume

Without ``--data`` a small procedural dataset is built first with
``synth build recipes/demo.yaml``. Every ``--ckpt-every`` steps a checkpoint
(model, optimiser, step and the loader's state) is written atomically;
``--resume`` continues from it, mid-epoch included: the loader picks up
exactly the batch the interrupted run would have seen next.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from shards import MattingDataset, MattingLoader  # noqa: E402
from tiny_matting_net import TinyMattingNet, matting_loss  # noqa: E402


def save_checkpoint(path: Path, model, optimizer, step: int, loader: MattingLoader) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                "loader": loader.state_dict()}, tmp)
    os.replace(tmp, path)


def build_demo(out: Path) -> Path:
    cmd = [sys.executable, "-m", "synth.cli", "build", str(ROOT / "recipes" / "demo.yaml"), "-o", str(out),
           "--quiet", "--workers", "0"]
    subprocess.run(cmd, check=True, cwd=ROOT)
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, help="dataset folder (manifest.json); default: build the demo")
    ap.add_argument("--out", type=Path, default=Path("runs/tiny"))
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--buffer", type=int, default=256)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ckpt-every", type=int, default=100)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    args = ap.parse_args(argv)

    torch.manual_seed(args.seed)
    # One OpenCV thread per process, set here: the forked workers inherit it. (Calling
    # cv2.setNumThreads in a worker whose parent already ran OpenCV's thread pool hangs.)
    cv2.setNumThreads(1)
    torch.set_num_threads(max(1, (os.cpu_count() or 2) - args.workers))
    data = args.data or build_demo(Path(tempfile.mkdtemp(prefix="tiny_demo_")) / "demo")
    args.out.mkdir(parents=True, exist_ok=True)
    ckpt = args.out / "checkpoint.pt"

    dataset = MattingDataset(data, "train", crop=args.crop, seed=args.seed, buffer_size=args.buffer)
    loader = MattingLoader(dataset, batch_size=args.batch, num_workers=args.workers,
                           persistent_workers=args.workers > 0, drop_last=True)
    model = TinyMattingNet()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    step = 0
    if args.resume and ckpt.exists():
        state = torch.load(ckpt, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        loader.load_state_dict(state["loader"])
        step = state["step"]
        print(f"resumed at step {step}, epoch {loader.epoch}, {state['loader']['batches']} batches into it")

    keys_seen: list[str] = []
    model.train()
    t0, seen, running = time.perf_counter(), 0, 0.0
    while step < args.steps:
        for batch in loader:
            pred = model(batch["image"], batch["trimap"])
            loss = matting_loss(pred, batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            seen += len(batch["key"])
            keys_seen += batch["key"]
            running = 0.9 * running + 0.1 * loss.item() if step > 1 else loss.item()
            if step % args.log_every == 0:
                rate = seen / (time.perf_counter() - t0)
                print(f"step {step:5d}  epoch {loader.epoch}  loss {running:.4f}  {rate:.0f} samples/s", flush=True)
            if step % args.ckpt_every == 0 or step == args.steps:
                save_checkpoint(ckpt, model, optimizer, step, loader)
            if step >= args.steps:
                break
    print(f"done: {step} steps, errors {dataset.error_counts()}")
    return {"step": step, "keys": keys_seen, "loss": running}


if __name__ == "__main__":
    main()
