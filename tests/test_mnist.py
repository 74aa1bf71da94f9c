"""MNIST from the user's files: IDX folders (plain or gzipped) and the pickled three-way split, read exactly; foreign,
truncated or malicious files refused with a DataError; and the N-CODE digits command run on such a file."""

import gzip
import json
import pickle

import numpy as np
import pytest
from typer.testing import CliRunner

from gnode.cli.main import app
from gnode.datasets.mnist import read_mnist
from gnode.errors import DataError


def write_idx(path, array: np.ndarray, compress: bool) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    raw = header + array.astype(np.uint8).tobytes()
    (path.with_name(path.name + ".gz") if compress else path).write_bytes(gzip.compress(raw) if compress else raw)


def idx_folder(folder, train: int = 30, test: int = 10, compress: bool = False, seed: int = 0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split, count, (images, labels) in [
        ("train", train, ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")),
        ("test", test, ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")),
    ]:
        x = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        y = np.arange(count, dtype=np.uint8) % 10
        write_idx(folder / images, x, compress)
        write_idx(folder / labels, y, compress)
        arrays[split] = (x, y)
    return arrays


@pytest.mark.parametrize("compress", [False, True])
def test_idx_files_are_read_exactly(tmp_path, compress):
    arrays = idx_folder(tmp_path / "mnist", compress=compress)
    splits = read_mnist(tmp_path / "mnist")
    assert sorted(splits) == ["test", "train"]
    for name, (x, y) in arrays.items():
        images, labels = splits[name]
        assert images.shape == (len(x), 784) and images.dtype == np.float32
        np.testing.assert_array_equal(np.rint(images * 255).astype(np.uint8), x.reshape(len(x), -1))
        np.testing.assert_array_equal(labels, y)


def test_the_pickled_split_is_read_with_its_validation_part(tmp_path):
    rng = np.random.default_rng(1)
    parts = tuple((rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n)) for n in (12, 4, 5))
    (tmp_path / "mnist.pkl.gz").write_bytes(gzip.compress(pickle.dumps(parts, protocol=2)))
    splits = read_mnist(tmp_path / "mnist.pkl.gz")
    for name, (x, y) in zip(("train", "val", "test"), parts, strict=True):
        np.testing.assert_array_equal(splits[name][0], x)
        np.testing.assert_array_equal(splits[name][1], y)


class Shell:
    def __reduce__(self):
        import os

        return (os.system, ("touch pwned",))


def test_foreign_truncated_and_malicious_files_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps(((Shell(), 1), (2, 3), (4, 5))))
    with pytest.raises(DataError, match="refused to load"):
        read_mnist(tmp_path / "evil.pkl")
    assert not (tmp_path / "pwned").exists()  # refused before anything ran
    (tmp_path / "text.pkl").write_text("not a pickle")
    with pytest.raises(DataError, match="not a pickled MNIST split"):
        read_mnist(tmp_path / "text.pkl")
    folder = tmp_path / "idx"
    idx_folder(folder)
    cut = folder / "t10k-images-idx3-ubyte"
    cut.write_bytes(cut.read_bytes()[:-5])
    with pytest.raises(DataError, match="truncated"):
        read_mnist(folder)
    cut.write_bytes(b"\x00\x00\x08\x01" + bytes(8))  # 1-D bytes where images (3-D) belong
    with pytest.raises(DataError, match="not an IDX file of 3-D"):
        read_mnist(folder)
    cut.unlink()
    with pytest.raises(DataError, match="no t10k-images-idx3-ubyte"):
        read_mnist(folder)
    with pytest.raises(DataError, match="no such file or folder"):
        read_mnist(tmp_path / "nowhere")


def test_ncode_digits_runs_on_an_mnist_folder(tmp_path):
    idx_folder(tmp_path / "mnist", train=90, test=20)  # 75 train after the validation sixth
    out = tmp_path / "out"
    args = ["ncode", "digits", "--mnist", str(tmp_path / "mnist"), "--out", str(out), "--models", "node"]
    args += ["--epochs", "1", "--seeds", "1", "--lrs", "1e-3", "--extend-lrs", "0", "--steps", "2", "--solver", "euler"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["task"] == "mnist" and (out / "mnist.png").is_file()
    assert len(summary["models"]["node"]["test"]["accuracy"]) == 1
