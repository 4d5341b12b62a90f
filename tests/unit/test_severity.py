"""severity: the NETA classes as one ordered type; JSON strings parse back to what wrote them."""

from __future__ import annotations

import pytest

from thermal_anomaly.thermal.severity import KNOWN_SEVERITIES, Severity, capped, severity_rank


def test_every_known_string_parses_back_to_itself():
    for text in KNOWN_SEVERITIES:
        sev, relative = Severity.parse(text)
        assert sev.label(relative) == text
    assert Severity.parse("relative: major") == (Severity.MAJOR, True)
    assert Severity.parse(None) == (Severity.NONE, False)
    with pytest.raises(ValueError, match="catastrophic"):
        Severity.parse("catastrophic")


def test_capping_keeps_the_scale_and_never_raises():
    assert capped("major", Severity.POSSIBLE) == "possible deficiency"
    assert capped("relative: major", Severity.PROBABLE) == "relative: probable deficiency"
    assert capped("possible deficiency", Severity.PROBABLE) == "possible deficiency"
    assert severity_rank(capped("deficiency", Severity.PROBABLE)) < severity_rank("deficiency")
