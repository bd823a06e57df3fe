"""dynsys.files: atomic writes that fail in one line, bounded reads that refuse odd files."""

from __future__ import annotations

import os
import stat

import pytest

from dynsys.errors import InputError, WriteError
from dynsys.files import atomic_write, read_bytes, read_text


def write_x(f):
    f.write(b"x")


def test_an_oserror_while_writing_is_a_write_error_and_leaves_the_old_file(tmp_path):
    path = tmp_path / "out.txt"
    path.write_bytes(b"old")

    def full(f):
        f.write(b"new")
        raise OSError(28, "No space left on device")

    with pytest.raises(WriteError, match=r"cannot write .*out.txt: No space left on device$"):
        atomic_write(path, full)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_special_files_and_folders_are_never_replaced(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(InputError, match="it is a FIFO, not a file"):
        atomic_write(tmp_path / "pipe", write_x)
    assert stat.S_ISFIFO(os.lstat(tmp_path / "pipe").st_mode)
    (tmp_path / "d").mkdir()
    with pytest.raises(InputError, match="it is a folder, not a file"):
        atomic_write(tmp_path / "d", write_x)
    with pytest.raises(InputError, match=r"folder .* does not exist"):
        atomic_write(tmp_path / "missing" / "f", write_x)
    with pytest.raises(InputError, match="File name too long"):
        atomic_write(tmp_path / ("a" * 300), write_x)


def test_a_dangling_link_is_replaced_by_the_file(tmp_path):
    os.symlink(tmp_path / "nothing", tmp_path / "link")
    atomic_write(tmp_path / "link", write_x)
    assert not os.path.islink(tmp_path / "link")
    assert read_bytes(tmp_path / "link", limit=10) == b"x"


def test_reads_refuse_fifos_folders_big_files_and_links_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe")  # opened without a writer: a blocking open would hang here
    with pytest.raises(InputError, match=r"cannot read config .*pipe: it is a FIFO, not a file"):
        read_bytes(tmp_path / "pipe", limit=10, what="config")
    with pytest.raises(InputError, match="it is a folder, not a file"):
        read_bytes(tmp_path, limit=10)
    with pytest.raises(InputError, match="it is a device, not a file"):
        read_bytes("/dev/zero", limit=10)
    (tmp_path / "big").write_bytes(b"x" * 11)
    with pytest.raises(InputError, match="more than the"):
        read_bytes(tmp_path / "big", limit=10)
    os.symlink(tmp_path / "big", tmp_path / "link")
    assert read_bytes(tmp_path / "link", limit=20) == b"x" * 11
    with pytest.raises(InputError, match="symbolic link"):
        read_bytes(tmp_path / "link", limit=20, follow_links=False)
    with pytest.raises(InputError, match="No such file"):
        read_bytes(tmp_path / "missing", limit=20)


def test_a_small_file_is_read_with_memory_for_its_size_not_for_the_limit(tmp_path):
    (tmp_path / "small").write_bytes(b"abc")
    assert read_bytes(tmp_path / "small", limit=2**50) == b"abc"  # a 1 PiB buffer would fail


def test_text_must_be_utf8(tmp_path):
    (tmp_path / "bad").write_bytes(b"\xff\xfe")
    with pytest.raises(InputError, match="not UTF-8"):
        read_text(tmp_path / "bad", limit=10)
    (tmp_path / "good").write_text("σ = 1", encoding="utf-8")
    assert read_text(tmp_path / "good", limit=10) == "σ = 1"


def test_a_name_at_the_file_system_limit_is_written_and_its_temporaries_found(tmp_path):
    """255 characters: the temporary file's name is cut so that it still fits."""
    from dynsys.files import temporary_files, writable

    path = tmp_path / ("a" * 251 + ".csv")
    assert writable(path) == path and temporary_files(path) == []
    atomic_write(path, write_x)
    assert path.read_bytes() == b"x"
    (tmp_path / ("." + "a" * 200 + ".k2j3.tmp")).write_bytes(b"")
    assert [p.name for p in temporary_files(path)] == ["." + "a" * 200 + ".k2j3.tmp"]


def test_writable_tells_a_bad_path_from_a_refusing_folder(tmp_path, monkeypatch):
    from dynsys.files import writable

    (tmp_path / "afile").write_bytes(b"")
    with pytest.raises(InputError, match="afile is not a folder"):
        writable(tmp_path / "afile" / "out.csv")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("tempfile.mkstemp", denied)
    with pytest.raises(WriteError, match=r"out.csv: Permission denied$"):
        writable(tmp_path / "out.csv")
