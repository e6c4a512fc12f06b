"""Signature page: author, date and the empty box the signer fills (always last)."""

from __future__ import annotations

from typing import Any

from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.platypus import Spacer  # type: ignore[import-untyped]

from oversight.report.layout import Context, SignatureBox
from oversight.report.text import escape, when

__all__ = ['signature']


def signature(ctx: Context) -> list[Any]:
    t, d = ctx.t, ctx.data
    box = SignatureBox(t.num("signature", "box_width_mm") * mm,
                        t.num("signature", "box_height_mm") * mm,
                        t.colour("styles", "colours", "rule"), ctx.signature)
    return [ctx.heading(t.words("title_signature"), t.settings["wording"]["title_signature"],
                        0, "h1"),
            ctx.p(t.words("signature_intro")),
            ctx.kv([(t.words("signature_author"), escape(d.author)),
                    (t.words("signature_date"), escape(when(d.created_at)))], 0.22),
            Spacer(1, 10 * mm), ctx.p(t.words("signature_caption"), "label"),
            Spacer(1, 1.5 * mm), box]
