"""The document-store contract: the same tests, unchanged, on SQLite and on MongoDB (FerretDB)."""

import asyncio

import pytest

from kit.store import DuplicateKey, VersionConflict


async def test_insert_then_get_returns_the_document_at_version_1(store):
    coll = store.collection("dossiers")
    await coll.insert({"_id": "D1", "state": "submitted", "applicant": {"name": "Nguyễn Văn An"}})
    doc = await coll.get("D1")
    assert doc["state"] == "submitted"
    assert doc["applicant"]["name"] == "Nguyễn Văn An"
    assert doc["version"] == 1
    assert doc["outbox"] == []


async def test_insert_twice_is_a_duplicate_and_keeps_the_first(store):
    coll = store.collection("dossiers")
    await coll.insert({"_id": "D1", "state": "first"})
    with pytest.raises(DuplicateKey):
        await coll.insert({"_id": "D1", "state": "second"})
    assert (await coll.get("D1"))["state"] == "first"


async def test_unique_index_refuses_a_second_document_with_the_same_value(store):
    coll = store.collection("keys")
    await coll.ensure_index(["key"], unique=True)
    await coll.insert({"_id": "a", "key": "K"})
    with pytest.raises(DuplicateKey):
        await coll.insert({"_id": "b", "key": "K"})
    assert await coll.count() == 1


async def test_save_bumps_the_version_and_appends_to_the_outbox(store):
    coll = store.collection("dossiers")
    doc = await coll.insert({"_id": "D1", "state": "submitted"}, [{"id": "e1", "topic": "t"}])
    doc["state"] = "received"
    saved = await coll.save(doc, expected_version=1, events=[{"id": "e2", "topic": "t"}])
    assert saved["version"] == 2
    stored = await coll.get("D1")
    assert stored["state"] == "received"
    assert [e["id"] for e in stored["outbox"]] == ["e1", "e2"]


async def test_a_stale_save_is_a_version_conflict_and_changes_nothing(store):
    coll = store.collection("dossiers")
    doc = await coll.insert({"_id": "D1", "state": "submitted"})
    await coll.save({**doc, "state": "received"}, expected_version=1)
    with pytest.raises(VersionConflict):
        await coll.save({**doc, "state": "refused"}, expected_version=1, events=[{"id": "x"}])
    stored = await coll.get("D1")
    assert stored["state"] == "received" and stored["version"] == 2 and stored["outbox"] == []


async def test_concurrent_saves_of_one_version_let_exactly_one_win(store):
    coll = store.collection("dossiers")
    doc = await coll.insert({"_id": "D1", "n": 0})

    async def attempt(i):
        try:
            await coll.save({**doc, "n": i}, expected_version=1)
            return True
        except VersionConflict:
            return False

    results = await asyncio.gather(*(attempt(i) for i in range(1, 9)))
    assert results.count(True) == 1
    assert (await coll.get("D1"))["version"] == 2


async def test_outbox_events_are_listed_and_removed_without_touching_the_version(store):
    coll = store.collection("dossiers")
    await coll.insert({"_id": "A"}, [{"id": "a1"}, {"id": "a2"}])
    await coll.insert({"_id": "B"})
    await coll.insert({"_id": "C"}, [{"id": "c1"}])
    pending = await coll.with_outbox()
    assert sorted(d["_id"] for d in pending) == ["A", "C"]
    pending_a = next(d for d in pending if d["_id"] == "A")["outbox"]
    await coll.remove_from_outbox("A", [pending_a[0]])
    a = await coll.get("A")
    assert [e["id"] for e in a["outbox"]] == ["a2"] and a["version"] == 1
    await coll.remove_from_outbox("A", [pending_a[1]])
    await coll.remove_from_outbox("C", [{"id": "c1"}])
    assert await coll.with_outbox() == []


async def test_what_this_process_wrote_with_events_is_taken_by_id_once(store):
    coll = store.collection("dossiers")
    await coll.insert({"_id": "Z"}, [{"id": "z1"}])  # before anyone watches: not recorded (no relay, no growth)
    assert store.pending_outbox("dossiers") is None
    store.watch_outbox("dossiers")
    await coll.insert({"_id": "A"}, [{"id": "a1"}])
    await coll.insert({"_id": "B"})  # no event: not pending
    saved = await coll.save({"_id": "C", **(await coll.insert({"_id": "C"}))}, 1, [{"id": "c1"}])
    assert saved["version"] == 2
    taken = await coll.take_pending_outbox()
    assert sorted(d["_id"] for d in taken) == ["A", "C"]
    assert await coll.take_pending_outbox() == []  # taken once; what is left is the sweep's (with_outbox)
    await coll.save({"_id": "A"}, 1, [{"id": "a2"}])
    await coll.remove_from_outbox("A", [{"id": "a1"}, {"id": "a2"}])
    assert await coll.take_pending_outbox() == []  # pending, but already published: left out
    assert sorted(d["_id"] for d in await coll.with_outbox()) == ["C", "Z"]


async def test_count_by_counts_each_value_in_one_pass(store):
    coll = store.collection("dossiers")
    for n, state in enumerate(["submitted", "received", "received", "returned", "received"]):
        await coll.insert({"_id": f"D{n}", "state": state, "agency": "X" if n < 4 else "Y"})
    assert await coll.count_by("state") == {"submitted": 1, "received": 3, "returned": 1}
    assert await coll.count_by("state", {"agency": "X"}) == {"submitted": 1, "received": 2, "returned": 1}
    assert await coll.count_by("state", {"agency": "Z"}) == {}


async def test_find_filters_sorts_and_limits(store):
    coll = store.collection("procedures")
    rows = [
        {"_id": "p1", "field": "tu-phap", "days": 5, "meta": {"level": "commune"}, "online": True},
        {"_id": "p2", "field": "tu-phap", "days": 15, "meta": {"level": "province"}, "online": False},
        {"_id": "p3", "field": "xay-dung", "days": 20, "meta": {"level": "province"}, "online": True},
        {"_id": "p4", "field": "dat-dai", "days": 30, "meta": {"level": "district"}},
    ]
    for row in rows:
        await coll.insert(row)

    async def ids(flt, **kw):
        return [d["_id"] for d in await coll.find(flt, **kw)]

    assert await ids({"field": "tu-phap"}, sort=[("_id", 1)]) == ["p1", "p2"]
    assert await ids({"meta.level": "province"}, sort=[("days", -1)]) == ["p3", "p2"]
    assert await ids({"days": {"$gte": 15, "$lt": 30}}, sort=[("days", 1)]) == ["p2", "p3"]
    assert await ids({"field": {"$in": ["dat-dai", "xay-dung"]}}, sort=[("_id", 1)]) == ["p3", "p4"]
    assert await ids({"field": {"$nin": ["tu-phap"]}}, sort=[("_id", 1)]) == ["p3", "p4"]
    assert await ids({"field": {"$ne": "tu-phap"}}, sort=[("_id", 1)]) == ["p3", "p4"]
    assert await ids({"online": True}, sort=[("_id", 1)]) == ["p1", "p3"]
    assert await ids({"online": {"$exists": False}}) == ["p4"]
    assert await ids({}, sort=[("days", -1)], limit=2) == ["p4", "p3"]
    assert await ids({"_id": {"$gt": "p2"}}, sort=[("_id", 1)]) == ["p3", "p4"]
    assert await coll.count({"field": "tu-phap"}) == 2
    assert (await coll.find_one({"field": "xay-dung"}))["_id"] == "p3"


async def test_counters_are_atomic_under_concurrency(store):
    coll = store.collection("counters")
    values = await asyncio.gather(*(coll.increment("H49-261123") for _ in range(50)))
    assert sorted(values) == list(range(1, 51))
    assert await coll.increment("other") == 1


async def test_delete(store):
    coll = store.collection("x")
    await coll.insert({"_id": "1"})
    assert await coll.delete("1") is True
    assert await coll.delete("1") is False
    assert await coll.get("1") is None


async def test_ping_answers(store):
    await store.ping()
