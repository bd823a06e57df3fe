"""Equilibria and their types: found numerically, classified from the Jacobian's eigenvalues."""

from __future__ import annotations

import numpy as np
import pytest

from dynsys import InputError, get_system
from dynsys.plots.equilibria import classify, find_equilibria, jacobian_at, newton_batch
from dynsys.systems.classic import VanDerPol

BOX = [(-4.0, 4.0), (-4.0, 4.0)]


def kinds(system, bounds=BOX) -> dict[tuple[float, ...], str]:
    return {tuple(np.round(e.point, 6)): e.kind for e in find_equilibria(system, bounds)}


@pytest.mark.parametrize(
    ("eigenvalues", "kind"),
    [
        ([-1.0, -2.0], "stable node"),
        ([-0.5 + 2j, -0.5 - 2j], "stable focus"),
        ([1.0, 3.0], "unstable node"),
        ([0.5 + 1j, 0.5 - 1j], "unstable focus"),
        ([-1.0, 2.0], "saddle"),
        ([2j, -2j], "centre"),
        ([0.0, -1.0], "non-hyperbolic"),
        ([0.0, 0.0], "non-hyperbolic"),
        ([-13.9, 0.09 + 10.2j, 0.09 - 10.2j], "saddle"),
    ],
)
def test_classify_continuous(eigenvalues, kind):
    assert classify(eigenvalues) == kind


@pytest.mark.parametrize(
    ("multipliers", "kind"),
    [
        ([0.5, -0.2], "stable node"),
        ([0.3 + 0.4j, 0.3 - 0.4j], "stable focus"),
        ([3.9], "unstable node"),
        ([-1.92, 0.16], "saddle"),
        ([np.exp(1j), np.exp(-1j)], "centre"),
        ([0.0], "stable node"),
    ],
)
def test_classify_discrete_uses_the_modulus(multipliers, kind):
    assert classify(multipliers, discrete=True) == kind


def test_classify_refuses_no_eigenvalues():
    with pytest.raises(InputError, match="eigenvalues"):
        classify([])


def test_van_der_pol_origin_focus_then_node():
    # trace mu, determinant 1: a focus while mu^2 < 4, a node beyond
    assert kinds(get_system("van_der_pol", mu=1.0)) == {(0.0, 0.0): "unstable focus"}
    assert kinds(get_system("van_der_pol", mu=3.0)) == {(0.0, 0.0): "unstable node"}
    assert kinds(get_system("van_der_pol", mu=-1.0)) == {(0.0, 0.0): "stable focus"}


def test_pendulum_damped_focus_and_saddles_undamped_centre():
    pi = round(np.pi, 6)
    damped = kinds(get_system("pendulum", damping=0.5))
    assert damped == {(-pi, 0.0): "saddle", (0.0, 0.0): "stable focus", (pi, 0.0): "saddle"}
    undamped = kinds(get_system("pendulum"))
    assert undamped[(0.0, 0.0)] == "centre"
    assert undamped[(pi, 0.0)] == "saddle"


def test_driven_oscillator_with_the_drive_off():
    found = find_equilibria(get_system("driven_oscillator", A=0.0, c=0.5), BOX)
    assert len(found) == 1
    (eq,) = found
    assert eq.kind == "stable focus" and eq.stable
    np.testing.assert_allclose(eq.point, [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(
        sorted(eq.eigenvalues.imag), [-np.sqrt(1 - 0.25**2), np.sqrt(1 - 0.0625)]
    )
    # the drive is switched off (x = 0): the same rest point whatever A is
    assert kinds(get_system("driven_oscillator", A=2.0, c=0.5)) == {(0.0, 0.0): "stable focus"}


def test_duffing_double_well():
    assert kinds(get_system("duffing")) == {
        (-1.0, 0.0): "stable focus",
        (0.0, 0.0): "saddle",
        (1.0, 0.0): "stable focus",
    }


def test_lotka_volterra_coexistence_is_a_centre():
    found = kinds(get_system("lotka_volterra"), [(-1.0, 12.0), (-1.0, 8.0)])
    assert found == {(0.0, 0.0): "saddle", (3.0, 1.5): "centre"}  # (gamma/delta, alpha/beta)


def test_lorenz_three_equilibria():
    found = find_equilibria(get_system("lorenz"), [(-20, 20), (-25, 25), (-1, 50)])
    c = np.sqrt(8 / 3 * 27)
    np.testing.assert_allclose([e.point for e in found], [[-c, -c, 27], [0, 0, 0], [c, c, 27]])
    assert [e.kind for e in found] == ["saddle"] * 3


def test_logistic_map_fixed_points():
    found = find_equilibria(get_system("logistic_map", r=2.5), [(-0.5, 1.0)])
    np.testing.assert_allclose([e.point[0] for e in found], [0.0, 0.6], atol=1e-12)
    assert [e.kind for e in found] == ["unstable node", "stable node"]  # multipliers 2.5, -0.5


def test_only_equilibria_inside_the_bounds():
    assert kinds(get_system("pendulum"), [(-1.0, 1.0), (-1.0, 1.0)]) == {(0.0, 0.0): "centre"}
    assert find_equilibria(get_system("van_der_pol"), [(1.0, 2.0), (1.0, 2.0)]) == ()


def test_numerical_jacobian_matches_the_systems_own():
    class NoJacobian(VanDerPol):
        jacobian = None

    point = np.array([0.7, -1.3])
    expected = jacobian_at(VanDerPol(mu=2.0), point)
    np.testing.assert_allclose(jacobian_at(NoJacobian(mu=2.0), point), expected, rtol=1e-7)
    assert kinds(NoJacobian(mu=1.0)) == {(0.0, 0.0): "unstable focus"}


@pytest.mark.parametrize(
    ("bounds", "message"),
    [([(-1.0, 1.0)], "for each of the 2 states"), ([(1.0, -1.0), (0.0, 1.0)], "lo < hi")],
)
def test_bad_bounds(bounds, message):
    with pytest.raises(InputError, match=message):
        find_equilibria(get_system("van_der_pol"), bounds)


def test_newton_batch_reaches_each_start_s_root_to_rounding():
    """Undamped pendulum, g = (v, -sin q): from near (k pi, 0) Newton lands on it, with the
    residual at rounding level (quadratic convergence), every start in one batch."""
    system = get_system("pendulum", damping=0.0)
    roots = np.array([[-np.pi, 0.0], [0.0, 0.0], [np.pi, 0.0], [2 * np.pi, 0.0]])
    starts = roots + np.array([[0.3, -0.2], [-0.25, 0.3], [0.2, 0.2], [-0.3, -0.1]])
    lo, hi = np.array([-7.0, -2.0]), np.array([7.0, 2.0])
    points, converged = newton_batch(system, starts, (lo, hi))
    assert converged.all()
    np.testing.assert_allclose(points, roots, atol=1e-14)


def test_newton_batch_stops_rows_whose_jacobian_is_singular():
    """g = (x^2 - 1, y): J = [[2x, 0], [0, 1]] is singular on x = 0; the start there stops
    where it is, without converging, and the other starts of the batch are undisturbed."""

    class Wells(VanDerPol):
        @staticmethod
        def vector_field(t, s, x, p):
            return s[0] ** 2 - 1, s[1]

        @staticmethod
        def jacobian_field(t, s, p):
            return (2 * s[0], 0.0), (0.0, 1.0)

    starts = np.array([[0.0, 0.5], [0.4, 0.3], [-3.0, -0.2]])
    points, converged = newton_batch(Wells(), starts, ([-4.0, -4.0], [4.0, 4.0]))
    assert list(converged) == [False, True, True]
    np.testing.assert_array_equal(points[0], starts[0])
    np.testing.assert_allclose(points[1:], [[1.0, 0.0], [-1.0, 0.0]], atol=1e-15)
    assert kinds(Wells()) == {(-1.0, 0.0): "saddle", (1.0, 0.0): "unstable node"}


def test_newton_batch_leaves_batches_of_systems_to_the_one_start_method():
    system = get_system("pendulum", damping=np.array([0.1, 0.2]))
    _, converged = newton_batch(system, np.array([[0.1, 0.1]]), ([-1.0, -1.0], [1.0, 1.0]))
    assert not converged.any()


def test_van_der_pol_starts_where_newton_runs_off_still_find_the_origin():
    """From a few of the 81 starts Newton's iterates run off (J nearly singular where
    2 mu x y = -1); the origin is found from the others, once."""
    found = find_equilibria(VanDerPol(mu=2.0), [(-3.0, 3.0), (-3.1, 3.1)])
    assert [(tuple(e.point), e.kind) for e in found] == [((0.0, 0.0), "unstable node")]
