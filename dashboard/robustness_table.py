"""The verified robustness table of Beyond linear, laid out: one column per ε, the network's rows and then the
linear model's, short enough for a phone."""

from __future__ import annotations

import numpy as np
import pandas as pd


def percent(share: float) -> str:
    return f"{share:.1%}"


def spoken_total(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def frame(network_rows, linear_rows: list[dict]) -> pd.DataFrame:
    """The table: rows are what is measured, columns the epsilons (the network's rows are
    :class:`core.network_table.TableRow`, the linear model's dicts with the same epsilons)."""
    columns = [f"ε = {row.eps:g}" for row in network_rows]
    measures = {
        "Network: sign step": [percent(r.sign_step) for r in network_rows],
        "Network: PGD": [percent(r.pgd) for r in network_rows],
        "Network: verified robust": [percent(r.verified) for r in network_rows],
        "Network: certified (CROWN)": [percent(r.certified) for r in network_rows],
        "Network: settled": [percent(r.settled) for r in network_rows],
        "Linear: sign step": [percent(r["sign_step"]) for r in linear_rows],
        "Linear: PGD": [percent(r["pgd"]) for r in linear_rows],
        "Linear: robust (exact)": [percent(r["robust"]) for r in linear_rows],
    }
    return pd.DataFrame(measures, index=columns).T


def caption(table: dict, linear_rows: list[dict], hidden: int, shipped: bool) -> str:
    """What the table's numbers are: its images, both clean accuracies, the verifier's limit and its times."""
    rows = table["rows"]
    seconds = [r.median_seconds for r in rows]
    worst = max(r.worst_seconds for r in rows)
    total = sum(r.total_seconds for r in rows)
    where = (
        "computed by the app's own command and shipped with the network's weights"
        if shipped
        else "computed on this server for these settings"
    )
    unsettled = [f"{r.eps:g}" for r in rows if r.settled < 1]
    gap = (
        f" At ε = {', '.join(unsettled)} some images ran out of time: the true share lies between the verified "
        "and the PGD row."
        if unsettled
        else " Every image is settled: the verified row is the network's exact robust accuracy."
    )
    return (
        f"Accuracy of the first {table['images']:,} test images under an L∞ change of at most ε, untargeted (any "
        f"wrong answer counts). Clean accuracy: network ({hidden} units) {percent(rows[0].clean)}, linear "
        f"{percent(linear_rows[0]['clean'])}. The attacks (sign step, PGD with 20 steps) give upper bounds; "
        "**verified robust** is proven by the complete verifier (branch and bound over the ReLUs), "
        f"at most {table['time_limit']:g} s per image and ε; **certified** is CROWN's bound alone. "
        f"Verifier time per image: median {np.median(seconds):.2f} s, worst {worst:.1f} s, "
        f"{spoken_total(total)} for the whole table; {where}.{gap} For the linear model every cell is exact: its "
        "robust accuracy is the certified radius's, which the best attack reaches."
    )
