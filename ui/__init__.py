"""The PySide6 desktop workstation (planned: see the desktop-workstation issue).

It will talk to the core through the `oversight` service API only, never SQL.
"""
