"""Adversarial Digits core: data, softmax regression, the gradient sign attack.

Pure Python (numpy, scikit-learn, Pillow, pandas, Altair); never imports
streamlit, so everything here can be tested and benchmarked headless.
"""

from core.errors import DatasetUnavailable, ImageRejected

__all__ = ["DatasetUnavailable", "ImageRejected"]
