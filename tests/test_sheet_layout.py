"""The register's layout: unique keys and headers, statuses read back however staff type them."""

import pytest

from daemon.sheet_layout import ACTIVITY_COLUMNS, REGISTER_COLUMNS, STATUS_LABELS, Status


def test_keys_and_headers_are_unique():
    for columns in (REGISTER_COLUMNS, ACTIVITY_COLUMNS):
        assert len({c.key for c in columns}) == len(columns)
        assert len({c.header for c in columns}) == len(columns)
    assert REGISTER_COLUMNS[0].key == "reference" and REGISTER_COLUMNS[-1].key == "message_id"


@pytest.mark.parametrize("status", list(Status))
def test_every_status_reads_back_from_any_part_of_its_label(status):
    label = STATUS_LABELS[status]
    english, _, chinese = label.rpartition(" ")
    for text in (label, english, english.upper(), chinese, f"  {chinese} ", status.value):
        assert Status.from_label(text) == status


def test_unknown_or_empty_status_is_none():
    assert Status.from_label("") is None
    assert Status.from_label("处理中？") is None
