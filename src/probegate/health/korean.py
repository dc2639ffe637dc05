"""Korean particles that depend on the word before them (이/가, 을/를, 은/는, 과/와).

Rules: a template writes `{fact}(이/가)`; the particle is chosen from how the fact's value ends
when read aloud — a Hangul syllable by its final consonant, a number by the Korean name of its
last digit (503 → 삼 → 503이; 0 and round numbers end in 영/십/백/천, all with a final consonant)
— and attached without a space. A value that ends in anything else (a Latin letter, a path) gets
the paired form, `이(가)`, which reads right either way. Pure: no I/O.
"""

from __future__ import annotations

import re

# Digits whose Korean name ends in a vowel: 2 이, 4 사, 5 오, 9 구.
_VOWEL_DIGITS = frozenset("2459")
_MARKER = re.compile(r"\{(\w+)\}\((이|을|은|과)/(가|를|는|와)\)")


def ends_in_consonant(word: str) -> bool | None:
    """True / False when the reading is known, None when it is not (Latin letters, symbols)."""
    if not word:
        return None
    last = word[-1]
    if "가" <= last <= "힣":
        return (ord(last) - ord("가")) % 28 != 0
    if last.isdigit():
        return last not in _VOWEL_DIGITS
    return None


def particle(word: str, after_consonant: str, after_vowel: str) -> str:
    consonant = ends_in_consonant(word)
    if consonant is None:
        return f"{after_consonant}({after_vowel})"
    return after_consonant if consonant else after_vowel


def attach_particles(template: str, facts: dict[str, str] | None = None, **more: str) -> str:
    """Replace each `{fact}(이/가)` marker by `{fact}` plus the particle its value takes."""
    values = {**(facts or {}), **more}

    def choose(found: re.Match[str]) -> str:
        name, consonant, vowel = found.groups()
        return f"{{{name}}}{particle(values.get(name, ''), consonant, vowel)}"

    return _MARKER.sub(choose, template)
