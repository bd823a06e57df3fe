"""Parallel in time: affine recurrences by an associative scan, nonlinear ones by Newton's
method over the whole trajectory (DEER), and back-propagation through time by a scan."""

from .scan import affine_scan, sequential

__all__ = ["affine_scan", "sequential"]
