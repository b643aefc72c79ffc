"""The command-line import of a DVCQG/OCPS procedure export, on both store adapters."""

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from catalog.handlers import Catalog
from catalog.importer import import_rows, read_rows, to_draft, validate
from catalog.seed import load
from catalog.settings import CatalogSettings
from catalog.store import CatalogStore
from kit.problems import NotFound
from kit.runtime import Runtime
from kit.store.sqlite import SqliteStore

DATA = Path(__file__).parent / "data"


async def add_reference_data(store) -> None:
    """The seed's fields and agencies (not its procedures)."""
    for name in ("fields.json", "agencies.json"):
        collection = store.collection(name.split(".")[0])
        for item in load(name):
            await collection.insert({"_id": item["code"], **item})


@pytest.fixture
async def catalog(store):
    await add_reference_data(store)
    return Catalog(CatalogStore(Runtime(CatalogSettings(), store=store)))


def rows(name):
    return read_rows(DATA / name)


def by_code(reports):
    return {r.code: r for r in reports}


async def outbox_types(catalog, code):
    doc = await catalog.store.procedures.get(code)
    return [entry["event"]["type"].split(".")[-2] for entry in doc["outbox"]]


# --- mapping (pure) ---------------------------------------------------------------------------------------

def test_the_national_names_map_onto_a_draft():
    draft, problems = validate(to_draft(rows("procedures.json")[0]))
    assert problems == []
    assert (draft.code, draft.level, draft.field_code, draft.agency_code) == ("1.990001", "commune", "ho-tich",
                                                                              "000.00.21.H49")
    assert draft.target_applicants == ["citizen"]  # both entries are people
    assert [(t.channel, t.value, t.unit) for t in draft.processing_times] == [("in_person", 1, "working_days"),
                                                                              ("online", 8, "hours")]
    assert [(f.channel, f.case_code, f.amount) for f in draft.fees] == [("in_person", "TH1", 0),
                                                                       ("in_person", "TH2", 5000)]
    assert [c.code for c in draft.cases] == ["TH1", "TH2"]
    assert draft.required_documents[0].form_code == "TK-KT" and draft.required_documents[1].form_code is None
    assert draft.conditions == ["Người đi đăng ký là thân nhân của người chết",
                                "Đăng ký trong 15 ngày kể từ ngày có người chết"]
    assert draft.result.code == "TLKT" and draft.legal_basis[1].number == "123/2015/NĐ-CP"
    assert (draft.online_level, draft.accepted_anywhere, draft.immediate_result) == ("full", True, False)
    assert draft.effective_from == date(2025, 7, 1)


def test_legacy_online_levels_units_amounts_and_dates():
    second, third = (validate(to_draft(r))[0] for r in rows("procedures.json")[1:])
    assert second.online_level == "full" and third.online_level == "partial"  # MucDo 4 and "3"
    assert second.target_applicants == ["business", "organisation"]  # a comma inside brackets does not split
    assert second.fees[0].amount == 3_000_000 and second.processing_times[0].unit == "days"
    assert third.processing_times[0].unit == "months" and third.effective_from == date(2025, 8, 15)
    changed = validate(to_draft(rows("procedures.json")[1], {"4": "partial"}))[0]
    assert changed.online_level == "partial"  # the inferred mapping is the operator's to change


def test_every_problem_of_a_row_is_named_in_the_national_terms():
    row = {"TenTTHC": "x", "CapThucHien": "Cấp Bộ", "DoiTuongThucHien": "Người nước ngoài",
           "CachThucThucHien": [{"Kenh": 2, "ThoiGian": 3}, {"Kenh": 7, "ThoiGian": 1, "DonViTinh": "Ngày"},
                                {"Kenh": 1, "ThoiGian": 1, "DonViTinh": "Tuần",
                                 "PhiLePhi": [{"SoTien": "-5.000"}, {"SoTien": "abc"}]}],
           "MucDo": 2, "NgayHieuLuc": "31/02/2025"}
    draft, problems = validate(to_draft(row))
    assert draft is None
    assert sorted(map(str, problems)) == sorted([
        "CapThucHien: unknown level 'Cấp Bộ'",
        "CachThucThucHien[0].DonViTinh: missing unit",
        "CachThucThucHien[1].Kenh: unknown channel '7'",
        "CachThucThucHien[2].DonViTinh: unknown unit 'Tuần'",
        "CachThucThucHien[2].PhiLePhi[1].SoTien: not an amount in VND 'abc'",
        "MucDo: level 2 is not an online service the catalogue holds (full or partial; see --legacy-level)",
        "NgayHieuLuc: not a date '31/02/2025' (dd/mm/yyyy or yyyy-mm-dd)",
        "MaTTHC: field required",
        "TenTTHC: string should have at least 3 characters",
        "MaLinhVuc: field required",
        "MaCoQuanThucHien: field required",
        "CachThucThucHien[2].PhiLePhi[0].SoTien: input should be greater than or equal to 0",
    ])


def test_the_draft_s_own_consistency_rules_are_named_too():
    row = rows("procedures.json")[0]
    row["CachThucThucHien"][0]["PhiLePhi"][0]["MaTruongHop"] = "TH9"
    assert [str(p) for p in validate(to_draft(row))[1]] == [
        "CachThucThucHien[0].PhiLePhi[0].MaTruongHop: 'TH9' is not one of the procedure's cases"]


# --- importing --------------------------------------------------------------------------------------------

async def test_a_json_export_is_published_and_in_force(catalog):
    reports = await import_rows(catalog, rows("procedures.json"), publish=True, dry_run=False, progress=False)
    assert [(r.code, r.outcome) for r in reports] == [("1.990001", "published"), ("2.990002", "published"),
                                                      ("1.990003", "published")]
    death = await catalog.in_force("1.990001", date(2025, 8, 1))
    assert death.name_vi == "Đăng ký khai tử" and death.fees[1].amount == 5000
    assert (await catalog.in_force("1.990003", date(2025, 8, 15))).level == "province"
    assert await outbox_types(catalog, "1.990001") == ["published"]  # for the service's relay to publish


async def test_without_publish_drafts_are_staged_then_published_by_a_second_run(catalog):
    reports = await import_rows(catalog, rows("procedures.json"), publish=False, dry_run=False, progress=False)
    assert {r.outcome for r in reports} == {"created"}
    with pytest.raises(NotFound):
        await catalog.in_force("1.990001", date(2025, 8, 1))  # a draft is not public
    again = await import_rows(catalog, rows("procedures.json"), publish=False, dry_run=False, progress=False)
    assert {r.outcome for r in again} == {"unchanged"}
    published = await import_rows(catalog, rows("procedures.json"), publish=True, dry_run=False, progress=False)
    assert {r.outcome for r in published} == {"published"}
    assert (await catalog.in_force("1.990001", date(2025, 8, 1))).version == 1


async def test_a_csv_export_imports(catalog):
    reports = await import_rows(catalog, rows("procedures.csv"), publish=True, dry_run=False, progress=False)
    assert [(r.code, r.outcome, r.problems) for r in reports] == [("1.990101", "published", []),
                                                                  ("2.990102", "published", [])]
    household = await catalog.in_force("2.990102", date(2025, 7, 1))
    assert [(f.channel, f.amount) for f in household.fees] == [("online", 0), ("in_person", 100000)]
    assert household.target_applicants == ["citizen"] and len(household.conditions) == 2
    copy = await catalog.in_force("1.990101", date(2025, 7, 1))
    assert copy.online_level == "partial" and copy.accepted_anywhere and copy.immediate_result
    assert copy.target_applicants == ["citizen", "organisation"]
    assert copy.result.name == "Bản sao được chứng thực"


async def test_bad_rows_are_reported_with_the_field_and_store_nothing_while_good_rows_are_stored(catalog):
    reports = await import_rows(catalog, rows("bad_rows.json"), publish=True, dry_run=False, progress=False)
    assert [(r.row, r.code, r.outcome) for r in reports] == [
        (1, "1.990201", "published"), (2, "(missing)", "failed"), (3, "1.990203", "failed"),
        (4, "1.990206", "failed"), (5, "1.990204", "failed"), (6, "1.990205", "published")]
    assert [str(p) for p in reports[1].problems] == ["MaTTHC: field required"]
    assert [str(p) for p in reports[2].problems] == [
        "CachThucThucHien[0].PhiLePhi[1].SoTien: input should be greater than or equal to 0"]
    assert [str(p) for p in reports[3].problems] == ["CachThucThucHien[1].DonViTinh: missing unit"]
    assert [p.field for p in reports[4].problems] == ["MaLinhVuc"] and "'xyz'" in reports[4].problems[0].message
    for code in ("1.990203", "1.990206", "1.990204"):
        assert await catalog.store.get(code) is None
    assert len(await catalog.store.all()) == 2
    assert (await catalog.in_force("1.990205", date(2025, 7, 1))).name_vi.endswith("(mẫu tốt 2)")


async def test_bad_csv_cells_are_reported(catalog):
    reports = by_code(await import_rows(catalog, rows("bad_rows.csv"), publish=True, dry_run=False, progress=False))
    assert reports["1.990301"].outcome == "published"
    assert [p.field for p in reports["1.990302"].problems] == ["CachThucThucHien"]  # said once
    assert "not valid JSON" in reports["1.990302"].problems[0].message
    assert {p.field for p in reports["1.990303"].problems} == {"NgayHieuLuc", "CapThucHien"}
    assert [p.field for p in reports["1.990304"].problems] == ["MaCoQuanThucHien"]
    assert {str(p) for p in reports["1.990305"].problems} >= {"CachThucThucHien[0].Kenh: unknown channel '9'",
                                                             "CachThucThucHien[1].DonViTinh: unknown unit 'Tuần'"}
    assert [p.code for p in await catalog.store.all()] == ["1.990301"]


async def test_re_running_the_same_file_changes_nothing(catalog):
    await import_rows(catalog, rows("bad_rows.json"), publish=True, dry_run=False, progress=False)
    before = [p.model_dump() for p in await catalog.store.all()]
    generation = await catalog.store.generation()
    again = await import_rows(catalog, rows("bad_rows.json"), publish=True, dry_run=False, progress=False)
    assert [r.outcome for r in again] == ["unchanged", "failed", "failed", "failed", "failed", "unchanged"]
    assert [p.model_dump() for p in await catalog.store.all()] == before
    assert await catalog.store.generation() == generation  # nothing was written, not even a counter


async def test_a_changed_published_procedure_gets_a_version_only_with_publish(catalog):
    await import_rows(catalog, rows("procedures.json"), publish=True, dry_run=False, progress=False)
    changed = rows("procedures.json")[:1]
    changed[0]["TenTTHC"] = "Đăng ký khai tử (sửa đổi)"
    changed[0]["NgayHieuLuc"] = "01/01/2026"
    staged = await import_rows(catalog, changed, publish=False, dry_run=False, progress=False)
    assert staged[0].outcome == "exists" and "--publish" in staged[0].note
    assert len((await catalog.procedure("1.990001")).versions) == 1
    revised = await import_rows(catalog, changed, publish=True, dry_run=False, progress=False)
    assert (revised[0].outcome, revised[0].note) == ("revised", "version 2")
    assert (await catalog.in_force("1.990001", date(2025, 12, 31))).version == 1
    assert (await catalog.in_force("1.990001", date(2026, 1, 1))).name_vi.endswith("(sửa đổi)")
    assert await outbox_types(catalog, "1.990001") == ["published", "revised"]


async def test_a_dry_run_checks_everything_and_writes_nothing(catalog):
    reports = await import_rows(catalog, rows("bad_rows.json"), publish=True, dry_run=True, progress=False)
    assert [r.outcome for r in reports] == ["published", "failed", "failed", "failed", "failed", "published"]
    assert reports[4].problems[0].field == "MaLinhVuc"  # references are checked too
    assert await catalog.store.all() == []


async def test_a_code_twice_in_a_file_or_a_withdrawn_procedure_fails(catalog):
    row = rows("procedures.json")[0]
    twice = [row, {**row, "TenTTHC": "Khác"}]
    reports = await import_rows(catalog, twice, publish=True, dry_run=False, progress=False)
    assert [str(p) for p in reports[1].problems] == ["MaTTHC: 1.990001 is already in row 1 of this file"]
    await catalog.withdraw("1.990001", effective_from=date(2026, 1, 1), reason="Bãi bỏ")
    reports = await import_rows(catalog, [{**row, "TenTTHC": "Khác"}], publish=True, dry_run=False, progress=False)
    assert reports[0].outcome == "failed" and reports[0].problems[0].field == "MaTTHC"
    assert "withdrawn" in reports[0].problems[0].message


# --- the command line, end to end -------------------------------------------------------------------------

@pytest.fixture
async def cli(tmp_path):
    """Runs the importer as an operator would, on a SQLite catalogue holding the reference data."""
    store = SqliteStore(tmp_path / "catalog.sqlite3")
    await store.start()
    await add_reference_data(store)
    await store.stop()
    env = {**os.environ, "MOTCUA_STORE": "sqlite", "MOTCUA_SQLITE_DIR": str(tmp_path), "MOTCUA_BUS": "kafka"}

    def run(*args, script=False):
        command = ([str(Path(sys.executable).with_name("motcua-catalog-import"))] if script
                   else [sys.executable, "-m", "catalog.importer"])
        return subprocess.run([*command, *map(str, args)], env=env, cwd=tmp_path, capture_output=True, text=True,
                              timeout=120)

    return run


async def test_the_cli_prints_the_report_writes_it_as_json_and_exits_1_on_bad_rows(cli, tmp_path):
    done = cli(DATA / "bad_rows.json", "--publish", "--report", tmp_path / "report.json")
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["Row", "Code", "Outcome", "Problems", "/", "notes"]
    assert any(line.split()[:4] == ["2", "(missing)", "failed", "MaTTHC:"] for line in lines)
    assert "CachThucThucHien[1].DonViTinh: missing unit" in done.stdout
    assert lines[-1] == "6 rows: 2 published, 4 failed"
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["summary"] == {"rows": 6, "created": 0, "published": 2, "revised": 0, "unchanged": 0,
                                 "exists": 0, "failed": 4}
    assert report["rows"][1] == {"row": 2, "code": "(missing)", "outcome": "failed", "note": "",
                                 "problems": [{"field": "MaTTHC", "message": "field required"}]}
    again = cli(DATA / "procedures.csv", "--publish")
    assert again.returncode == 0 and again.stdout.splitlines()[-1] == "2 rows: 2 published"


async def test_the_cli_exits_2_on_a_missing_or_unreadable_file_or_bad_arguments(cli, tmp_path):
    missing = cli(tmp_path / "nowhere.json", script=True)  # the installed script
    assert missing.returncode == 2 and "nowhere.json: no such file" in missing.stderr
    assert "Traceback" not in missing.stderr
    (tmp_path / "broken.json").write_text('{"data": [', encoding="utf-8")
    broken = cli(tmp_path / "broken.json")
    assert broken.returncode == 2 and "not valid JSON" in broken.stderr and "Traceback" not in broken.stderr
    assert cli(DATA / "procedures.json", "--format", "xml").returncode == 2
    assert cli(DATA / "procedures.json", "--format", "csv").returncode == 2  # no MaTTHC column
    assert cli(DATA / "procedures.json", "--legacy-level", "4=maybe").returncode == 2


async def test_a_cli_dry_run_exits_0_and_writes_nothing(cli, tmp_path):
    done = cli(DATA / "procedures.json", "--dry-run", "--publish")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "3 rows: 3 published (dry run: nothing was written)"
    store = SqliteStore(tmp_path / "catalog.sqlite3")
    await store.start()
    try:
        assert await store.collection("procedures").count() == 0
    finally:
        await store.stop()
