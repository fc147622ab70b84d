"""A provider server shared by the tests of this folder (real server on a free loopback port)."""

from __future__ import annotations

import pytest

from tokenproof_devkit.provider.corpus import GPT4, MIXTRAL, get_corpus
from tokenproof_devkit.provider.testing import run_provider


@pytest.fixture(scope="module")
def provider():
    with run_provider() as handle:
        yield handle


@pytest.fixture(scope="session")
def gsm8k_split():
    """A recorded GSM8K question GPT-4 got right and Mixtral got wrong."""
    for record in get_corpus().records:
        if record.dataset == "gsm8k" and record.labels[GPT4] == 1.0 and record.labels[MIXTRAL] == 0.0:
            return record
    raise AssertionError("no split GSM8K record")


@pytest.fixture(scope="session")
def gsm8k_both_right():
    for record in get_corpus().records:
        if record.dataset == "gsm8k" and record.labels[GPT4] == 1.0 and record.labels[MIXTRAL] == 1.0:
            return record
    raise AssertionError("no GSM8K record both models got right")
