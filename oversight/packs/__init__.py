"""Criteria packs shipped with the program (package data)."""
