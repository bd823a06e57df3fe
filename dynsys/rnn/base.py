"""What every model kind is: the contract that training, evaluation, files and plots rely on.

A model kind is one class, registered by one line in :mod:`dynsys.rnn.kinds`.  It declares

- ``kind``: its registry name (``--model``, ``model.kind``, the model file);
- ``task``: ``"step_map"`` (s(n+1) = f(s(n), x(n+1)), rolled out on its own outputs from the
  initial state) or ``"driven_response"`` (inputs in, the whole trajectory out); the data
  layouts are those of :mod:`dynsys.rnn.data`;
- ``fitting``: ``"gradient"`` (``loss_and_grad`` and ``loss``, fitted by
  :func:`dynsys.rnn.train.fit`) or ``"closed_form"`` (``fit_closed_form``, e.g. ridge
  regression of a linear readout);
- ``Settings``: a frozen dataclass of its hyperparameters, each field with a default and
  ``metadata={"help": ...}`` (``"choices"`` for a string from a fixed list).  The command-line
  options, the YAML schema and the model file are derived from it;
- ``summary``: one line for help texts.

and implements ``build(settings, n_in, n_out, seed)``, ``config()``/``from_config()`` (the
constructor arguments, JSON-ready, with ``kind``), ``param_shapes`` (name -> shape, in the order
of the flat parameter vector), ``params`` and ``predict(X, h0=None)``.

A kind may also have ``prepare(X, Y, h0)``: what it sets from the (normalised) training data
before the first fit, stored in its ``config()`` so that a file rebuilds it.

``context`` is the number c of true states before s(n) that a step-map model needs before it
runs free (delays of a nonlinear vector autoregression, the warm-up of a reservoir): it is given
h0 = (s(0), ..., s(c)) of shape (batch, c + 1, n) and returns s(c+1), ..., s(L), shape
(batch, L - c, n).  With c = 0 (most models) h0 is s(0), (batch, n).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from dataclasses import fields
from typing import Any, ClassVar

import numpy as np

from .. import checks
from ..errors import InputError

TASKS = ("step_map", "driven_response")
FITTINGS = ("gradient", "closed_form")


class Model:
    """Base class of the model kinds: parameters as named arrays, configuration, the flat vector.

    Subclasses set the class attributes below and ``self.params`` (a dict of arrays in the
    order of ``param_shapes``) in their constructor.
    """

    kind: ClassVar[str] = ""
    task: ClassVar[str] = "step_map"
    fitting: ClassVar[str] = "gradient"
    summary: ClassVar[str] = ""
    Settings: ClassVar[type] = type(None)

    params: dict[str, np.ndarray]
    context: int = 0

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def build(cls, settings: Any, n_in: int, n_out: int, seed: int) -> Model:
        """A fresh model of ``settings`` (an instance of ``cls.Settings``)."""
        raise NotImplementedError

    @classmethod
    def feeds_back_output(cls) -> bool:
        """Whether the model feeds its own output back (so teacher forcing applies to it)."""
        bptt = getattr(cls, "bptt", None)
        return bptt is not None and "teacher_forcing" in inspect.signature(bptt).parameters

    @classmethod
    def settings_fields(cls) -> tuple[str, ...]:
        """The names of this kind's settings."""
        return tuple(f.name for f in fields(cls.Settings))

    def config(self) -> dict[str, Any]:
        """The constructor arguments as a JSON-ready dict, with ``kind``."""
        raise NotImplementedError

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> Model:
        """A new model from :meth:`config`'s dict (its arrays freshly initialised).

        Called on :class:`Model` itself it builds the kind that ``cfg["kind"]`` names.
        """
        from .kinds import model_class

        if not isinstance(cfg, Mapping):
            raise InputError(f"config must be a mapping, got {type(cfg).__name__}")
        args = dict(cfg)
        kind = args.pop("kind", cls.kind or None)
        target = model_class(kind)
        if cls.kind and target is not cls:
            raise InputError(f"config kind {kind!r} does not fit {cls.__name__} ({cls.kind!r})")
        allowed = [k for k in inspect.signature(target).parameters if k != "self"]
        unknown = sorted(set(args) - set(allowed))
        if unknown:
            raise InputError(f"unknown config key {unknown[0]!r}; known: {', '.join(allowed)}")
        required = [
            name
            for name, p in inspect.signature(target).parameters.items()
            if p.default is inspect.Parameter.empty and name != "self"
        ]
        missing = [k for k in required if k not in args]
        if missing:
            raise InputError(f"config is missing {missing[0]!r}")
        return target(**args)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items() if k != "kind")
        return f"{type(self).__name__}({args})"

    # -- the flat parameter vector ---------------------------------------------------------------
    @property
    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of each parameter, in the order of the flat vector."""
        return {name: arr.shape for name, arr in self.params.items()}

    @property
    def n_params(self) -> int:
        """The number of scalar parameters."""
        return sum(math.prod(shape) for shape in self.param_shapes.values())

    def flat_params(self) -> np.ndarray:
        """A copy of the parameters as one vector, in the order of ``param_shapes`` (C-order)."""
        return np.concatenate([self.params[name].ravel() for name in self.param_shapes])

    def set_flat_params(self, vec: Any) -> None:
        """Write a vector laid out like :meth:`flat_params` into the parameter arrays in place."""
        vec = np.asarray(vec)
        if vec.shape != (self.n_params,):
            raise InputError(
                f"the flat parameter vector must have shape ({self.n_params},), got {vec.shape}"
            )
        if not np.all(np.isfinite(vec)):
            raise InputError("the flat parameter vector must be finite numbers")
        start = 0
        for name in self.param_shapes:
            arr = self.params[name]
            arr[...] = vec[start : start + arr.size].reshape(arr.shape)
            start += arr.size

    def flat_grad(self, grads: Mapping[str, np.ndarray]) -> np.ndarray:
        """The parameter gradients as one vector in the order of :meth:`flat_params` (no h0)."""
        return np.concatenate([np.asarray(grads[name]).ravel() for name in self.param_shapes])

    # -- what every kind does ------------------------------------------------------------------
    def initial(self, s0: np.ndarray) -> np.ndarray:
        """The h0 the model starts from given the initial states s0 (batch, n) (or, with a
        context c, (batch, c + 1, n)): s0 itself unless the model says otherwise (a network
        whose hidden units carry the state pads it)."""
        return s0

    def predict(self, X: Any, h0: Any = None) -> np.ndarray:
        """The outputs (batch, time, n_out) for inputs X (batch, time, n_in)."""
        raise NotImplementedError


class BPTTModel(Model):
    """A kind fitted by gradient whose ``bptt(X, Y, h0, *, [teacher_forcing,] truncate, clip)``
    returns the loss, the gradients and the intermediate ones (back-propagation through time)."""

    fitting: ClassVar[str] = "gradient"

    def loss_and_grad(self, X: Any, Y: Any, h0: Any = None, **options: Any) -> tuple:
        """The loss (mean over batch and time) and its gradients, every parameter and h0.

        ``options`` are :meth:`bptt`'s: ``teacher_forcing`` (kinds that feed back their output:
        False back-propagates through the model's own outputs), ``truncate=k`` (windows of k
        steps, see :mod:`dynsys.rnn.models`) and ``clip=max_norm`` (every gradient, h0's too,
        times min(1, max_norm / norm), norm the global L2 norm of the parameter gradients).
        """
        result = self.bptt(X, Y, h0, **options)
        return result.loss, result.grads

    def bptt(self, X: Any, Y: Any, h0: Any = None, **options: Any) -> Any:
        raise NotImplementedError


def positive_int(field: str, value: Any) -> int:
    """``value`` as an int >= 1, or a one-line InputError naming ``field``."""
    import operator

    if isinstance(value, bool):
        raise InputError(f"{field} must be a positive integer, got {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise InputError(f"{field} must be a positive integer, got {value!r}") from None
    if number < 1:
        raise InputError(f"{field} must be a positive integer, got {value!r}")
    return number


def check_param_memory(kind: str, shapes: Mapping[str, tuple[int, ...]], dtype: Any) -> None:
    """Refuse, before drawing them, parameters of ``shapes`` that would not fit in memory.

    Counted: the float64 draw and its copy in ``dtype`` (the optimiser and the gradients take
    a few times more; training's own estimate counts those).
    """
    count = sum(math.prod(shape) for shape in shapes.values())
    checks.fits_in_memory(
        count * (8 + np.dtype(dtype).itemsize),
        None,
        f"the {count:,} parameters of the {kind} model",
        "take a smaller hidden size",
    )
