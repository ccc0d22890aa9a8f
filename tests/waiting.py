"""Waiting for something another process or thread does, a moment after it is asked (longer on a loaded machine)."""

import time


def soon(condition, seconds: float = 3.0) -> bool:
    """Whether ``condition()`` holds within ``seconds``, looked at every 20 ms."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
