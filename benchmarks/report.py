"""BENCHMARKS.md: the rows every section adds, written as Markdown with the notes on how they come about."""

from __future__ import annotations

import datetime
from pathlib import Path

from benchmarks.common import Report, machine

NOTES = """How the numbers come about:

- No compiler: the attack path is walked in plain numpy (numba and llvmlite, about 210 MB of the
  install and 4-5 s of a fresh deployment's first visit, are gone). Only grey pixels (strictly
  between 0 and 1) can stop on the way. A sweep sums each image's stops per grid interval with one
  sparse matrix product and accumulates them along the grid: ten logits per image and epsilon in a
  few array passes. The minimal epsilon starts at a lower bound of its answer (the target's lead is
  concave in epsilon: it cannot catch up before -margin / rise), then sorts only the next 24 stops
  of each image (twice as many each round), letting an image go as soon as it has its answer.
  Blocks of images run side by side on both cores (numpy releases the GIL).
- All pairs walk the nine targets' blocks side by side; the share fooled at one epsilon is the
  gradient sign attack itself, in bounded blocks.
- The optimal attack is a linear program, but most images need none: each other class alone needs
  a known epsilon (a clipped sign step), and when the class that needs the most is then the only
  one that binds, that epsilon is the optimum. The rest: a 9-row bounded simplex on the max-min of the
  nine leads at one epsilon (core/maxmin.py), and Newton's method on epsilon. The certified radius is
  the same clipped sign step, untargeted, with the competitors visited in the order of a bound
  (the lead is concave in epsilon) so that most are never walked.
- Training runs in a child process: the app server never imports scikit-learn or holds the
  training images, which is most of why the 70,000-image server stays under 500 MB.
- The first visit's model comes with the app (core/shipped_models/, rebuilt by a test: bit for bit
  with the libraries that made it), so a fresh deployment draws its first chart without training
  or importing scikit-learn.
- Trainings go through the one job system (core/jobs/): one per settings, shared by all who ask,
  as many at a time as the server has cores (os.sched_getaffinity), each stopped when nobody waits
  for it any more (1.5 s of grace, three of a page's half-second looks) or after 300 s of its own
  CPU time (so sharing a core never makes a training fail). Before it starts, the cost model
  (core/jobs/cost.py, section 16) predicts its time: over 30 s is said and waits for the visitor's
  click, past the limit is refused with what to pick instead. So a storm of visitors costs at most
  one training process per core, and a saved model never waits.
- The solvers that cannot stop themselves mid-call (the network's best attack, the fewest pixels) run in
  a child process (forked from one that has the solvers imported: a question costs a fork, not a second of
  imports), killed the moment nobody waits.
- A defended model trains in our own numpy SGD loop (scikit-learn has no loss at an attacked
  input): the exact worst case against each rival class is a clipped sign step, and images of one
  class share their nine lead vectors, so the worst-case logits of a batch are one thin matrix
  product per class present (both rooms side by side).
- Section 12 runs real servers. The abandoned labs and the idle visitor use Chromium; the eight
  lab visitors of the storm are raw websocket sessions (what a browser asks, without a browser:
  their browsers would run on their own devices, not on the server's two cores). Heavy results
  are shared work (`core/jobs/work.py`): one computation at a time, at nice 10, the oldest
  visit's first, stopped at the next block of images once nobody waits. The pad flood sends a
  real rerun message carrying a 24 MB pad value; `server.maxMessageSize = 2` makes the server
  drop the connection after reading the frame's header.
- Section 13's full MNIST is a stand-in, said where it appears: offline, its cache file holds
  Fashion-MNIST's 70,000 real images (same shape, type and split), so the server reads and keeps
  exactly what it would for MNIST.
- Section 15's network: the sign step's walk visits the pieces where a pixel stops or a hidden unit switches,
  one image at a time; the certificate is a bisection on epsilon over a CROWN bound (one matrix product with
  the first layer per step). Its integer program rows are the old baseline of the best attack (section 20).
- Sections 19-20: the complete verifier keeps one HiGHS program loaded (highspy) for a whole search, a branch
  being a change of bounds re-solved from the last basis (the same branches as a fresh linear program per
  branch, 6-7x faster). The networks are the shipped ones (the default settings); one BLAS thread. Section 21
  runs real servers pinned to one core, fresh each (an empty cache folder, the shipped weights and tables
  kept), and Chromium; the crowd's four visitors each ask a different digit, so nothing is shared.
- Section 18: the L2 and L1 optima are ours (core/norms.py: closed form against one rival, all nine rivals
  of 64 images at once; dual Newton for L2 and the long-step dual simplex for L1 where several bind); cvxpy
  with Clarabel is the reference, warmed once, one image at a time as ours. The attacks' rows ask every test
  image toward a target it is not (varied pairs); "never reached" counts images the attack never makes the target
  (the sign step up to ε = 1). The noise rows: the median over 40 random L2 directions of the distance where
  the answer first changes, ÷ the smallest change to any other answer (the network's: DeepFool's, an upper
  bound); "never": most directions end at a random half-white image the model still reads as the digit."""


def write_markdown(report: Report, path: Path, seconds: float) -> None:
    lines = [
        "# Benchmarks",
        "",
        f"Measured {datetime.date.today():%Y-%m-%d} by `python -m benchmarks` in {seconds:.0f} s on: {machine()}.",
        "",
        "Reproduce: `pip install -r requirements-dev.txt && python -m benchmarks` (Debian's `dataset-fashion-mnist` "
        "gives the real 70,000-image IDX set; Debian's `chromium` the browser). Ratios are measured side by side in "
        "one run; times are medians of repeats.",
        "",
    ]
    section = None
    for row_section, measure, value, target in sorted(report.rows, key=lambda row: int(row[0].split(".")[0])):
        if row_section != section:
            section = row_section
            lines += ["", f"## {section}", "", "| measure | value | target |", "| --- | ---: | --- |"]
        lines.append(f"| {measure} | {value} | {target} |")
    missed = [f"{row[1]} ({row[2]})" for row in report.rows if "missed" in row[3]]
    verdict = (
        "Targets are not judged: --quick runs small workloads, to check the harness."
        if report.quick
        else f"Targets missed: {'; '.join(missed) if missed else 'none'}."
    )
    lines += ["", "## Summary", "", verdict, "", NOTES]
    path.write_text("\n".join(lines) + "\n")
