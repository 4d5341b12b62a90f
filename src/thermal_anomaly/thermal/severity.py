"""How bad a thermal finding is: the NETA MTS classes as one ordered type, and their relative-scale variants.

Findings travel as JSON strings (``"probable deficiency"``, ``"relative: major"`` when only relative
temperature was known); the code compares and caps them through :class:`Severity`, so the order and the
``"relative: "`` prefix live in one place.
"""

from __future__ import annotations

from enum import IntEnum

#: prefix of a rating made on a relative scale (no °C read): same evidence, less trust
RELATIVE_PREFIX = "relative: "


class Severity(IntEnum):
    """NETA MTS classes from harmless to worst (``DEFICIENCY``: 21-40 °C over ambient, "monitor until
    corrected")."""

    NONE = 0
    POSSIBLE = 1
    PROBABLE = 2
    DEFICIENCY = 3
    MAJOR = 4

    @property
    def text(self) -> str:
        """The class as the JSON writes it, e.g. ``"probable deficiency"``."""
        return _TEXT[self]

    def label(self, relative: bool = False) -> str:
        """The JSON string, with the ``"relative: "`` prefix when rated on a relative scale."""
        return RELATIVE_PREFIX + self.text if relative and self is not Severity.NONE else self.text

    @classmethod
    def parse(cls, text: str | None) -> tuple[Severity, bool]:
        """(class, rated on a relative scale) of a JSON string; None and "" are ``NONE``."""
        if not text:
            return cls.NONE, False
        relative = text.startswith(RELATIVE_PREFIX)
        base = text.removeprefix(RELATIVE_PREFIX)
        if base not in _BY_TEXT:
            raise ValueError(f"unknown severity {text!r} (known: {', '.join(KNOWN_SEVERITIES)})")
        return _BY_TEXT[base], relative


_TEXT = {
    Severity.NONE: "none",
    Severity.POSSIBLE: "possible deficiency",
    Severity.PROBABLE: "probable deficiency",
    Severity.DEFICIENCY: "deficiency",
    Severity.MAJOR: "major",
}
_BY_TEXT = {text: s for s, text in _TEXT.items()}
#: the classes' strings from harmless to worst
SEVERITIES = tuple(s.text for s in Severity)
#: every severity string a report can carry
KNOWN_SEVERITIES = SEVERITIES + tuple(s.label(relative=True) for s in list(Severity)[1:])


def severity_rank(text: str | None) -> int:
    """Order of severity strings: ``major`` > ``relative: major`` > ``deficiency`` > ... > ``none`` (0).

    A relative rating ranks just below the same class in °C: same evidence, less trust.
    """
    sev, relative = Severity.parse(text)
    return 0 if sev is Severity.NONE else 2 * int(sev) - (1 if relative else 0)


def capped(text: str | None, cap: Severity) -> str:
    """``text`` lowered to at most ``cap``, keeping whether it was rated on a relative scale."""
    sev, relative = Severity.parse(text)
    return min(sev, cap).label(relative)
