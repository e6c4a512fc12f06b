"""Roles and what each may do: one table, read by the service layer (to refuse an
action before it happens) and by the accountability replay (to judge, from the audit
chain alone, whether each recorded action was allowed when it was done)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["GRANTS", "WHY", "Permission", "Role"]


class Role(StrEnum):
    ADMIN = "admin"
    INSPECTOR = "inspector"
    AUDITOR = "auditor"
    VIEWER = "viewer"


class Permission(StrEnum):
    READ = "read"
    IMPORT = "import"
    DETECT = "detect"
    TRIAGE = "triage"
    APPROVE = "approve"
    ASSIGN = "assign"
    REPORT = "report"
    MANAGE_USERS = "manage users"
    CONFIGURE = "configure"


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset({Permission.READ, Permission.IMPORT, Permission.DETECT,
                           Permission.ASSIGN, Permission.MANAGE_USERS, Permission.CONFIGURE}),
    Role.INSPECTOR: frozenset({Permission.READ, Permission.IMPORT, Permission.DETECT,
                               Permission.TRIAGE, Permission.ASSIGN}),
    Role.AUDITOR: frozenset({Permission.READ, Permission.IMPORT, Permission.DETECT,
                             Permission.TRIAGE, Permission.ASSIGN, Permission.APPROVE,
                             Permission.REPORT}),
    Role.VIEWER: frozenset({Permission.READ}),
}

WHY: dict[Permission, str] = {
    Permission.READ: "read this workspace",
    Permission.IMPORT: "import files",
    Permission.DETECT: "run detection",
    Permission.TRIAGE: "mark findings or add notes",
    Permission.APPROVE: "approve decisions (four-eyes)",
    Permission.ASSIGN: "assign findings",
    Permission.REPORT: "write reports",
    Permission.CONFIGURE: "change workspace settings",
    Permission.MANAGE_USERS: "manage users",
}
