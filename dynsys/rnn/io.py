"""Saving and loading fitted RNNs: one .npz of arrays and a JSON metadata entry, no pickles.

The file holds the parameter arrays under their names (U, W, b, V, c) and ``metadata``, a 0-d
unicode array of JSON: the format name and version, the dynsys version that wrote it, the
architecture (``model.config()``) and the normalisation, training and data set the caller
passes.  Read it with ``np.load(path, allow_pickle=False)``.

:func:`load_model` trusts nothing in the file.  Before it reads any array's data it checks, in
the archive's directory and each array's .npy header, that the metadata is at most
:data:`MAX_METADATA_CHARS` characters nested at most :data:`MAX_METADATA_DEPTH` levels, that
every parameter has the shape the architecture gives it and a numeric dtype, that the arrays
fit in memory (:func:`dynsys.checks.fits_in_memory`), and that no entry inflates to more bytes
than its header declares; the metadata's fields are checked by a schema.  Anything else is an
:class:`~dynsys.errors.InputError` of one line naming the file and the field.
"""

from __future__ import annotations

import io
import json
import lzma
import math
import os
import re
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, model_validator

from .. import __version__, checks
from ..errors import InputError
from ..files import MiB, atomic_write, read_bytes, reason
from .kinds import model_class

FORMAT = "dynsys-rnn"
FORMAT_VERSION = 1
MAX_FILE_BYTES = 8 * 1024 * MiB
"""A model file may have at most 8 GiB (and must fit in memory)."""
MAX_METADATA_CHARS = 16 * MiB
"""The metadata's JSON may have at most this many characters."""
MAX_METADATA_DEPTH = 64
"""The metadata's JSON may nest at most this many levels of objects and lists."""
MAX_ENTRIES = 1000
"""A model file may hold at most this many entries (arrays)."""
MAX_HEADER_BYTES = 16384
"""An .npy header (magic, version, length, dict) is read in at most this many bytes."""
METADATA = "metadata"


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
    are dicts of JSON values (numpy arrays and numbers are converted to lists and numbers); the
    whole may not exceed what :func:`load_model` reads back (:data:`MAX_METADATA_CHARS`,
    :data:`MAX_METADATA_DEPTH`).
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
    except (TypeError, ValueError, RecursionError) as err:
        raise InputError(f"model metadata must be JSON values: {err}") from None
    if len(text) > MAX_METADATA_CHARS or _json_depth(text) > MAX_METADATA_DEPTH:
        raise InputError(
            f"model metadata must be at most {MAX_METADATA_CHARS} characters nested at most "
            f"{MAX_METADATA_DEPTH} levels, got {len(text)} characters "
            f"{_json_depth(text)} levels deep"
        )
    arrays = {name: np.ascontiguousarray(model.params[name]) for name in model.param_shapes}
    return atomic_write(path, lambda f: np.savez(f, metadata=np.array(text), **arrays))


def load_model(path: str | os.PathLike) -> LoadedModel:
    """Read a model written by :func:`save_model`; refuse anything else with an InputError
    naming the file and the field (see the module's doc for what is checked)."""
    path = Path(path)
    with _archive(path) as archive:
        entries = _entries(path, archive)
        meta = _metadata(path, archive, entries)
        headers = {
            name: _header(path, archive, info) for name, info in entries.items() if name != METADATA
        }
        _check_memory(path, headers)
        model = _model(path, meta["architecture"])
        restore_system(path, meta.get("system"))
        _check_system_known(path, meta.get("dataset"))
        for name, param in model.params.items():
            header = headers.get(name)
            if header is None:
                raise InputError(f"model file {path} has no array {name!r}")
            header.check(path, name, param.shape)
            param[...] = header.read(path, archive, entries[name], name)
    return LoadedModel(
        model=model,
        metadata=meta,
        normalizer=meta.get("normalizer"),
        dataset=meta.get("dataset"),
        training=meta.get("training"),
        extra=meta.get("extra"),
    )


# -- the archive -----------------------------------------------------------------------------

_DAMAGED = (zipfile.BadZipFile, EOFError, OSError, RuntimeError, NotImplementedError)
_DAMAGED += (ValueError, zlib.error, lzma.LZMAError, KeyError, IndexError)


@contextmanager
def _archive(path: Path) -> Iterator[zipfile.ZipFile]:
    """The file as a zip archive: a regular file that fits in memory, read whole."""
    try:
        size = os.stat(path).st_size
    except OSError as err:
        raise InputError(f"cannot read model file {path}: {reason(err)}") from None
    checks.fits_in_memory(
        size, None, f"reading model file {path}", "use a machine with more memory"
    )
    data = read_bytes(path, limit=MAX_FILE_BYTES, what="model file")
    if data[:4] != b"PK\x03\x04":
        raise InputError(f"{path} is not a dynsys model file (not an .npz archive)")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except _DAMAGED as err:
        raise _corrupt(path, err) from None
    with archive:
        yield archive


def _corrupt(path: Path, err: BaseException) -> InputError:
    return InputError(f"model file {path} is truncated or corrupt ({_short(str(err), 100)})")


def _entries(path: Path, archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """The .npy entries by array name; an entry named twice is refused."""
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise InputError(
            f"model file {path} holds {len(infos)} entries; a model file holds at most "
            f"{MAX_ENTRIES}"
        )
    entries: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename.removesuffix(".npy")
        if name in entries:
            raise InputError(f"model file {path} holds the entry {info.filename!r} twice")
        entries[name] = info
    if METADATA not in entries:
        raise InputError(f"{path} is not a dynsys model file (no metadata entry)")
    return entries


@dataclass(frozen=True)
class _Header:
    """What an .npy header declares: the array's shape and dtype, and where its data starts."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fortran: bool
    offset: int

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize

    def check(self, path: Path, name: str, shape: tuple[int, ...]) -> None:
        """A numeric dtype and the shape the architecture needs."""
        if self.dtype.hasobject:
            raise InputError(f"model file {path} holds pickled objects; dynsys loads none")
        if self.dtype.kind not in "fiu" or self.dtype.itemsize > 8:
            raise InputError(
                f"model file {path}: array {name!r} must hold numbers (float, int), "
                f"got dtype {self.dtype}"
            )
        if self.shape != shape:
            raise InputError(
                f"model file {path}: array {name!r} has shape {self.shape} but the architecture "
                f"needs {shape}"
            )

    def data(self, path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
        """The entry's data bytes: it must hold exactly what the header declares (its size in
        the archive's directory is checked first, and no more is inflated)."""
        size = self.offset + self.nbytes
        if info.file_size != size:
            more = "more" if info.file_size > size else "fewer"
            raise InputError(
                f"model file {path}: entry {info.filename!r} holds {info.file_size} bytes, "
                f"{more} than its header declares ({size}: shape {self.shape}, {self.dtype})"
            )
        return _read_entry(path, archive, info, size)[self.offset :]

    def read(
        self, path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str
    ) -> np.ndarray:
        """The array, whose values must be finite."""
        raw = self.data(path, archive, info)
        order = "F" if self.fortran else "C"
        arr = np.frombuffer(raw, dtype=self.dtype).reshape(self.shape, order=order)
        if not np.all(np.isfinite(arr)):
            raise InputError(f"model file {path}: array {name!r} must hold finite numbers")
        return arr


def _check_memory(path: Path, headers: dict[str, _Header]) -> None:
    """The arrays the headers declare, read and copied into the model, fit in memory."""
    if not headers:
        return
    largest = max(headers, key=lambda name: headers[name].nbytes)
    checks.fits_in_memory(
        2 * sum(header.nbytes for header in headers.values()),  # read, and the model's own
        None,
        f"the arrays of model file {path} (the largest: {largest!r}, of shape "
        f"{headers[largest].shape})",
        "this model is too large for this machine, or the file's array headers are damaged",
    )


def _header(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> _Header:
    """The .npy header of an entry, read from its first bytes only."""
    prefix = _read_entry(path, archive, info, min(info.file_size, MAX_HEADER_BYTES), whole=False)
    stream = io.BytesIO(prefix)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except (ValueError, TypeError, SyntaxError, OverflowError, EOFError) as err:
        raise InputError(
            f"model file {path}: entry {info.filename!r} is not an .npy array "
            f"({_short(str(err), 100)})"
        ) from None
    return _Header(tuple(shape), dtype, bool(fortran), stream.tell())


def _read_entry(
    path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo, size: int, whole: bool = True
) -> bytes:
    """The first ``size`` bytes of an entry (its whole, checked by its CRC, when ``whole``);
    the archive inflates no more than the entry's declared size."""
    try:
        with archive.open(info) as f:
            data = _read_exactly(f, size)
            if whole and f.read(1):
                raise zipfile.BadZipFile(f"entry {info.filename!r} is longer than declared")
    except InputError:
        raise
    except _DAMAGED as err:
        raise _corrupt(path, err) from None
    if len(data) != size:
        raise _corrupt(path, EOFError(f"entry {info.filename!r} ends early"))
    return data


def _read_exactly(f: IO[bytes], size: int) -> bytes:
    chunks, left = [], size
    while left > 0:
        chunk = f.read(min(left, 64 * MiB))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


# -- the metadata ----------------------------------------------------------------------------


def _metadata(
    path: Path, archive: zipfile.ZipFile, entries: dict[str, zipfile.ZipInfo]
) -> dict[str, Any]:
    """The metadata entry, checked: bounded, ours, not newer than this dynsys reads, and of
    the schema :class:`_Metadata`."""
    not_ours = f"{path} is not a dynsys model file"
    info = entries[METADATA]
    header = _header(path, archive, info)
    if header.dtype.kind != "U" or header.shape != ():
        raise InputError(f"{not_ours} (metadata is not a JSON string)")
    if header.dtype.itemsize // 4 > MAX_METADATA_CHARS:
        raise InputError(
            f"model file {path}: metadata has {header.dtype.itemsize // 4} characters, more "
            f"than the {MAX_METADATA_CHARS} a model file's metadata may have"
        )
    data = header.data(path, archive, info)
    try:
        text = str(np.frombuffer(data, dtype=header.dtype)[0])
    except (ValueError, UnicodeError):
        raise InputError(f"{not_ours} (metadata is not a JSON string)") from None
    if _json_depth(text) > MAX_METADATA_DEPTH:
        raise InputError(f"model file {path}: metadata nests more than {MAX_METADATA_DEPTH} levels")
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise InputError(
            f"{not_ours} (metadata is not valid JSON: {_short(str(err), 80)})"
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise InputError(f"{not_ours} (format {_short(found)}, expected {FORMAT!r})")
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version < 2**31:
        raise InputError(f"model file {path} has an invalid format_version {_short(version)}")
    saved_by = meta.get("dynsys_version", "?")
    if not isinstance(saved_by, str) or len(saved_by) > 64:
        raise InputError(f"model file {path} has an invalid dynsys_version {_short(saved_by)}")
    if version > FORMAT_VERSION or _major(saved_by) > _major(__version__):
        raise InputError(
            f"model file {path} (format version {version}) was saved by dynsys {saved_by}; "
            f"this is dynsys {__version__}, which reads format version {FORMAT_VERSION}; "
            "upgrade dynsys"
        )
    try:
        _Metadata.model_validate(meta)
    except ValidationError as err:
        raise InputError(f"model file {path}: {_schema_error(err)}") from None
    return meta


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_OPEN = np.zeros(256, dtype=np.int64)
_OPEN[[ord("["), ord("{")]] = 1
_OPEN[[ord("]"), ord("}")]] = -1


def _json_depth(text: str) -> int:
    """The deepest nesting of objects and lists in JSON ``text`` (its strings skipped),
    counted without parsing it."""
    bare = _STRING.sub("", text).encode("utf-8", "replace")
    if not bare:
        return 0
    steps = _OPEN[np.frombuffer(bare, dtype=np.uint8)]
    return int(np.cumsum(steps).max(initial=0))


def _schema_error(err: ValidationError) -> str:
    """The first error of ``err``: its dotted path and what is allowed."""
    first = err.errors(include_url=False)[0]
    where = ""
    for part in first["loc"]:
        where += f"[{part}]" if isinstance(part, int) else f"{'.' if where else ''}{part}"
    kind = first["type"]
    if kind == "missing":
        return f"{where}: is missing"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        message = "must be a JSON object"
    elif kind == "value_error":
        message = str(first.get("ctx", {}).get("error", first["msg"]))
    else:
        message = first["msg"].replace("Input should be", "must be")
    return f"{where}: {message}, got {_short(first.get('input'))}"


class _Schema(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


Finite = Annotated[float, Field(allow_inf_nan=False)]
Spread = Annotated[float, Field(allow_inf_nan=False, gt=0)]


class _Normalizer(_Schema):
    """:meth:`dynsys.rnn.data.Normalizer.to_dict`: flat lists, means beside positive stds (a
    normaliser of the caller's own may hold other keys)."""

    x_mean: list[Finite] | None = None
    x_std: list[Spread] | None = None
    y_mean: list[Finite] | None = None
    y_std: list[Spread] | None = None
    input_names: list[str] = []
    output_names: list[str] = []

    @model_validator(mode="after")
    def _lengths(self) -> _Normalizer:
        for mean, std in (("x_mean", "x_std"), ("y_mean", "y_std")):
            means, stds = getattr(self, mean), getattr(self, std)
            if means is not None and stds is not None and len(means) != len(stds):
                raise ValueError(
                    f"{mean} has {len(means)} values and {std} {len(stds)}: one each per channel"
                )
        return self


class _Stage(_Schema):
    """One stage of :meth:`dynsys.rnn.train.History.to_dict`."""

    optimizer: str
    train_loss: list[float | None] = []
    val_loss: list[float | None] = []
    lr: list[float | None] = []
    initial_train_loss: float | None = None
    initial_val_loss: float | None = None
    best_epoch: Annotated[int, Field(ge=0)] = 0
    best_loss: float | None = None
    stopped_reason: str = "interrupted"
    message: str = ""
    wall_s: float = 0.0
    settings: dict[str, JsonValue] = {}


class _Training(_Schema):
    stages: dict[str, _Stage] | None = None


class _Architecture(_Schema):
    kind: str


class _SystemRecord(_Schema):
    name: str
    definition: dict[str, JsonValue] | None = None


class _Metadata(_Schema):
    """The metadata of a model file (fields of newer files are allowed and kept)."""

    format: str
    format_version: int
    dynsys_version: str = "?"
    architecture: _Architecture
    normalizer: _Normalizer | None = None
    training: _Training | None = None
    dataset: dict[str, JsonValue] | None = None
    system: _SystemRecord | None = None
    extra: dict[str, JsonValue] | None = None


# -- the model and what it was trained on ----------------------------------------------------


def _model(path: Path, architecture: dict[str, Any]):
    """A fresh model of the saved architecture (its arrays are overwritten by the caller)."""
    try:
        cls = model_class(architecture.get("kind"))
    except InputError as err:
        raise InputError(f"model file {path}: architecture.kind: {err}") from None
    try:
        return cls.from_config(architecture)
    except (TypeError, ValueError, KeyError, OverflowError) as err:  # InputError: a ValueError
        raise InputError(f"model file {path} has an invalid architecture: {err}") from None
    except MemoryError:
        raise InputError(
            f"model file {path} has an invalid architecture: its parameters do not fit in memory"
        ) from None


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
    return int(head) if head.isascii() and head.isdigit() and len(head) < 10 else -1


def _short(value: Any, limit: int = 60) -> str:
    """``value`` as a repr of at most ``limit`` characters (a string's text unquoted if long)."""
    text = value if isinstance(value, str) and limit > 60 else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _section(name: str, value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None and not isinstance(value, dict):
        raise InputError(f"{name} must be a dict or None, got {type(value).__name__}")
    return value


def _plain(value: Any) -> Any:
    """numpy values as their JSON equivalents (for json.dumps)."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
