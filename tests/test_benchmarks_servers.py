"""The benchmark harness's sections with real servers (12 and 13) run end to end on small workloads."""

from tests.test_benchmarks import IN_PROCESS, quick_report


def test_quick_benchmarks_with_real_servers_run_and_report(tmp_path):
    from benchmarks.__main__ import PARTS

    rest = [part for part in PARTS if part not in IN_PROCESS]
    assert rest == ["shared", "footprint"]  # every part is run by one of the two smoke tests
    report = quick_report(tmp_path, rest)
    for section in ("12. A shared server", "13. Footprint"):
        assert f"## {section}" in report
    assert "connection closed unread | 3 of 3" in report  # the pad flood ran against a real server
