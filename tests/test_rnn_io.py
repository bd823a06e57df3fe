"""Model files: exact round trips, no pickles, atomic writes, and one-line refusals."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import dynsys
from dynsys import InputError
from dynsys.rnn.io import FORMAT, FORMAT_VERSION, load_model, save_model
from dynsys.rnn.models import ElmanRNN, JordanRNN

NAMES = ("U", "W", "b", "V", "c")


def trained_like(model, seed: int = 5):
    """Give every parameter (the zero biases too) random values with all their digits."""
    rng = np.random.default_rng(seed)
    for value in model.params.values():
        value[...] = rng.normal(size=value.shape)
    return model


MODELS = {
    "elman": lambda: ElmanRNN(2, 6, 3, activation="tanh", seed=1),
    "jordan-residual": lambda: JordanRNN(2, 5, 2, residual=True, seed=2),
    "elman-float32": lambda: ElmanRNN(1, 4, 1, seed=3, dtype=np.float32),
}


@pytest.fixture
def saved(tmp_path):
    """An Elman model's file, for the tests that damage it."""
    path = tmp_path / "model.npz"
    save_model(path, trained_like(MODELS["elman"]()))
    return path


def rewrite(path, edit):
    """Rewrite the npz at ``path`` after ``edit(arrays, metadata)`` changed its contents."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files if k != "metadata"}
        meta = json.loads(str(npz["metadata"]))
    edit(arrays, meta)
    np.savez(path, metadata=np.array(json.dumps(meta)), **arrays)


# -- round trips ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(MODELS))
def test_a_reloaded_model_predicts_bit_for_bit_the_same(tmp_path, name):
    model = trained_like(MODELS[name]())
    normalizer = {"x_mean": np.array([0.5, -1.25]), "x_std": [2.0, 3.0], "count": np.int64(7)}
    training = {"optimizer": "adam", "lr": 1e-3, "history": {"best_epoch": 12, "best_loss": 0.1}}
    dataset = {"system": "driven_oscillator", "dt": 0.01, "n_sequences": 64}
    path = save_model(
        tmp_path / "m.npz",
        model,
        normalizer=normalizer,
        training=training,
        dataset=dataset,
        extra={"note": "ünïcode"},
    )
    assert path == tmp_path / "m.npz"
    loaded = load_model(path)
    assert type(loaded.model) is type(model)
    assert loaded.model.config() == model.config()
    for k in NAMES:
        assert loaded.model.params[k].dtype == model.params[k].dtype
        np.testing.assert_array_equal(loaded.model.params[k], model.params[k])
    X = np.random.default_rng(0).normal(size=(3, 7, model.n_in))
    np.testing.assert_array_equal(loaded.model.predict(X), model.predict(X))
    assert loaded.normalizer == {"x_mean": [0.5, -1.25], "x_std": [2.0, 3.0], "count": 7}
    assert loaded.training == training
    assert loaded.dataset == dataset
    assert loaded.extra == {"note": "ünïcode"}
    meta = loaded.metadata
    assert meta["format"] == FORMAT == "dynsys-rnn" and meta["format_version"] == FORMAT_VERSION
    assert meta["dynsys_version"] == dynsys.__version__
    assert meta["architecture"] == model.config()


def test_the_file_is_plain_arrays_and_a_json_string(saved):
    with np.load(saved, allow_pickle=False) as npz:
        assert sorted(npz.files) == sorted([*NAMES, "metadata"])
        meta = npz["metadata"]
        assert meta.shape == () and meta.dtype.kind == "U"
        assert all(npz[k].dtype == np.float64 for k in NAMES)
    assert json.loads(str(meta))["architecture"]["kind"] == "elman"


def test_nothing_saved_beside_the_model_loads_as_none(saved):
    loaded = load_model(saved)
    assert (loaded.normalizer, loaded.training, loaded.dataset, loaded.extra) == (None,) * 4


def test_saving_replaces_a_file_atomically_and_leaves_no_temporary_files(saved):
    first = saved.read_bytes()
    save_model(saved, trained_like(MODELS["elman"](), seed=9))
    assert saved.read_bytes() != first
    assert os.listdir(saved.parent) == ["model.npz"]
    with pytest.raises(InputError, match=r"^model metadata must be JSON values"):
        save_model(saved, MODELS["elman"](), extra={"bad": object()})
    with pytest.raises(InputError, match=r"^normalizer must be a dict or None, got list"):
        save_model(saved, MODELS["elman"](), normalizer=[1, 2])
    assert os.listdir(saved.parent) == ["model.npz"]
    load_model(saved)


def test_saving_into_a_missing_folder_is_refused(tmp_path):
    with pytest.raises(InputError, match=r"folder .* does not exist"):
        save_model(tmp_path / "nowhere" / "m.npz", MODELS["elman"]())


# -- refusals -------------------------------------------------------------------------------


def test_a_missing_file_or_a_folder_is_refused(tmp_path):
    missing = r"^cannot read model file .*absent\.npz: No such file or directory$"
    with pytest.raises(InputError, match=missing):
        load_model(tmp_path / "absent.npz")
    with pytest.raises(InputError, match=r"it is a folder, not a file$"):
        load_model(tmp_path)


def test_an_npz_without_metadata_is_not_ours(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, U=np.zeros((2, 2)), data=np.arange(3))
    with pytest.raises(InputError, match=r"is not a dynsys model file \(no metadata entry\)$"):
        load_model(path)


def test_an_npz_of_another_format_is_not_ours(saved):
    rewrite(saved, lambda arrays, meta: meta.update(format="something-else"))
    with pytest.raises(InputError, match=r"\(format 'something-else', expected 'dynsys-rnn'\)$"):
        load_model(saved)


def test_a_text_file_named_npz_is_refused(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("U,W,b\n1,2,3\n")
    with pytest.raises(InputError, match=r"is not a dynsys model file \(not an \.npz archive\)$"):
        load_model(path)


@pytest.mark.parametrize("keep", [0.5, 0.9, -10])
def test_a_truncated_file_is_refused(saved, keep):
    data = saved.read_bytes()
    cut = int(len(data) * keep) if keep > 0 else len(data) + keep
    saved.write_bytes(data[:cut])
    with pytest.raises(InputError, match=r"^model file .*model\.npz is truncated or corrupt"):
        load_model(saved)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            {"format_version": FORMAT_VERSION + 1},
            rf"\(format version {FORMAT_VERSION + 1}\) was saved by dynsys .*; this is dynsys "
            rf"{dynsys.__version__}, which reads format version {FORMAT_VERSION}; upgrade dynsys$",
        ),
        (
            {"dynsys_version": "99.0.0"},
            rf"was saved by dynsys 99\.0\.0; this is dynsys {dynsys.__version__},.*upgrade dynsys$",
        ),
        ({"format_version": "1"}, r"has an invalid format_version '1'$"),
    ],
)
def test_a_file_from_a_newer_dynsys_is_refused(saved, edit, message):
    rewrite(saved, lambda arrays, meta: meta.update(edit))
    with pytest.raises(InputError, match=message):
        load_model(saved)


def test_an_array_of_the_wrong_shape_is_named_with_both_shapes(saved):
    rewrite(saved, lambda arrays, meta: arrays.update(W=np.zeros((6, 5))))
    with pytest.raises(
        InputError, match=r"array 'W' has shape \(6, 5\) but the architecture needs \(6, 6\)$"
    ):
        load_model(saved)


def test_a_missing_or_non_finite_array_is_refused(saved):
    rewrite(saved, lambda arrays, meta: arrays.pop("c"))
    with pytest.raises(InputError, match=r"has no array 'c'$"):
        load_model(saved)
    rewrite(saved, lambda arrays, meta: arrays.update(c=np.zeros(3), V=np.full((6, 3), np.nan)))
    with pytest.raises(InputError, match=r"array 'V' must hold finite numbers$"):
        load_model(saved)


def test_an_unknown_model_kind_is_refused_with_the_closest_match(saved):
    rewrite(saved, lambda arrays, meta: meta["architecture"].update(kind="elmann"))
    with pytest.raises(
        InputError, match=r"model\.npz: architecture\.kind: unknown model kind 'elmann' \(did you"
    ):
        load_model(saved)


def test_a_pickled_array_is_refused_not_unpickled(saved):
    rewrite(saved, lambda arrays, meta: arrays.update(b=np.array([{"x": 1}], dtype=object)))
    with pytest.raises(InputError, match=r"holds pickled objects; dynsys loads none$"):
        load_model(saved)


def test_an_invalid_architecture_is_refused_naming_the_file(saved):
    rewrite(saved, lambda arrays, meta: meta["architecture"].update(n_hidden=-6))
    with pytest.raises(InputError, match=r"has an invalid architecture: n_hidden must be"):
        load_model(saved)
