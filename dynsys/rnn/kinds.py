"""The registry of model kinds: the one place that names them.

``MODEL_KINDS`` maps each kind's name to its class (see :mod:`dynsys.rnn.base` for what a kind
declares).  The command line's ``--model`` choices, the YAML schema's ``model.kind``, the model
file, training, evaluation and plots all read it.  Adding a kind: write its module (a class with
``kind``, ``task``, ``fitting``, ``Settings``, ``summary``, ``build``, ``config``, ``params`` and
``predict``, and ``loss_and_grad``/``loss`` or ``fit_closed_form``), then add it to the tuple
below.
"""

from __future__ import annotations

from ..errors import unknown_name
from .base import Model
from .gru import GRUNetwork
from .models import ElmanRNN, JordanRNN
from .reservoir import NGRC, EchoStateNetwork
from .stepnet import StepMLP

MODEL_KINDS: dict[str, type[Model]] = {
    cls.kind: cls for cls in (JordanRNN, StepMLP, ElmanRNN, GRUNetwork, EchoStateNetwork, NGRC)
}
"""Every model kind by name; the first is the default."""

DEFAULT_KIND = next(iter(MODEL_KINDS))


def model_class(kind: object) -> type[Model]:
    """The class of model kind ``kind``, or an InputError listing the kinds."""
    if kind is None:
        raise unknown_name("model kind", "None", MODEL_KINDS)
    if not isinstance(kind, str) or kind not in MODEL_KINDS:
        raise unknown_name("model kind", str(kind), MODEL_KINDS)
    return MODEL_KINDS[kind]
