"""Adversarial Digits core: the math, reading inputs, and the machinery that serves a shared server.

Pure Python (numpy, scipy, scikit-learn, Pillow, pandas); never imports streamlit or altair, so everything here
can be tested and benchmarked headless. Three kinds of module, in three places:

- the math, here: the models (:mod:`core.model`: one interface, ``logits`` and ``input_gradient``), the gradient
  sign family (:mod:`core.attack`), its exact path (:mod:`core.path`), the exact solvers (:mod:`core.exact`,
  :mod:`core.maxmin`, :mod:`core.fewest`), the network (:mod:`core.network`, :mod:`core.network_exact`), sweeps,
  defenses and training; long computations ask :mod:`core.stopping` whether to stop;
- reading inputs, in :mod:`core.inputs`: datasets, pictures, settings, the cache folder;
- serving, in :mod:`core.jobs`: the job system, trainings in child processes, the model store.

:mod:`core.checks` and :mod:`core.errors` (validation at the boundary, the named exceptions) serve all three.
"""

from core.errors import DatasetUnavailable, ImageRejected

__all__ = ["DatasetUnavailable", "ImageRejected"]
