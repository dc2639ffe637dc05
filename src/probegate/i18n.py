"""The languages probegate speaks (English, Korean) and a piece of text in each.

Rules: nothing here knows what the words say; the reason table (`health/messages.py`), the CLI's
tables, the demo and the proxy's own answers hold their words as `Words` and pick one by `Lang`.
This module imports nothing of probegate, so every layer may use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Lang(StrEnum):
    EN = "en"
    KO = "ko"


@dataclass(frozen=True, slots=True)
class Words:
    en: str
    ko: str

    def in_(self, lang: Lang) -> str:
        return self.ko if lang is Lang.KO else self.en
