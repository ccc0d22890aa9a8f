"""The named exceptions that core raises for problems a person can fix."""


class DatasetUnavailable(RuntimeError):
    """A dataset cannot be loaded: offline, missing files, or corrupt files.

    The message says which dataset or file, what is wrong, and what to do.
    """


class BadInput(ValueError):
    """An argument core cannot use (a shape, a pixel outside [0, 1], a digit that is not 0-9, ...).

    The message names the argument and says what it must be. A ``ValueError``,
    so callers that catch that keep working.
    """


class ImageRejected(ValueError):
    """An uploaded image cannot be turned into a digit; the message says why."""


class TrainingFailed(RuntimeError):
    """A training did not finish: stopped when nobody waited for it, over its time limit, or its process died.

    The message says what happened in plain words (never a server path);
    asking again starts a fresh training.
    """


class TooCostly(RuntimeError):
    """A training that could not finish within the server's limit, refused before it starts; the message says
    what it would cost and what to pick instead."""
