"""Audit reports: data gathered from a workspace, a PDF built from a template, an
embedded JSON manifest, and a PAdES signature anyone can verify."""
