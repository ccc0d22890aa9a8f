"""The benchmark harness runs end to end on small workloads (its numbers live in BENCHMARKS.md, not in assertions).

In two halves, each in a file of its own, so the two test workers run them side by side; the real servers of
sections 12 and 13 are in tests/test_benchmarks_servers.py.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IN_PROCESS = (
    "engine",
    "training",
    "app",
    "storm",
    "cold",
    "pairs",
    "lab",
    "defenses",
    "photos",
    "network",
    "cost",
    "lesson",
    "norms",
    "verifier",
    "verifier_page",
    "network_visits",
)


def quick_report(tmp_path: Path, parts) -> str:
    """``python -m benchmarks --quick --only PARTS``'s report."""
    out = tmp_path / "BENCHMARKS.md"
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(out), "--only", *parts],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,  # about 26 s alone: room for a busy machine
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "missing ScriptRunContext" not in completed.stdout + completed.stderr  # nothing to ignore in the output
    return out.read_text()


def test_quick_benchmarks_run_and_report_every_section(tmp_path):
    report = quick_report(tmp_path, IN_PROCESS)
    sections = (
        "1. Sweep engine",
        "2. Exact minimal epsilon",
        "3. Training",
        "4. Loading",
        "5. The app",
        "6. How cost grows",
        "7. Many visitors at once",
        "8. A sleeping app wakes",
        "9. All pairs",
        "10. The attack lab",
        "11. Defenses",
        "14. Photos",
        "15. Beyond linear",
        "16. The cost of a training",
        "17. The lesson",
        "18. Every norm",
        "19. The network's complete verifier",
        "20. The network's best attack on the page",
        "21. Beyond linear in the browser",
    )
    for section in sections:
        assert f"## {section}" in report
    assert "same numbers: yes" in report  # the fast sweep and the loop agree
    assert "exact is never larger than the grid's answer | yes" in report
    assert "missed" not in report and " met |" not in report  # small workloads check the harness: no verdicts
