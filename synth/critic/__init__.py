"""The composite detector: can a small network tell our composites from real photographs?

- :mod:`synth.critic.patches`: where patches are cut (boundaries given by an alpha, real
  edges of a photo) and edge-contrast matching of the two sides (numpy / OpenCV only);
- :mod:`synth.critic.collect`: labelled patch sets from a built dataset, paired on the same
  picture, the broken control and the real-vs-real control;
- :mod:`synth.critic.evaluate`: ROC AUC, its bootstrap interval over pictures, contact sheets;
- :mod:`synth.critic.model`, :mod:`synth.critic.train`: the network and its deterministic CPU
  training (these two import torch, the ``loader`` extra; nothing here imports them);
- :mod:`synth.critic.weights`: the pinned detector's file format; :mod:`synth.critic.pin`
  trains it reproducibly (GT01-GT12, bg001-bg050 only);
- :mod:`synth.critic.score`: a composite's boundary score with a pinned detector (torch, CPU);
- :mod:`synth.critic.guide`: guided composition (K candidates per sample, the least
  detectable kept, the diversity guard); :mod:`synth.critic.tune`: ``synth tune``.

Method and controls: docs/critic.md. ``benchmarks/bench_detectability.py`` runs it.
"""
