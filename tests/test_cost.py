"""The cost of a training, reckoned before it starts: what it predicts, and what it refuses."""

import pytest

from core.inputs.settings import TrainingSettings
from core.jobs.cost import CONFIRM_ABOVE, expected, refusal, spoken
from core.jobs.models import TIME_LIMIT

FULL, EMBEDDED = (60_000, 10_000), (4_000, 1_000)


def test_a_training_costs_more_for_more_epochs_images_units_and_smaller_batches():
    base = TrainingSettings()
    assert expected(base, *EMBEDDED).seconds < expected(TrainingSettings(epochs=50), *EMBEDDED).seconds
    assert expected(base, *EMBEDDED).seconds < expected(base, *FULL).seconds
    assert expected(base, *EMBEDDED).seconds < expected(TrainingSettings(batch_size=10), *EMBEDDED).seconds
    costs = [expected(TrainingSettings(hidden=h), *FULL).seconds for h in (16, 64, 256)]
    assert costs == sorted(costs) and costs[0] < costs[-1] / 3
    assert expected(TrainingSettings(adversarial_eps=0.1), *FULL).seconds > expected(base, *FULL).seconds


def test_every_setting_on_the_embedded_digits_fits_without_asking():
    """The default data never makes a visitor wait for a question: its costliest settings take seconds."""
    costliest = [
        TrainingSettings(epochs=100, hidden=256),
        TrainingSettings(epochs=100, batch_size=10, adversarial_eps=0.3),
        TrainingSettings(epochs=100, solver="lbfgs"),
        TrainingSettings(epochs=100, batch_size=10),
    ]
    for settings in costliest:
        assert expected(settings, *EMBEDDED).seconds < CONFIRM_ABOVE, settings


def test_a_setting_past_the_limit_is_refused_with_what_to_pick_instead():
    settings = TrainingSettings(epochs=100, batch_size=10, adversarial_eps=0.1)
    reason = refusal(settings, FULL, TIME_LIMIT, EMBEDDED)
    assert reason.startswith("this model would take about 7 min") and "limit of about 5 min" in reason
    fits = int(reason.split("at most ")[1].split(" epochs")[0])
    assert expected(TrainingSettings(epochs=fits, batch_size=10, adversarial_eps=0.1), *FULL).seconds <= TIME_LIMIT
    assert expected(TrainingSettings(epochs=fits + 1, batch_size=10, adversarial_eps=0.1), *FULL).seconds > TIME_LIMIT
    assert "the embedded 5,000 digits" in reason
    assert refusal(TrainingSettings(epochs=100, hidden=256), FULL, TIME_LIMIT, EMBEDDED) is None  # 3 min: it fits
    tight = refusal(TrainingSettings(epochs=100, hidden=256), FULL, 60.0, EMBEDDED)
    assert "64 hidden units" in tight or "16 hidden units" in tight


@pytest.mark.parametrize(
    ("seconds", "said"), [(3, "about 5 s"), (42, "about 40 s"), (89, "about 90 s"), (250, "about 4 min")]
)
def test_a_duration_is_said_as_a_person_says_it(seconds, said):
    assert spoken(seconds) == said
