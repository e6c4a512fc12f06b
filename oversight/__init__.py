"""Oversight Workstation: the domain core (no Qt).

Workspaces, users and roles, import, audit trail and verification. The CLI and the
desktop application both call the service API in `oversight.workspace` and
`oversight.importing`.
"""

__version__ = "0.1.0"
