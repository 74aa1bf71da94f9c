import numpy as np
import pytest

from gnode.datasets import uea
from gnode.errors import DataError

HEADER = """@problemName Tiny
@timeStamps false
@missing true
@univariate false
@dimensions 2
@equalLength false
@classLabel true a b c
@data
"""


def write(path, lines, header=HEADER):
    path.write_text(header + "\n".join(lines) + "\n")
    return path


def tiny(tmp_path, name="Tiny"):
    write(tmp_path / f"{name}_TRAIN.ts", ["1,2,3:4,5,6:a", "1,?:3,4:b", "0,0,0,0:1,1,1,1:c"])
    write(tmp_path / f"{name}_TEST.ts", ["7,8:9,10:b"])
    return tmp_path


def test_reads_cases_as_time_by_channel_with_label_indices(tmp_path):
    data = uea.read_ts(tiny(tmp_path) / "Tiny_TRAIN.ts")
    assert [s.shape for s in data.series] == [(3, 2), (2, 2), (4, 2)]
    np.testing.assert_array_equal(data.series[0], [[1, 4], [2, 5], [3, 6]])
    assert np.isnan(data.series[1][1, 0])  # '?' is a missing value
    assert data.classes == ("a", "b", "c")
    np.testing.assert_array_equal(data.labels, [0, 1, 2])


def test_test_labels_index_the_training_classes(tmp_path):
    train, test = uea.load_uea(tiny(tmp_path), "Tiny")
    assert test.labels.tolist() == [1] and test.classes == train.classes


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p, "no such file"),
        (lambda p: p.write_text("not a ts file\n") or p, "no cases"),
        (lambda p: write(p, ["1,2:3,4:z"]), "unknown class label(s) ['z']"),
        (lambda p: write(p, ["1,2:3,4"], HEADER.replace("@classLabel true a b c", "@classLabel false")), "declares no"),
        (lambda p: write(p, ["1,2:3,4:a", "1,2:a"]), "Inconsistent number of dimensions"),
    ],
)
def test_bad_files_give_one_line_errors_naming_the_file(tmp_path, make, message):
    path = tmp_path / "Bad_TRAIN.ts"
    make(path)
    with pytest.raises(DataError) as error:
        uea.read_ts(path)
    assert str(path) in str(error.value) and message in str(error.value) and "\n" not in str(error.value)


def test_a_test_file_with_a_class_the_training_file_lacks_is_refused(tmp_path):
    tiny(tmp_path)
    write(tmp_path / "Tiny_TEST.ts", ["7,8:9,10:d"], HEADER.replace("a b c", "a b c d"))
    with pytest.raises(DataError, match=r"Tiny_TEST\.ts: unknown class label"):
        uea.load_uea(tmp_path, "Tiny")


def test_character_trajectories_reads_the_uea_files_from_a_folder(tmp_path):
    with pytest.raises(DataError, match=r"CharacterTrajectories_TRAIN\.ts: no such file"):
        uea.character_trajectories(tmp_path)
    train, test = uea.character_trajectories(tiny(tmp_path, "CharacterTrajectories"))
    assert len(train.series) == 3 and len(test.series) == 1


def test_japanese_vowels_is_the_shipped_uea_problem():
    train, test = uea.japanese_vowels()
    assert (len(train.series), len(test.series)) == (270, 370)
    assert train.channels == 12 and len(train.classes) == 9
    lengths = [s.shape[0] for s in train.series + test.series]
    assert (min(lengths), max(lengths)) == (7, 29)
    assert np.bincount(train.labels).tolist() == [30] * 9
