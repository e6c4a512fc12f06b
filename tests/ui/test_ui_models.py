"""Item models pass Qt's model tester; the operations model is windowed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from test_demo_data import demo_finding_count
from ui_support import INSPECTOR

from oversight import browse
from oversight.criteria.pack import default_pack
from ui.main_window import MainWindow
from ui.models import FindingsModel, OperationsModel, TableModel
from ui.qt import Qt

pytest_plugins = ["ui_fixtures"]

Opener = Callable[..., MainWindow]


def test_findings_model(qtmodeltester: Any, open_window: Opener) -> None:
    window = open_window(INSPECTOR, page=1)
    model = window.triage.model
    assert model.rowCount() == demo_finding_count(3000, 20261128)
    qtmodeltester.check(model)
    assert model.data(model.index(0, 0), Qt.ItemDataRole.DecorationRole) is not None
    model.sort(2, Qt.SortOrder.DescendingOrder)
    qtmodeltester.check(model)
    empty = FindingsModel()
    qtmodeltester.check(empty)


def test_operations_model_fetches_only_what_is_shown(qtmodeltester: Any,
                                                     open_window: Opener) -> None:
    window = open_window(INSPECTOR, page=3)
    session = window.session
    fetched: list[list[int]] = []

    def fetch(rids: list[int]) -> list[dict[str, Any]]:
        fetched.append(rids)
        return session.read(browse.rows, rids)

    model = OperationsModel(lambda sort, desc: session.read(browse.rids, None, sort, desc),
                            fetch, lambda: session.ready)
    model.reload()
    assert model.rowCount() == 3000 and fetched == []  # ids only
    assert model.data(model.index(0, 1)) == session.read(browse.rows, [1])[0]["fields"]["action"]
    assert len(fetched) == 1 and len(fetched[0]) == OperationsModel.PAGE
    model.data(model.index(5, 2))
    assert len(fetched) == 1  # same page: from the cache
    model.data(model.index(2500, 0))
    assert len(fetched) == 2 and model.cached() == 2 * OperationsModel.PAGE
    # Sorting asks the core for a new id order.
    model.sort(0, Qt.SortOrder.DescendingOrder)
    assert model.sort_key == "ts" and model.descending
    first = model.record(0)
    last = model.record(2999)
    assert first is not None and last is not None
    assert first["fields"]["ts"] != last["fields"].get("ts")  # the last: no ts
    qtmodeltester.check(model)
    assert model.cached() <= OperationsModel.CACHE


def test_operations_model_does_not_read_while_busy(open_window: Opener) -> None:
    window = open_window(INSPECTOR, page=3)
    ready = [True]
    session = window.session
    model = OperationsModel(lambda sort, desc: session.read(browse.rids, None, sort, desc),
                            lambda rids: session.read(browse.rows, rids), lambda: ready[0])
    model.reload()
    ready[0] = False
    assert model.data(model.index(10, 1)) == "…"
    assert model.fetches == 0
    ready[0] = True
    assert model.data(model.index(10, 1)) != "…"


def test_table_models(qtmodeltester: Any, open_window: Opener) -> None:
    window = open_window(INSPECTOR)
    dash = window.dashboard
    # the demo plants irregularities for every rule of the pack, so each has findings
    assert dash.rules.rowCount() == len(default_pack().rules)
    assert dash.batches.rowCount() == 3
    qtmodeltester.check(dash.rules)
    qtmodeltester.check(dash.batches)
    window.sidebar.setCurrentRow(3)
    ops = window.operations
    ops.view.selectRow(0)
    assert ops.fields.rowCount() > 25
    qtmodeltester.check(ops.fields)
    qtmodeltester.check(ops.record_findings)
    model = TableModel(["a", "b"])
    model.set_rows([(1, "x"), (2_000, None)], ["#ff0000", None])
    assert model.data(model.index(1, 0)) == "2,000"
    qtmodeltester.check(model)
