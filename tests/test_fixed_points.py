"""Periodic orbits of maps against their closed forms (logistic and Henon maps)."""

import numpy as np
import pytest

from dynsys.errors import InputError
from dynsys.fixed_points import jacobian_of_iterate, orbit_kind, periodic_orbits
from dynsys.systems import get_system


def test_logistic_fixed_points_and_multipliers():
    r = 3.2
    orbits = periodic_orbits(get_system("logistic_map", r=r), 1, box=[(-0.5, 1.5)])
    points = [o.points[0, 0] for o in orbits]
    np.testing.assert_allclose(points, [0.0, 1 - 1 / r], atol=1e-12)
    # multipliers f'(0) = r and f'(1 - 1/r) = 2 - r: both unstable at r = 3.2
    np.testing.assert_allclose([o.multipliers[0] for o in orbits], [r, 2 - r], rtol=1e-12)
    assert [o.kind for o in orbits] == ["unstable", "unstable"]


def test_logistic_period_two_orbit():
    r = 3.2
    orbits = periodic_orbits(get_system("logistic_map", r=r), 2, box=[(0.0, 1.0)])
    assert len(orbits) == 1  # the fixed points (period 1) are not listed again
    (orbit,) = orbits
    root = np.sqrt((r - 3) * (r + 1))
    expected = [((r + 1) - root) / (2 * r), ((r + 1) + root) / (2 * r)]
    np.testing.assert_allclose(orbit.points[:, 0], expected, rtol=1e-12)
    np.testing.assert_allclose(orbit.multipliers, [-(r * r - 2 * r - 4)], rtol=1e-10)
    assert orbit.kind == "stable" and orbit.period == 2


def test_henon_fixed_points():
    a, b = 1.4, 0.3
    orbits = periodic_orbits(get_system("henon_map", a=a, b=b), 1, box=[(-2, 2), (-1, 1)])
    root = np.sqrt((1 - b) ** 2 + 4 * a)
    xs = sorted([(-(1 - b) - root) / (2 * a), (-(1 - b) + root) / (2 * a)])
    np.testing.assert_allclose([o.points[0] for o in orbits], [[x, b * x] for x in xs], rtol=1e-12)
    assert [o.kind for o in orbits] == ["saddle", "saddle"]
    # the product of the multipliers is det Df = -b
    for o in orbits:
        np.testing.assert_allclose(np.prod(o.multipliers), -b, rtol=1e-10)


def test_henon_period_two_and_four_are_orbits():
    henon = get_system("henon_map")
    for period in (2, 4):
        for orbit in periodic_orbits(henon, period, box=[(-2, 2), (-1, 1)]):
            assert orbit.points.shape == (period, 2)
            following = henon.next(0, orbit.points, henon.params)
            np.testing.assert_allclose(following, np.roll(orbit.points, -1, axis=0), atol=1e-10)
            det = np.linalg.det(jacobian_of_iterate(henon, orbit.points[0], period))
            np.testing.assert_allclose(det, (-0.3) ** period, rtol=1e-8)


def test_same_seed_same_orbits():
    henon = get_system("henon_map")
    first = periodic_orbits(henon, 4, seed=3)
    again = periodic_orbits(henon, 4, seed=3)
    assert [o.points.tolist() for o in first] == [o.points.tolist() for o in again]


def test_orbit_kind():
    assert orbit_kind([0.5, -0.2]) == "stable"
    assert orbit_kind([1.5, -2.0]) == "unstable"
    assert orbit_kind([0.5, 3.0]) == "saddle"
    assert orbit_kind([1.0, 0.5]) == "non-hyperbolic"


@pytest.mark.parametrize(
    "kwargs",
    [{"period": 0}, {"period": 1000}, {"box": [(1, 0)]}, {"box": [(0, 1), (0, 1)]}],
)
def test_bad_input(kwargs):
    with pytest.raises(InputError):
        periodic_orbits(get_system("logistic_map"), **kwargs)


def test_refuses_an_ode():
    with pytest.raises(InputError, match="discrete map"):
        periodic_orbits(get_system("duffing"), 1)
