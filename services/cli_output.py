"""Tables the `trial-ledger` read commands print (endpoints, accounts, declared cutoffs)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from rich.table import Table

from domain.protocol import KM_CI_TRANSFORM_DEFAULT

NOT_ESTIMABLE = "not estimable"


def _pct(rate: float | None) -> str:
    return NOT_ESTIMABLE if rate is None else f"{100 * rate:.1f}%"


def _months(months: float | None) -> str:
    return "NR" if months is None else f"{months} mo"


def _ci(bounds: list[float | None] | None, show: Callable[[Any], str], method: str) -> str:
    """'low to high (method)'; an upper limit never reached prints NR; no limit at all, or no
    interval, prints 'not estimable'."""
    if bounds is None or all(b is None for b in bounds):
        return NOT_ESTIMABLE
    low, high = ("NR" if b is None else show(b) for b in bounds)
    return f"{low} to {high} ({method})"


def endpoints_table(report: dict[str, Any]) -> Table:
    """The GET /api/v1/endpoints body as a table; each interval names its method, NR = not
    reached, 'not estimable' where there is nobody to estimate from."""
    table = Table(title=f"{report['criteria']} endpoints at cutoff {report['cutoff']} "
                        f"(as of {report['as_of']})",
                  caption="NR: not reached. Rates: Clopper-Pearson exact intervals; medians: "
                          "Kaplan-Meier with Brookmeyer-Crowley limits; landmark rates: "
                          f"Kaplan-Meier with {KM_CI_TRANSFORM_DEFAULT} Greenwood bands.")
    for column in ("measure", "value", "95% CI (method)"):
        table.add_column(column)
    pop = report["population"]
    table.add_row("enrolled / treated / evaluable",
                  f"{pop['enrolled']} / {pop['treated']} / {pop['evaluable']}", "")
    for code, count in report["best_overall_response"].items():
        table.add_row(f"best overall response {code}", str(count), "")
    for label, name, key in (("ORR (CR+PR)", "orr", "responders"),
                             ("DCR (CR+PR+SD)", "dcr", "count")):
        block = report[name]
        if block["n"] == 0:
            table.add_row(label, f"{NOT_ESTIMABLE} (no evaluable participants)", "")
            continue
        table.add_row(label, f"{block[key]}/{block['n']} = {_pct(block['rate'])}",
                      _ci(block["ci95"], _pct, "Clopper-Pearson"))
    nobody = {"dor": "no responders", "pfs": "nobody treated", "os": "nobody treated"}
    for name in ("dor", "pfs", "os"):
        block = report[name]
        label = name.upper()
        if block["n"] == 0:
            table.add_row(f"{label} median", f"{NOT_ESTIMABLE} ({nobody[name]})", "")
            continue
        table.add_row(f"{label} median (n {block['n']}, events {block['events']}, "
                      f"censored {block['censored']})", _months(block["median_months"]),
                      _ci(block["ci95"], _months,
                          f"{KM_CI_TRANSFORM_DEFAULT}, Brookmeyer-Crowley"))
        for landmark in (6, 12):
            rate = block.get(f"rate_{landmark}m")
            if rate is not None:
                table.add_row(f"{label} rate at {landmark} months", _pct(rate["estimate"]),
                              "" if rate["estimate"] is None else
                              _ci(rate["ci95"], _pct, f"{KM_CI_TRANSFORM_DEFAULT}, Greenwood"))
    return table


def accounts_table(accounts: Iterable[dict[str, Any]]) -> Table:
    """Every account's public view (no password material)."""
    table = Table(title="accounts")
    for column in ("username", "full name", "role", "sites", "active", "locked"):
        table.add_column(column)
    for view in accounts:
        locked = "no"
        if view["locked"]:
            until = f" until {view['locked_until']}" if view.get("locked_until") else ""
            locked = f"yes, by {view['locked_by']}{until}"
        table.add_row(view["username"], view["full_name"], view["role"],
                      ", ".join(view["sites"]) or "-", "yes" if view["active"] else "no",
                      locked)
    return table


def cutoffs_table(cutoffs: Iterable[dict[str, Any]]) -> Table:
    """Declared cutoffs in the order they were declared."""
    table = Table(title="declared data cutoffs")
    for column in ("name", "cutoff date", "declared by", "recorded at", "reason"):
        table.add_column(column)
    for cutoff in cutoffs:
        table.add_row(cutoff["name"], cutoff["cutoff_on"], cutoff["declared_by"],
                      cutoff["recorded_at"], cutoff["reason"])
    return table
