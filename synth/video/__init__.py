"""Video composites: clips of frames built with per-clip composition (docs/video.md).

Modules: ``motion`` (smooth random paths of a still foreground), ``camera`` (a simulated
camera over a still background), ``layers`` (warping and motion blur of a frame's layers),
``sources`` (clip folders: scanning, checks, preparation), ``scene`` (what is drawn and
decoded once per clip), ``render_clip`` (the frames and members of a clip sample).
"""
