"""The one job system: one job per question, a few at a time, stopped when nobody waits for it."""

import threading
import time

import numpy as np
import pytest

from core import stopping
from core.exact import optimal_epsilon
from core.jobs.work import GRACE, POLL, Jobs
from core.path import on_all_cores
from core.sweep import pair_attacks
from tests.waiting import soon


class Leave(Exception):
    """What a visitor's rerun or closed tab looks like to a waiting page."""


def slow(seconds: float, result, calls: list, step: float = 0.02):
    """A computation of ``seconds`` that checks in every ``step`` seconds."""

    def compute(handle=None):
        calls.append(result)
        for _ in range(round(seconds / step)):
            stopping.check()
            time.sleep(step)
        return result

    return compute


def leave_after(seconds: float):
    """An ``on_status`` that ends the wait after ``seconds`` (as a rerun does)."""
    until = time.monotonic() + seconds

    def on_status(status):
        if time.monotonic() > until:
            raise Leave

    return on_status


def test_two_askers_of_the_same_question_share_one_computation():
    work, calls, answers = Jobs(), [], []
    threads = [threading.Thread(target=lambda: answers.append(work.get("q", slow(0.3, 42, calls)))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [42, 42, 42] and calls == [42]
    assert work.get("q", slow(0.3, 0, calls)) == 42 and calls == [42]  # kept: answered at once, not again


def test_at_most_the_slots_run_at_once_and_the_rest_say_how_many_are_ahead():
    work, calls, statuses = Jobs(slots=1), [], []
    first = threading.Thread(target=lambda: work.get("a", slow(0.4, "a", calls)))
    first.start()
    time.sleep(0.05)
    assert work.get("b", slow(0.3, "b", calls), statuses.append, poll=0.05) == "b"
    first.join()
    assert statuses and statuses[0].ahead == 1 and statuses[-1].ahead == 0
    assert calls == ["a", "b"]  # in order: b started only when a had finished


def test_a_computation_nobody_waits_for_stops_at_its_next_checkpoint():
    work, calls = Jobs(grace=0.2), []
    started = time.monotonic()
    with pytest.raises(Leave):
        work.get("q", slow(30.0, 1, calls), leave_after(0.1), poll=0.05)
    while work.running():
        time.sleep(0.01)
        assert time.monotonic() - started < 2.0, "the abandoned computation went on"
    assert work.stopped == 1 and work.finished("q") is None
    assert work.get("q", slow(0.05, 2, calls)) == 2  # asked again: a fresh computation, not the stopped one


def test_a_rerun_that_asks_again_within_the_grace_keeps_the_computation():
    work, calls = Jobs(grace=0.5), []
    with pytest.raises(Leave):
        work.get("q", slow(0.4, 7, calls), leave_after(0.1), poll=0.05)
    assert work.get("q", slow(0.4, 8, calls)) == 7 and calls == [7] and work.stopped == 0


def test_a_queued_computation_nobody_waits_for_never_starts():
    work, calls = Jobs(slots=1, grace=0.0), []
    first = threading.Thread(target=lambda: work.get("a", slow(0.3, "a", calls)))
    first.start()
    time.sleep(0.05)
    with pytest.raises(Leave):
        work.get("b", slow(0.1, "b", calls), leave_after(0.05), poll=0.02)
    first.join()
    time.sleep(0.1)
    assert calls == ["a"] and work.stopped == 1


def test_an_error_reaches_every_waiter_and_is_not_kept():
    work = Jobs()

    def broken(handle):
        time.sleep(0.1)
        raise ValueError("bad data")

    errors = []

    def ask():
        try:
            work.get("q", broken)
        except ValueError as error:
            errors.append(str(error))

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == ["bad data", "bad data"]
    assert work.get("q", lambda handle: "fixed") == "fixed"


def test_only_the_most_recent_results_are_kept():
    work = Jobs(capacity=2)
    for key in "abc":
        work.get(key, lambda handle, key=key: key.upper())
    assert work.finished("a") is None and work.finished("b") == "B" and work.finished("c") == "C"


def test_checks_do_nothing_outside_a_job():
    stopping.check()
    assert on_all_cores(lambda item: item * 2, [1, 2, 3]) == [2, 4, 6]


def test_core_block_loops_stop_when_nobody_waits(model, dataset):
    """A real sweep (all pairs over many blocks) and the optimal attack's LP loop stop between blocks or images."""
    images = np.repeat(dataset.x_test, 20, axis=0)  # 20,000 images: many blocks, seconds of work
    labels = np.repeat(dataset.y_test, 20)
    work = Jobs(grace=0.1)
    for key, compute in [
        ("pairs", lambda handle: pair_attacks(model, images, labels)),
        ("optimal", lambda handle: optimal_epsilon(model, np.repeat(dataset.x_test[:200], 5, axis=0), 6)),
    ]:
        started = time.monotonic()
        with pytest.raises(Leave):
            work.get(key, compute, leave_after(0.1), poll=0.02)
        while work.running():
            time.sleep(0.01)
        assert time.monotonic() - started < 5, f"{key} went on for nobody"
    assert work.stopped == 2  # both stopped part-way (Cancelled), neither ran to its end


def test_the_settings_are_checked():
    with pytest.raises(ValueError, match="slots"):
        Jobs(slots=0)
    with pytest.raises(ValueError):
        Jobs(grace=-1)


def test_computations_give_way_to_visitors_pages():
    """Its threads (and core's block pool when it works for them) run at a lower CPU priority than the server's."""
    import os

    from core.path import on_all_cores
    from core.stopping import BACKGROUND_NICENESS

    def priorities(handle):
        here = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        pool = on_all_cores(lambda _: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()), [1, 2, 3, 4])
        return here, set(pool)

    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    here, pool = Jobs().get("priorities", priorities)
    assert here == own + BACKGROUND_NICENESS and pool == {own + BACKGROUND_NICENESS}
    assert set(on_all_cores(lambda _: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()), [1, 2])) == {own}


def test_the_oldest_visit_goes_first():
    """A page's later questions go before a newer page's first: each visitor gets a whole page, one after another."""
    work, calls, done = Jobs(slots=1), [], []
    blocker = threading.Thread(target=lambda: work.get("running", slow(0.3, "running", calls)))
    blocker.start()
    time.sleep(0.05)
    asks = [("new page", 200.0), ("old page, second question", 100.0), ("newest page", 300.0)]
    threads = [
        threading.Thread(target=lambda k=k, t=t: done.append(work.get(k, slow(0.05, k, calls), since=t)))
        for k, t in asks
    ]
    for thread in threads:
        thread.start()
        time.sleep(0.02)
    for thread in [blocker, *threads]:
        thread.join()
    assert calls == ["running", "old page, second question", "new page", "newest page"]


def test_every_waiter_gets_an_exception_of_its_own():
    work, caught, ready = Jobs(), [], threading.Barrier(2)

    def broken(handle):
        time.sleep(0.2)
        raise ValueError("bad data")

    def ask():
        ready.wait()
        try:
            work.get("q", broken)
        except ValueError as error:
            caught.append(error)

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [str(e) for e in caught] == ["bad data", "bad data"] and caught[0] is not caught[1]


def test_a_page_that_looks_without_waiting_keeps_the_computation_going_and_gets_its_result():
    """``peek`` never waits: it starts the computation, says where it stands, and looking again within the grace
    period keeps it going as a waiter would; then it hands over the result, shared with those who wait."""
    work, calls = Jobs(grace=0.3), []
    ready, status = work.peek("q", slow(0.6, 5, calls))
    assert not ready and status.ahead == 0
    while not ready:  # a page's fragment looking every 0.1 s
        time.sleep(0.1)
        ready, result = work.peek("q", slow(0.6, 6, calls))
    assert result == 5 and calls == [5] and work.stopped == 0
    assert work.get("q", slow(0.6, 7, calls)) == 5  # kept for everyone


def test_a_computation_a_page_stopped_looking_at_stops():
    work, calls = Jobs(grace=0.2), []
    assert not work.peek("q", slow(30.0, 1, calls))[0]
    started = time.monotonic()
    while work.running():  # nobody looks again: it stops after the grace period
        time.sleep(0.01)
        assert time.monotonic() - started < 2.0, "the computation nobody looked at went on"
    assert work.stopped == 1 and work.finished("q") is None


def test_a_rerun_delayed_past_the_polling_interval_but_within_the_grace_does_not_restart_the_job():
    """A busy server may delay a page's next look well past its polling interval: as long as it comes within the
    grace, the job goes on and is never started twice."""
    assert GRACE >= 2.5 * POLL  # the grace is safely longer than any page's polling
    work, calls = Jobs(), []
    assert not work.peek("q", slow(3 * GRACE, 9, calls))[0]
    ready = False
    while not ready:
        time.sleep(POLL * 2)  # each look twice as late as the page's polling
        ready, result = work.peek("q", slow(3 * GRACE, 10, calls))
    assert result == 9 and calls == [9] and work.stopped == 0


def test_a_closed_tab_stops_the_job_within_the_grace():
    work, calls = Jobs(), []
    assert not work.peek("q", slow(30.0, 1, calls))[0]  # a page looked once, then its tab closed
    started = time.monotonic()
    time.sleep(0.05)
    while work.running():
        time.sleep(0.01)
    assert time.monotonic() - started < GRACE + 0.5 and work.stopped == 1


def test_a_job_over_its_time_limit_is_stopped_and_says_why():
    work = Jobs(time_limit=0.2)
    with pytest.raises(stopping.Stopped, match="limit"):
        work.get("q", slow(30.0, 1, []))


def test_a_kept_job_runs_to_its_end_with_nobody_waiting():
    work, calls = Jobs(grace=0.05), []
    work.submit("q", slow(0.4, 3, calls), keep=True)
    while work.running():
        time.sleep(0.02)
    assert work.finished("q") == 3 and work.stopped == 0


def test_a_proof_in_its_child_process_runs_at_the_lowest_cpu_priority():
    """What may run to its time limit gives way to the pages and the shared work (both at a higher priority)."""
    import os

    from core.jobs.child import LOWEST, in_child

    assert in_child(os.getpriority, os.PRIO_PROCESS, 0) == LOWEST == 19


def _parent_and_self() -> tuple[int, int]:
    import os

    return os.getppid(), os.getpid()


def _sleep_then_answer(seconds: float) -> str:
    import time

    time.sleep(seconds)
    return "late"


def test_a_proofs_child_is_killed_once_nobody_wants_its_answer_and_the_next_is_forked_again():
    """Stopped while it works, the child is gone within a look or two; a forking process killed from outside is
    started again by the next question."""
    import os
    import signal
    from pathlib import Path

    from core.jobs import child

    asked = time.monotonic()
    with stopping.stop_when(lambda: time.monotonic() - asked > 0.3), pytest.raises(stopping.Stopped):
        child.in_child(_sleep_then_answer, 30.0)
    assert time.monotonic() - asked < 1.5
    forking = child.FORKER.process.pid
    assert soon(lambda: not Path(f"/proc/{forking}/task/{forking}/children").read_text().split())  # killed, reaped
    forker, pid = child.in_child(_parent_and_self)
    assert soon(lambda: not os.path.exists(f"/proc/{pid}"))  # ended and reaped by the forking process
    os.kill(forker, signal.SIGKILL)
    child.FORKER.process.wait()
    again, _ = child.in_child(_parent_and_self)
    assert again != forker
