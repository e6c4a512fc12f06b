"""Every indicator of the demo, recomputed from what `oversight findings --format json`,
`oversight records --json`, `oversight runs --json` and `oversight criteria show --json`
print, in plain Python here (channels, local months, attribution to the earliest
operation, Wilson by its quadratic), and compared with `oversight indicators --json`."""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from oversight.cli import main
from oversight.demo import AUDITOR, INSPECTOR, build_demo

PASSWORD = "demo-password"
ZONE = "Europe/Paris"
Z = 1.959963984540054
INTRUSIVE_ACTIONS_KEY = "intrusive_actions"


def cli(folder: Path, user: str, *args: str) -> Any:
    result = CliRunner().invoke(main, [args[0], str(folder), *args[1:]],
                                env={"OVERSIGHT_USER": user, "OVERSIGHT_PASSWORD": PASSWORD})
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if ("--json" in args or "json" in args) else result


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("ind-demo") / "ws"
    build_demo(folder, "admin", PASSWORD, 3000, 20261128)
    cli(folder, "admin", "timezone", ZONE)
    # More decisions than the demo's few, so rates have something to rest on.
    cli(folder, INSPECTOR, "mark", "--filter-rule", "PUR-02", "--status", "confirmed",
        "--note", "outsider access")
    cli(folder, INSPECTOR, "mark", "--filter-rule", "PRO-03", "--status", "dismissed",
        "--reason", "justified", "--note", "night shift")
    imports = cli(folder, AUDITOR, "imports", "--json")
    _IMPORTED.update({b["batch_id"]: datetime.fromisoformat(b["imported_at"]) for b in imports})
    return {
        "folder": folder,
        "findings": cli(folder, AUDITOR, "findings", "--format", "json"),
        "records": cli(folder, AUDITOR, "records", "--limit", "1000000", "--json"),
        "runs": cli(folder, AUDITOR, "runs", "--json"),
        "pack": json.loads(CliRunner().invoke(main, ["criteria", "show", "--json"]).stdout),
    }


def wilson(k: int, n: int) -> tuple[float, float]:
    phat, z2 = k / n, Z * Z
    a, b, c = 1 + z2 / n, -(2 * phat + z2 / n), phat * phat
    disc = math.sqrt(b * b - 4 * a * c)
    return max(0.0, (-b - disc) / (2 * a)), min(1.0, (-b + disc) / (2 * a))


def expected(demo: dict[str, Any], key: Callable[[dict[str, Any]], Any],
             finding_key: Callable[[dict[str, Any]], Any] | None = None
             ) -> dict[Any, dict[str, Any]]:
    """Rows keyed by the group value: operations, findings and the review's numbers."""
    records = demo["records"]
    by_record = {r["record_id"]: r for r in records}
    assert len(by_record) == len(records)  # one operations batch: record ids are unique
    latest = demo["runs"][-1]
    counted = [f for f in demo["findings"] if f["pack"] == latest["pack"] and f["matching"]]
    # A rule or severity is measured against every operation: no operation groups then.
    ops: Counter[Any] = Counter(key(r) for r in records) if finding_key is None else Counter()
    cells: dict[Any, Counter[str]] = defaultdict(Counter)
    for f in counted:
        members = [by_record[i] for i in f["record_ids"] if i in by_record]
        if not members:
            continue  # a log-completeness finding resting on no operation: left out
        # The earliest operation: by time (those without one last), then by row.
        first = min(members, key=lambda r: (
            "ts" not in r["fields"],
            utc(r["fields"]["ts"]) if "ts" in r["fields"] else datetime.min.replace(
                tzinfo=ZoneInfo("UTC")), r["rid"]))
        group = finding_key(f) if finding_key is not None else key(first)
        status = f["status"] if f["status"] in ("confirmed", "dismissed") else "open"
        cells[group][status] += 1
    out: dict[Any, dict[str, Any]] = {}
    for group in set(ops) | set(cells):
        c = cells.get(group, Counter())
        n_ops = ops.get(group, 0) if finding_key is None else len(records)
        decided = c["confirmed"] + c["dismissed"]
        total = sum(c.values())
        out[group] = {"operations": n_ops, "findings": total, "confirmed": c["confirmed"],
                      "dismissed": c["dismissed"], "open": c["open"], "decided": decided,
                      "per_1000": 1000 * total / n_ops if n_ops else None,
                      "confirmed_rate": c["confirmed"] / decided if decided else None,
                      "ci": wilson(c["confirmed"], decided) if decided else None}
    return out


def utc(ts: str) -> datetime:
    return datetime.fromisoformat(ts).astimezone(ZoneInfo("UTC"))


_IMPORTED: dict[int, datetime] = {}


def local_month(r: dict[str, Any]) -> str | None:
    """The local month of an operation's time; None without a time, or with one that
    is implausible (before 1970, or more than a day after its batch was imported)."""
    if "ts" not in r["fields"]:
        return None
    moment = datetime.fromisoformat(r["fields"]["ts"])
    if moment < datetime(1970, 1, 1, tzinfo=ZoneInfo("UTC")) or \
            moment > _IMPORTED[r["batch_id"]] + timedelta(days=1):
        return None
    return moment.astimezone(ZoneInfo(ZONE)).strftime("%Y-%m")


def channel(pack: dict[str, Any]) -> Callable[[dict[str, Any]], str]:
    led = set(pack["lists"]["led_area"])
    intrusive = set(pack["lists"][INTRUSIVE_ACTIONS_KEY])

    def of(r: dict[str, Any]) -> str:
        f = r["fields"]
        action, country = f.get("action"), f.get("recipient_country")
        if action == "notice_request":
            return "interpol_notice"
        if action == "eaw_issue":
            return "eaw"
        if action == "transfer" and country and country not in led:
            return "third_country_transfer"
        if action == "transfer" and country in led:
            return "eu_transfer"
        if action in ("collect", "consult", "alter", "combine", "erase", "disclose"):
            return "domestic_access"
        if action in intrusive:
            return "intrusive_measure"
        return "other"

    return of


def compare(doc: dict[str, Any], want: dict[Any, dict[str, Any]], key: str) -> None:
    got = {r["group"][key]: r for r in doc["rows"]}
    nonempty = {g for g, w in want.items() if w["operations"] or w["findings"]}
    assert nonempty <= set(got), nonempty - set(got)
    for group, row in got.items():
        w = want.get(group)
        if w is None:  # a value listed even when empty (a channel, a rule, a severity)
            assert row["findings"] == 0 and row["confirmed_rate"] is None
            continue
        for column in ("operations", "findings", "confirmed", "dismissed", "open", "decided"):
            assert row[column] == w[column], (key, group, column)
        for column in ("per_1000", "confirmed_rate"):
            if w[column] is None:
                assert row[column] is None, (key, group, column)
            else:
                assert row[column] == pytest.approx(w[column], abs=1e-6), (key, group, column)
        if w["ci"] is None:
            assert row["ci_low"] is None and row["ci_high"] is None
        else:
            assert (row["ci_low"], row["ci_high"]) == pytest.approx(w["ci"], abs=1e-6)


def indicators(demo: dict[str, Any], *by: str) -> dict[str, Any]:
    args = [a for k in by for a in ("--by", k)]
    doc: dict[str, Any] = cli(demo["folder"], AUDITOR, "indicators", *args, "--json")
    assert doc["timezone"] == ZONE and doc["latest_run"] == demo["runs"][-1]["run_id"]
    return doc


def test_agency_role_channel_and_months(demo: dict[str, Any]) -> None:
    def field(name: str) -> Callable[[dict[str, Any]], Any]:
        return lambda r: (r["fields"].get(name) or "").strip() or None

    for name in ("agency", "actor_role"):
        compare(indicators(demo, name), expected(demo, field(name)), name)
    compare(indicators(demo, "channel"), expected(demo, channel(demo["pack"])), "channel")
    compare(indicators(demo, "month"), expected(demo, local_month), "month")

    def quarter(r: dict[str, Any]) -> str | None:
        m = local_month(r)
        if m is None:
            return None
        return f"{m[:4]}-Q{(int(m[5:]) - 1) // 3 + 1}"

    compare(indicators(demo, "quarter"), expected(demo, quarter), "quarter")


def test_rules_and_severities(demo: dict[str, Any]) -> None:
    compare(indicators(demo, "rule"), expected(demo, lambda r: None, lambda f: f["rule_id"]),
            "rule")
    compare(indicators(demo, "severity"),
            expected(demo, lambda r: None, lambda f: f["severity"]), "severity")


def test_agency_by_month_and_the_total(demo: dict[str, Any]) -> None:
    doc = indicators(demo, "agency", "month")
    want = expected(demo, lambda r: ((r["fields"].get("agency") or None), local_month(r)))
    got = {(r["group"]["agency"], r["group"]["month"]): r for r in doc["rows"]}
    assert set(got) == set(want)
    for group, w in want.items():
        assert (got[group]["operations"], got[group]["findings"],
                got[group]["confirmed"]) == (w["operations"], w["findings"], w["confirmed"])
    total = expected(demo, lambda r: "all")["all"]
    assert doc["total"]["operations"] == total["operations"] == len(demo["records"])
    assert doc["total"]["findings"] == total["findings"]
    assert doc["total"]["decided"] == total["decided"] >= 9
    # What the numbers rest on is named.
    assert doc["runs"] == [demo["runs"][-1]["run_id"]]
    assert doc["pack"]["id"] == demo["runs"][-1]["pack"]
    assert [s["seed"] for s in doc["samples"]] == [20261128]
    assert doc["filters"] == {"from": None, "to": None, "status": "any"}
