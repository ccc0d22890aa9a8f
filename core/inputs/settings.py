"""What decides a trained model: the settings, their defaults and their bounds, in one place.

:class:`TrainingSettings` is the key of every model cache, the defaults of
:func:`core.training.train_softmax` and of ``python -m core``, and what the
app's sidebar starts from; :data:`BOUNDS` are the limits that keep a shared
server responsive (nobody can ask for an hour of training), read by the
sidebar and checked by :meth:`TrainingSettings.check`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from core.errors import BadInput, TrainingFailed
from core.inputs.cache import cache_folder
from core.inputs.data import DEFAULT_DATASET

SOLVERS = ("sgd", "lbfgs")
BOUNDS = {
    "epochs": (1, 100),
    "learning_rate": (1e-4, 1.0),
    "batch_size": (10, 1000),
    "C": (1e-3, 1e3),
    "seed": (0, 9999),
    "adversarial_eps": (0.0, 0.3),  # 0: no adversarial training
    "l1": (0.0, 0.01),  # 0: no L1 weight decay
}
WHOLE_NUMBERS = ("epochs", "batch_size", "seed")  # the settings that are whole numbers; the rest are real
# The defenses train at a few fixed strengths, so links cannot mint unbounded distinct models (each a training
# and a file): adversarial training in steps of 0.01, L1 weight decay on a 1-2-5 scale.
ADVERSARIAL_EPS_STEP = 0.01
L1_STEPS = (1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2)
# The network beside the linear model (core.network): hidden units of its one ReLU layer; 0 is the linear model.
HIDDEN_SIZES = (0, 16, 64, 256)
DATASET_VARIABLE = "ADVERSARIAL_DIGITS_DATASET"  # the operator may open the app on another dataset
MODEL_FORMAT = 1  # bump when the saved-model layout changes


@dataclass(frozen=True)
class TrainingSettings:
    """Everything that decides the trained weights; the key of the model caches.

    The defaults are the original experiment's recipe: mini-batch SGD,
    learning rate 0.05, batch 100, 25 epochs, no defense.
    """

    dataset: str = DEFAULT_DATASET
    solver: str = "sgd"
    epochs: int = 25
    learning_rate: float = 0.05
    batch_size: int = 100
    C: float = 1.0
    seed: int = 0
    adversarial_eps: float = 0.0  # the defenses (core.defense); 0 is none
    l1: float = 0.0
    hidden: int = 0  # > 0: a one-hidden-layer ReLU network of this many units (Adam), not softmax regression

    def __post_init__(self):
        self.check()  # valid by construction: an impossible model is refused where it is asked for

    @classmethod
    def first_visit(cls) -> TrainingSettings:
        """What a new session starts with: the defaults, on the operator's dataset if one is set."""
        return cls(dataset=os.environ.get(DATASET_VARIABLE, DEFAULT_DATASET))

    def check(self) -> TrainingSettings:
        """Return ``self`` if every setting is valid and within :data:`BOUNDS`; else :class:`BadInput` naming it.

        Run by the constructor (and so by ``replace``, :meth:`network`, :meth:`normalized`): settings that exist
        can be trained."""
        if not isinstance(self.dataset, str) or not self.dataset:
            raise BadInput(f"dataset must be a name, got {self.dataset!r}")
        if self.solver not in SOLVERS:
            raise BadInput(f"solver must be one of {SOLVERS}, got {self.solver!r}")
        for name, (low, high) in BOUNDS.items():
            value = getattr(self, name)
            whole = name in WHOLE_NUMBERS
            kind_ok = isinstance(value, int) if whole else isinstance(value, (int, float)) and math.isfinite(value)
            if isinstance(value, bool) or not kind_ok or not low <= value <= high:
                kind = "a whole number" if whole else "a number"
                raise BadInput(f"{name} must be {kind} from {low:g} to {high:g}, got {value!r}")
        if self.defended and self.solver != "sgd":
            raise BadInput("the defenses (adversarial_eps, l1) train with the sgd solver")
        if isinstance(self.hidden, bool) or self.hidden not in HIDDEN_SIZES:
            raise BadInput(f"hidden must be one of {HIDDEN_SIZES}, got {self.hidden!r}")
        if self.hidden and self.defended:
            raise BadInput("the network (hidden > 0) trains without a defense")
        return self

    @property
    def defended(self) -> bool:
        """Trained with a defense: adversarial training or L1 weight decay (see :mod:`core.defense`)."""
        return self.adversarial_eps > 0 or self.l1 > 0

    def network(self, hidden: int) -> TrainingSettings:
        """The ReLU network beside this model: ``hidden`` units, the same data, epochs and seed (Adam's own step
        and batch of 100; no defense). ``network(0)`` is the undefended linear model."""
        return replace(self.undefended(), hidden=hidden).normalized()

    def undefended(self) -> TrainingSettings:
        """The same settings with no defense: the normal model a defended one is compared with."""
        return replace(self, adversarial_eps=0.0, l1=0.0)

    def normalized(self) -> TrainingSettings:
        """Blank out the settings the solver ignores, and put the defenses' strengths on their steps
        (:func:`snap_strength`), so neither causes a retrain."""
        defaults = TrainingSettings()
        if self.hidden:  # Adam with its own step and batch: only the data, the epochs and the seed decide it
            return replace(defaults, dataset=self.dataset, epochs=self.epochs, seed=self.seed, hidden=self.hidden)
        if self.solver == "sgd":
            return replace(
                self,
                C=defaults.C,
                adversarial_eps=snap_strength("adversarial_eps", self.adversarial_eps),
                l1=snap_strength("l1", self.l1),
            )
        return replace(self, learning_rate=defaults.learning_rate, batch_size=defaults.batch_size, seed=defaults.seed)

    def to_json(self) -> str:
        """The settings as JSON (how the training child receives them): :meth:`from_json` reads them back."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrainingSettings:
        return cls(**json.loads(text))

    def file_key(self) -> str:
        fields = asdict(self)
        for defense in ("adversarial_eps", "l1", "hidden"):  # none: the same key as before these existed
            if not fields[defense]:
                del fields[defense]
        text = json.dumps({"format": MODEL_FORMAT, **fields}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    def model_path(self) -> Path:
        """Where the weights are kept, so a restarted server does not retrain."""
        folder = cache_folder("models")
        if folder is None:
            raise TrainingFailed("the server has no writable folder to keep trained weights in")
        return folder / f"{self.file_key()}.npz"


def fields_of(settings_class=None) -> tuple[str, ...]:
    """The names of the settings (every field of :class:`TrainingSettings`), in order."""
    return tuple(field.name for field in fields(settings_class or TrainingSettings))


def snap_strength(name: str, value: float) -> float:
    """A defense's strength on its nearest step: ``adversarial_eps`` to 0.01, ``l1`` to the 1-2-5 scale (0 stays 0)."""
    if not value or not math.isfinite(value) or value < 0:
        return value
    if name == "adversarial_eps":
        return round(max(round(value / ADVERSARIAL_EPS_STEP), 1) * ADVERSARIAL_EPS_STEP, 2)
    if name == "l1":
        return min(L1_STEPS, key=lambda step: abs(math.log(step / value)))
    raise ValueError(f"no strength steps for {name!r}")


DEFAULTS = TrainingSettings()
