"""Heat rise at two scales: a joint against its clamp, a whole limb against the scene."""

import numpy as np

from thermal_anomaly.thermal.render import component_rise, local_rise


def _three_limbs(hot_limb: float) -> tuple[np.ndarray, np.ndarray]:
    """A 240×320 scene at 0.2 with three 40 px wide limbs at 0.5; the left one at ``hot_limb`` and a
    small joint (8×8 px, +0.3) on the right limb."""
    pos = np.full((240, 320), 0.2, np.float32)
    for k, x0 in enumerate((60, 140, 220)):
        pos[60:200, x0 : x0 + 40] = hot_limb if k == 0 else 0.5
    pos[70:78, 236:244] = 0.8
    return pos, np.ones_like(pos, bool)


def test_local_rise_sees_the_joint_not_the_whole_limb():
    pos, valid = _three_limbs(0.9)
    rise = local_rise(pos, valid, 0.06)
    assert rise[70:78, 236:244].min() > 0.25  # the joint stands out of its limb
    assert rise[100:180, 70:90].max() < 0.05  # the limb's interior is its own background


def test_component_rise_grows_with_the_limb_temperature():
    normal = component_rise(*_three_limbs(0.5), 0.25)
    hot = component_rise(*_three_limbs(0.9), 0.25)
    # a limb is narrower than the disc: it rises over the scene by its own excess
    assert abs(float(np.median(normal[100:180, 70:90])) - 0.3) < 0.05
    assert abs(float(np.median(hot[100:180, 70:90])) - 0.7) < 0.05
    # the other limbs do not change, and invalid pixels carry no rise
    assert abs(float(np.median(hot[100:180, 150:170])) - float(np.median(normal[100:180, 150:170]))) < 0.02
    pos, valid = _three_limbs(0.9)
    valid[:, :30] = False
    assert component_rise(pos, valid, 0.25)[:, :30].max() == 0.0


def test_component_excess_compares_a_limb_with_its_sister_limbs():
    from thermal_anomaly.thermal.render import component_excess

    even = component_excess(*_three_limbs(0.5), 0.25)
    hot = component_excess(*_three_limbs(0.9), 0.25)
    # three equally warm limbs: none stands out against the others
    assert float(np.median(even[100:180, 70:90])) < 0.03
    # one limb 0.4 of the scale warmer than its sisters: that much excess there, none on the sisters
    assert abs(float(np.median(hot[100:180, 70:90])) - 0.4) < 0.05
    assert float(np.median(hot[100:180, 150:170])) < 0.03
    # a scene with nothing warm has no excess
    flat = np.full((120, 160), 0.3, np.float32)
    assert not component_excess(flat, np.ones_like(flat, bool)).any()


def test_heat_evidence_is_both_scales_from_one_filled_copy():
    from thermal_anomaly.thermal.render import component_excess, heat_evidence, local_rise

    rng = np.random.default_rng(7)
    pos = rng.random((120, 160)).astype(np.float32)
    valid = rng.random((120, 160)) > 0.2
    rise, excess = heat_evidence(pos, valid, 0.06, 0.25)
    assert np.array_equal(rise, local_rise(pos, valid, 0.06))
    assert np.array_equal(excess, component_excess(pos, valid, 0.25))
    assert heat_evidence(pos, valid, 0.06, 0.0)[1] is None
