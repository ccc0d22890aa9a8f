"""``python -m benchmarks``: how fast every step is, measured side by side, written to BENCHMARKS.md.

Every comparison is a ratio measured in the same run (the machine is noisy:
each timing is the median of several repeats). ``--quick`` shrinks every
workload so the harness is smoke-tested in CI in well under a minute; it
writes nothing unless ``--out`` is given.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from benchmarks.app import app
from benchmarks.cold import cold_wake
from benchmarks.common import ROOT, Report, machine
from benchmarks.cost import cost
from benchmarks.defenses import defenses
from benchmarks.engine import engine
from benchmarks.footprint import footprint
from benchmarks.lab import attack_lab
from benchmarks.lesson import lesson
from benchmarks.network import network
from benchmarks.network_visits import network_visits
from benchmarks.norms import norms
from benchmarks.pairs import all_pairs
from benchmarks.photos import photos
from benchmarks.report import write_markdown
from benchmarks.shared_server import shared_server
from benchmarks.storm import storm
from benchmarks.training import training_and_loading
from benchmarks.verifier import verifier
from benchmarks.verifier_page import verifier_page

# Each section: a module of this package, with one function that adds its rows to the report.
PARTS = {
    "engine": engine,
    "training": training_and_loading,
    "app": app,
    "storm": storm,
    "cold": cold_wake,
    "pairs": all_pairs,
    "lab": attack_lab,
    "defenses": defenses,
    "shared": shared_server,
    "footprint": footprint,
    "photos": photos,
    "network": network,
    "cost": cost,
    "lesson": lesson,
    "norms": norms,
    "verifier": verifier,
    "verifier_page": verifier_page,
    "network_visits": network_visits,
}


def quiet_streamlit() -> None:
    """The app's cached functions, called here outside a running app, warn on every call ("missing
    ScriptRunContext"): not news in a benchmark. A filter, since AppTest sets the loggers' levels again."""
    from streamlit.runtime.scriptrunner_utils import script_run_context

    logging.getLogger(script_run_context.__name__).addFilter(
        lambda record: "missing ScriptRunContext" not in record.getMessage()
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small workloads: checks the harness, not the numbers")
    parser.add_argument("--out", type=Path, help="where to write the report (default BENCHMARKS.md; --quick: none)")
    parser.add_argument(
        "--only", nargs="+", choices=list(PARTS), metavar="PART", help=f"run these parts only: {', '.join(PARTS)}"
    )
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    quiet_streamlit()
    report = Report(quick=args.quick)
    started = time.perf_counter()
    print(machine())
    for name, part in PARTS.items():
        if args.only is None or name in args.only:
            began = time.perf_counter()
            part(report, args.quick)
            print(f"[{name}: {time.perf_counter() - began:.1f} s]", flush=True)
    out = args.out or (None if args.quick else ROOT / "BENCHMARKS.md")
    if out:
        write_markdown(report, out, time.perf_counter() - started)
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
