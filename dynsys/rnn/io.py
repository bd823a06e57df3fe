"""Saving and loading fitted RNNs: one .npz of arrays and a JSON metadata entry, no pickles.

The file holds the parameter arrays under their names (U, W, b, V, c) and ``metadata``, a 0-d
unicode array of JSON: the format name and version, the dynsys version that wrote it, the
architecture (``model.config()``) and the normalisation, training and data set the caller
passes.  Read it with ``np.load(path, allow_pickle=False)``.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..errors import InputError
from ..files import atomic_write
from .kinds import model_class

FORMAT = "dynsys-rnn"
FORMAT_VERSION = 1


@dataclass
class LoadedModel:
    """A model read back from a file, with what was saved beside it (None where nothing was)."""

    model: Any
    metadata: dict[str, Any]
    normalizer: dict[str, Any] | None = None
    dataset: dict[str, Any] | None = None
    training: dict[str, Any] | None = None
    extra: dict[str, Any] | None = field(default=None)


def save_model(
    path: str | os.PathLike,
    model,
    *,
    normalizer: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
    dataset: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` and its metadata to the .npz ``path`` atomically; return the path.

    ``normalizer``, ``training`` (settings and ``History.summary()``), ``dataset`` and ``extra``
    are dicts of JSON values (numpy arrays and numbers are converted to lists and numbers).
    """
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "dynsys_version": __version__,
        "architecture": model.config(),
        "normalizer": _section("normalizer", normalizer),
        "training": _section("training", training),
        "dataset": _section("dataset", dataset),
        "system": None if dataset is None else system_record(dataset.get("system")),
        "extra": _section("extra", extra),
    }
    try:
        text = json.dumps(meta, default=_plain)
    except (TypeError, ValueError) as err:
        raise InputError(f"model metadata must be JSON values: {err}") from None
    arrays = {name: np.ascontiguousarray(model.params[name]) for name in model.param_shapes}
    return atomic_write(path, lambda f: np.savez(f, metadata=np.array(text), **arrays))


def load_model(path: str | os.PathLike) -> LoadedModel:
    """Read a model written by :func:`save_model`; refuse anything else with an InputError."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"model file {path} does not exist")
    if not path.is_file():
        raise InputError(f"model file {path} is not a file")
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except OSError as err:
        raise InputError(f"cannot read model file {path}: {err.strerror}") from None
    try:
        with f:
            if f.read(4) != b"PK\x03\x04":
                raise InputError(f"{path} is not a dynsys model file (not an .npz archive)")
            f.seek(0)
            with np.load(f, allow_pickle=False) as npz:
                if "metadata" not in npz.files:
                    raise InputError(f"{path} is not a dynsys model file (no metadata entry)")
                text = npz["metadata"]
                arrays = {name: npz[name] for name in npz.files if name != "metadata"}
    except InputError:
        raise
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise InputError(
                f"model file {path} holds pickled objects; dynsys loads none"
            ) from None
        raise InputError(f"model file {path} is truncated or corrupt ({err})") from None
    except (zipfile.BadZipFile, EOFError, OSError, KeyError) as err:  # a damaged archive
        raise InputError(f"model file {path} is truncated or corrupt ({err})") from None
    meta = _metadata(path, text)
    model = _model(path, meta["architecture"])
    restore_system(path, meta.get("system"))
    _check_system_known(path, meta.get("dataset"))
    for name, param in model.params.items():
        if name not in arrays:
            raise InputError(f"model file {path} has no array {name!r}")
        arr = arrays[name]
        if arr.shape != param.shape:
            raise InputError(
                f"model file {path}: array {name!r} has shape {arr.shape} but the architecture "
                f"needs {param.shape}"
            )
        if arr.dtype.kind not in "fiu" or not np.all(np.isfinite(arr)):
            raise InputError(f"model file {path}: array {name!r} must hold finite numbers")
        param[...] = arr
    return LoadedModel(
        model=model,
        metadata=meta,
        normalizer=meta.get("normalizer"),
        dataset=meta.get("dataset"),
        training=meta.get("training"),
        extra=meta.get("extra"),
    )


def _metadata(path: Path, text: np.ndarray) -> dict[str, Any]:
    """The metadata entry, checked: ours, and not newer than this dynsys reads."""
    not_ours = f"{path} is not a dynsys model file"
    if text.shape != () or text.dtype.kind != "U":
        raise InputError(f"{not_ours} (metadata is not a JSON string)")
    try:
        meta = json.loads(str(text))
    except ValueError:
        raise InputError(f"{not_ours} (metadata is not valid JSON)") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise InputError(f"{not_ours} (format {found!r}, expected {FORMAT!r})")
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InputError(f"model file {path} has an invalid format_version {version!r}")
    saved_by = str(meta.get("dynsys_version", "?"))
    if version > FORMAT_VERSION or _major(saved_by) > _major(__version__):
        raise InputError(
            f"model file {path} (format version {version}) was saved by dynsys {saved_by}; "
            f"this is dynsys {__version__}, which reads format version {FORMAT_VERSION}; "
            "upgrade dynsys"
        )
    if not isinstance(meta.get("architecture"), dict):
        raise InputError(f"model file {path} has no architecture in its metadata")
    return meta


def _model(path: Path, architecture: dict[str, Any]):
    """A fresh model of the saved architecture (its arrays are overwritten by the caller)."""
    cls = model_class(architecture.get("kind"))
    try:
        return cls.from_config(architecture)
    except (TypeError, ValueError, KeyError) as err:  # InputError is a ValueError
        raise InputError(f"model file {path} has an invalid architecture: {err}") from None


def system_record(name: Any) -> dict[str, Any] | None:
    """What rebuilds system ``name``: its name for a built-in system, its whole definition
    (states, parameters, equations, ...) for a user-defined one."""
    from ..experiments.user_system import UserSystem
    from ..systems import SYSTEMS

    cls = SYSTEMS.get(name) if isinstance(name, str) else None
    if cls is None:
        return None
    if issubclass(cls, UserSystem):
        return {"name": name, "definition": dict(cls.spec)}
    return {"name": name}


def restore_system(path: Path, record: Any) -> None:
    """Register the user-defined system a model file carries, so that its dataset spec,
    evaluation and plots find it by name (a built-in one needs nothing)."""
    if not isinstance(record, dict) or "definition" not in record:
        return
    from ..experiments.user_system import register_user_system, user_system_class

    definition = record["definition"]
    if not isinstance(definition, dict):
        raise InputError(f"model file {path}: its system section has no valid definition")
    try:
        register_user_system(user_system_class(definition, field="system"))
    except InputError as err:
        raise InputError(f"model file {path}: its system cannot be rebuilt: {err}") from None


def _check_system_known(path: Path, dataset: Any) -> None:
    from ..systems import SYSTEMS

    name = dataset.get("system") if isinstance(dataset, dict) else None
    if isinstance(name, str) and name not in SYSTEMS:
        raise InputError(
            f"model file {path}: system {name!r} is not built in and the file carries no "
            "definition of it (its system section is missing)"
        )


def _major(version: str) -> int:
    """The major number of a version string such as "1.2.3" (-1 when it has none)."""
    head = version.split(".")[0]
    return int(head) if head.isdigit() else -1


def _section(name: str, value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None and not isinstance(value, dict):
        raise InputError(f"{name} must be a dict or None, got {type(value).__name__}")
    return value


def _plain(value: Any) -> Any:
    """numpy values as their JSON equivalents (for json.dumps)."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
