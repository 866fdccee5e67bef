"""What each notebook computes from stored runs, as numbers and verdicts keyed by ids (never sentences).

- ``claims``: the original's conclusions checked on our runs (notebooks 2–5);
- ``robustness``: perturbed test images, calibration and weights (notebooks 3, 4, 6);
- ``beyond``: the questions the original left open (notebook 6);
- ``reproduction``: the original's protocol against its recorded runs (notebook 7);
- ``speed``: how fast and how far (notebook 8).
"""
