"""Operations declare what they change (oversight.changes), typed."""

from __future__ import annotations

import pytest

from oversight import triage
from oversight.changes import Change, changes, changes_of
from oversight.criteria.engine import run_detection
from oversight.criteria.versions import activate, save_version
from oversight.importing.service import import_file
from oversight.integrity import verify
from oversight.report.service import produce_report
from oversight.retraction import retract_batch
from oversight.workspace import Workspace


def test_each_writing_operation_declares_its_kinds() -> None:
    assert changes_of(triage.mark) == {Change.FINDINGS, Change.AUDIT}
    assert changes_of(triage.add_notes) == {Change.FINDINGS, Change.AUDIT}
    assert changes_of(run_detection) == {Change.FINDINGS, Change.RUNS, Change.AUDIT}
    assert changes_of(import_file) == {Change.OPERATIONS, Change.BATCHES, Change.AUDIT}
    assert Change.FINDINGS in changes_of(retract_batch)
    assert changes_of(save_version) == changes_of(activate) == {Change.CRITERIA,
                                                                 Change.AUDIT}
    assert changes_of(Workspace.add_user, Workspace.remove_user) == {Change.USERS,
                                                                      Change.AUDIT}
    assert changes_of(verify) == {Change.VERIFY, Change.AUDIT}
    assert changes_of(produce_report) == {Change.AUDIT}
    assert changes_of(triage.set_escalation_to) == {Change.SETTINGS, Change.AUDIT}


def test_an_operation_that_declares_nothing_is_refused() -> None:
    def undeclared(ws: Workspace) -> None:
        return None

    with pytest.raises(TypeError, match="does not declare what it changes"):
        changes_of(undeclared)

    @changes()
    def only_audit(ws: Workspace) -> None:
        return None

    assert changes_of(only_audit, triage.mark) == {Change.FINDINGS, Change.AUDIT}
