"""The named exceptions that core raises for problems a person can fix."""


class DatasetUnavailable(RuntimeError):
    """A dataset cannot be loaded: offline, missing files, or corrupt files.

    The message says which dataset or file, what is wrong, and what to do.
    """


class ImageRejected(ValueError):
    """An uploaded image cannot be turned into a digit; the message says why."""
