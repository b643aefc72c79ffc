"""The lookup read model's entries: shaped once per event, read without parsing the view."""

import json
from datetime import UTC, datetime, timedelta

from contracts.dossier import DossierResubmitted, DossierSubmitted
from dossier.lookup.view import Entry, StatusView, shape

AT = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
COMMON = dict(code="000.00.21.H49-260302-0001", procedure_code="1.000894", procedure_name="Đăng ký kết hôn",
              agency_code="000.00.21.H49", channel="online")


def test_an_entry_survives_its_encoding():
    entry = Entry(7, "ab" * 32, b'{"code":"X"}')
    assert Entry.decode(entry.encode()) == entry
    assert Entry.decode(Entry(1, None, b"{}").encode()) == Entry(1, None, b"{}")


def test_absent_or_foreign_values_read_as_no_entry():
    assert Entry.decode(None) is None
    assert Entry.decode(b"") is None
    assert Entry.decode(b'{"code": "X", "sequence": 3, "sc": "ab"}') is None  # the layout before entries


def test_the_public_view_is_shaped_once_and_tells_no_secret():
    submitted = DossierSubmitted(**COMMON, sequence=1, state="submitted", status_code=1, occurred_at=AT,
                                 due_at=AT + timedelta(hours=8), security_code_hash="cd" * 32, result_channel="online")
    entry = shape(submitted, None)
    view = json.loads(entry.public)
    assert StatusView.model_validate(view).state_label_vi == "Mới đăng ký"
    assert set(view) == set(StatusView.model_fields)  # no hash, no sequence
    assert entry.sequence == 1 and entry.security_code_hash == "cd" * 32


def test_an_event_without_the_hash_or_a_deadline_keeps_those_already_known():
    first = shape(DossierSubmitted(**COMMON, sequence=1, state="submitted", status_code=1, occurred_at=AT,
                                   due_at=AT + timedelta(hours=8), security_code_hash="cd" * 32,
                                   result_channel="online"), None)
    later = shape(DossierResubmitted(**COMMON, sequence=2, state="state_added_later", status_code=None,
                                     occurred_at=AT + timedelta(days=1)), first)
    view = json.loads(later.public)
    assert later.security_code_hash == "cd" * 32 and later.sequence == 2
    assert view["due_at"] == json.loads(first.public)["due_at"]
    assert view["state_label_vi"] == view["state_label_en"] == "state_added_later"  # no label yet: its name


def test_every_event_type_of_the_topic_is_a_dossier_change_so_the_projection_can_shape_it():
    from contracts import topics
    from contracts.dossier import TOPIC, DossierChange

    assert all(issubclass(model, DossierChange) for model in topics()[TOPIC])
