"""The PySide6 desktop workstation (see docs/gui.md).

It talks to the core through the `oversight` service API only, never SQL; `ui.qt` is
the one module that imports Qt. Entry point: `ui.app.main(argv)`.
"""
