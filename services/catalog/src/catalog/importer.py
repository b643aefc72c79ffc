"""Import procedures from an export of the national procedure database (DVCQG / OCPS "LayThuTuc").

    python -m catalog.importer FILE [--format json|csv] [--publish] [--dry-run] [--report REPORT.json]
    motcua-catalog-import FILE ...                      (the same, as an installed script)

It writes to the catalogue's own store, chosen like the service's (MOTCUA_STORE, MOTCUA_SQLITE_DIR,
MOTCUA_MONGODB_URL...). Events go into the procedures' outbox by the same write that changes the
procedure; the running catalogue service's relay publishes them (the importer publishes nothing itself).
With MOTCUA_STORE=sqlite the store is a file meant for one process: import while the service is idle.

Input
-----
json  a list of procedure objects, or {"data": [...]}.
csv   one row per procedure (UTF-8, a BOM is fine; "," or ";" separated), with a header row of the names
      below. Scalar fields are plain cells; the columns holding lists or objects (CachThucThucHien,
      TruongHop, ThanhPhanHoSo, KetQuaThucHien, CanCuPhapLy) hold JSON text, e.g.
      [{"Kenh": 2, "ThoiGian": 3, "DonViTinh": "Ngày làm việc", "PhiLePhi": [{"SoTien": 8000}]}].
      DoiTuongThucHien and YeuCauDieuKien may be JSON lists or plain text.
The format follows the file's extension unless --format is given. Names are matched ignoring case; other
names are ignored. Row numbers count procedures from 1 (a CSV header is not a row).

Mapping (national name → catalogue field)
-----------------------------------------
MaTTHC → code (1.001234)   TenTTHC → name_vi   TenTTHCEN → name_en (optional)
MaLinhVuc → field_code, MaCoQuanThucHien → agency_code: both must exist in the catalogue (GET /fields,
    GET /agencies); the catalogue's own check is used.
CapThucHien → level: "Cấp Tỉnh" province, "Cấp Huyện" district (history only), "Cấp Xã" commune.
DoiTuongThucHien → target_applicants by the start of each entry (table APPLICANTS): "Công dân…", "Cá nhân…",
    "Người…", "Cán bộ/Công chức/Viên chức…", "Hộ gia đình" citizen; "Doanh nghiệp…", "Hợp tác xã…",
    "Hộ kinh doanh…", "Nhà đầu tư…" business; "Tổ chức…", "Cơ quan…", "Đơn vị…" organisation. A list, or text
    separated by ";", new lines, or commas outside brackets. Anything else is reported.
CachThucThucHien[] → one processing time per channel, with that channel's fees:
    Kenh 1 in_person / 2 online / 3 post (or "Trực tiếp" / "Trực tuyến" / "Dịch vụ bưu chính");
    ThoiGian → value ("0,5" reads as 0.5); DonViTinh "Giờ" hours / "Ngày" days / "Ngày làm việc"
    working_days / "Tháng" months;
    PhiLePhi[] → fees: SoTien → amount in VND ("50.000 đồng" reads as 50000, "Miễn phí" as 0),
    MoTa → description, MaTruongHop → case_code (optional).
TruongHop[] → cases: MaTruongHop → code, TenTruongHop → name_vi, TenTruongHopEN → name_en.
ThanhPhanHoSo[] → required_documents: MaGiayTo code, TenGiayTo name, SoBanChinh originals, SoBanSao
    copies, MaMauDon form_code.
YeuCauDieuKien → conditions: a list, or one condition per line (leading "-", "+", "•" dropped).
KetQuaThucHien → result: MaKetQua code, TenKetQua name. An object, or a list: the catalogue holds one
    result, so a list gives the first code and every name joined by "; ".
CanCuPhapLy[] → legal_basis: SoVanBan number, TenVanBan title.
MucDo → online_level: "Toàn trình" full, "Một phần" partial; a pre-2022 level (4, "Mức độ 4"...) through
    --legacy-level, by default 4 → full and 3 → partial. That mapping is inferred (DOMAIN.md section 4),
    so it is an option, not a constant; levels 1–2 are not online services and are reported.
LienThongToanTinh → accepted_anywhere (boundary-free filing), CoKetQuaNgay → immediate_result:
    true/false, 1/0, "Có"/"Không", "x"; missing means false.
NgayHieuLuc → effective_from: dd/mm/yyyy, yyyy-mm-dd (a time after it is ignored) or yyyyMMdd[HHmmss].

What happens to a row
---------------------
Each row is mapped, validated by ProcedureDraft, then checked against the reference data by the
catalogue (Catalog). A failing row writes nothing; the import goes on with the next row. Then:
- a new code is created as a draft ("created"), or with --publish created and published ("published");
- an existing draft is edited if it differs ("revised", else "unchanged"), and published with --publish;
- a published procedure identical to its latest version is "unchanged". If it differs, --publish adds a
  new version in force from NgayHieuLuc (Catalog.revise, "revised"); without --publish nothing is written
  and the row is reported "exists": an import without --publish never changes what the public sees;
- a withdrawn procedure that differs, and a code seen earlier in the same file, fail.
So re-running a file changes nothing, and running it again with --publish publishes what was staged.
Publishing a new code is a second write after the create: if it alone fails (a concurrent change, the
store going away), the draft stays, the row is reported failed, and a re-run publishes it.
--dry-run does every check, the existing procedures included, and writes nothing.

Exit code: 0 every row succeeded ("exists" included), 1 some rows failed, 2 nothing was imported (bad
arguments, an unreadable file, the store unreachable).
"""

import argparse
import asyncio
import csv
import io
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from tqdm import tqdm

from kit.problems import Problem
from kit.runtime import Runtime
from kit.store import StoreUnavailable

from catalog.domain import Procedure, ProcedureDraft
from catalog.handlers import Catalog
from catalog.search import fold
from catalog.settings import CatalogSettings
from catalog.store import CatalogStore

Outcome = Literal["created", "published", "revised", "unchanged", "exists", "failed"]
LEGACY_LEVELS = {"4": "full", "3": "partial"}  # inferred (DOMAIN.md section 4): --legacy-level changes it

LEVELS = {"cap tinh": "province", "tinh": "province", "province": "province", "cap huyen": "district",
          "huyen": "district", "district": "district", "cap xa": "commune", "xa": "commune", "commune": "commune"}
CHANNELS = {"1": "in_person", "truc tiep": "in_person", "in person": "in_person", "2": "online",
            "truc tuyen": "online", "online": "online", "3": "post", "dich vu buu chinh": "post",
            "buu chinh": "post", "qua buu chinh": "post", "post": "post"}
UNITS = {"gio": "hours", "hours": "hours", "ngay": "days", "days": "days", "ngay lam viec": "working_days",
         "working days": "working_days", "thang": "months", "months": "months"}
ONLINE = {"toan trinh": "full", "full": "full", "mot phan": "partial", "partial": "partial"}
APPLICANTS = (("cong dan", "citizen"), ("ca nhan", "citizen"), ("nguoi", "citizen"), ("can bo", "citizen"),
              ("cong chuc", "citizen"), ("vien chuc", "citizen"), ("ho gia dinh", "citizen"),
              ("doanh nghiep", "business"), ("hop tac xa", "business"), ("lien hiep hop tac xa", "business"),
              ("ho kinh doanh", "business"), ("nha dau tu", "business"), ("to chuc", "organisation"),
              ("co quan", "organisation"), ("don vi", "organisation"))
DATE_FORMATS = ((r"\d{1,2}/\d{1,2}/\d{4}", "%d/%m/%Y"), (r"\d{1,2}-\d{1,2}-\d{4}", "%d-%m-%Y"),
                (r"\d{4}-\d{2}-\d{2}", "%Y-%m-%d"), (r"\d{8}", "%Y%m%d"))
YES, NO = {"true", "1", "co", "x", "yes"}, {"false", "0", "khong", "no"}

# Catalogue names → national names, to report a problem where the operator can find it in the export.
NATIONAL = {"code": "MaTTHC", "name_vi": "TenTTHC", "name_en": "TenTTHCEN", "field_code": "MaLinhVuc",
            "level": "CapThucHien", "agency_code": "MaCoQuanThucHien", "target_applicants": "DoiTuongThucHien",
            "cases": "TruongHop", "processing_times": "CachThucThucHien", "fees": "CachThucThucHien",
            "required_documents": "ThanhPhanHoSo", "conditions": "YeuCauDieuKien", "result": "KetQuaThucHien",
            "legal_basis": "CanCuPhapLy", "online_level": "MucDo", "accepted_anywhere": "LienThongToanTinh",
            "immediate_result": "CoKetQuaNgay", "effective_from": "NgayHieuLuc"}
NATIONAL_ITEM = {
    "cases": {"code": "MaTruongHop", "name_vi": "TenTruongHop", "name_en": "TenTruongHopEN"},
    "processing_times": {"channel": "Kenh", "value": "ThoiGian", "unit": "DonViTinh"},
    "fees": {"amount": "SoTien", "description": "MoTa", "case_code": "MaTruongHop"},
    "required_documents": {"code": "MaGiayTo", "name": "TenGiayTo", "originals": "SoBanChinh",
                           "copies": "SoBanSao", "form_code": "MaMauDon"},
    "result": {"code": "MaKetQua", "name": "TenKetQua"},
    "legal_basis": {"number": "SoVanBan", "title": "TenVanBan"},
}


class Issue(BaseModel):
    field: str  # national path, e.g. CachThucThucHien[0].DonViTinh; "(row)" when no field applies
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class RowReport(BaseModel):
    row: int
    code: str
    outcome: Outcome
    problems: list[Issue] = []
    note: str = ""


class InputError(Exception):
    """The file cannot be imported at all (exit code 2)."""


# --- mapping: one national row → the catalogue's draft, with problems named in national terms ----------

@dataclass
class Mapped:
    draft: dict[str, Any] = field(default_factory=dict)
    # where each list item came from: ("fees", 0) → "CachThucThucHien[1].PhiLePhi[0]"
    origins: dict[tuple[str, int], str] = field(default_factory=dict)
    problems: list[Issue] = field(default_factory=list)

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Issue(field=path, message=message))


def _keys(obj: dict) -> dict[str, Any]:
    """Lower-case keys; blank strings (empty CSV cells) are missing."""
    return {str(k).lower(): (None if isinstance(v, str) and not v.strip() else v) for k, v in obj.items() if k}


def _token(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return fold(str(value))


def _objects(m: Mapped, value: Any, path: str) -> list[tuple[str, dict]]:
    """A list of objects (a single object, or JSON text from a CSV cell, is accepted too), with their paths."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            m.problem(path, f"not valid JSON ({exc.msg} at character {exc.pos})")
            return []
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out = []
    for i, item in enumerate(items):
        if isinstance(item, dict):
            out.append((f"{path}[{i}]", _keys(item)))
        else:
            m.problem(f"{path}[{i}]", "not an object")
    return out


def _texts(value: Any, separators: str) -> list[str]:
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            pass
    parts = [str(v) for v in value] if isinstance(value, list) else re.split(separators, str(value or ""))
    return [p for p in (re.sub(r"^\s*[-+•*]\s*", "", part).strip() for part in parts) if p]


def _set(target: dict, key: str, value: Any) -> None:
    if value is not None:
        target[key] = value.strip() if isinstance(value, str) else value


def _pick(obj: dict, names: dict[str, str], numbers: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields of a national object under the catalogue's names; texts as text (codes may come as numbers)."""
    return {k: (v if k in numbers else str(v).strip())
            for k, n in names.items() if (v := obj.get(n.lower())) is not None}


def _convert(m: Mapped, value: Any, path: str, table: dict[str, str], what: str) -> str | None:
    if value is None:
        return None
    found = table.get(_token(value))
    if found is None:
        m.problem(path, f"unknown {what} {str(value)!r}")
    return found


def _number(m: Mapped, value: Any, path: str) -> float | None:
    if value is None or isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    try:
        return float(str(value).strip().replace(",", "."))
    except ValueError:
        m.problem(path, f"not a number {str(value)!r}")
        return None


def _amount(m: Mapped, value: Any, path: str) -> int | None:
    if value is None or isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = fold(str(value))  # "50.000 đồng" → "50.000 dong"; "-5" → "5"
    if text.startswith(("mien", "khong")):  # "Miễn phí", "Không thu phí"
        return 0
    match = re.fullmatch(r"([\d. ]*\d)\s*(dong|d|vnd)?", text)
    if match is None:
        m.problem(path, f"not an amount in VND {str(value)!r}")
        return None
    amount = int(re.sub(r"[. ]", "", match[1]))
    return -amount if str(value).strip().startswith("-") else amount


def _flag(m: Mapped, value: Any, path: str) -> bool:
    token = _token(value) if value is not None else "false"
    if token not in YES | NO:
        m.problem(path, f"not a yes/no value {str(value)!r}")
    return token in YES


def _date(m: Mapped, value: Any, path: str) -> date | None:
    if value is None:
        return None
    text = re.split(r"[ T]", str(value).strip())[0]  # a time after the date is ignored
    text = text[:8] if re.fullmatch(r"\d{14}", text) else text  # yyyyMMddHHmmss
    for pattern, fmt in DATE_FORMATS:
        if re.fullmatch(pattern, text):
            try:
                return datetime.strptime(text, fmt).date()
            except ValueError:
                break
    m.problem(path, f"not a date {str(value)!r} (dd/mm/yyyy or yyyy-mm-dd)")
    return None


def _online_level(m: Mapped, value: Any, legacy: dict[str, str]) -> str | None:
    if value is None:
        return None
    token = _token(value)
    legacy_level = re.fullmatch(r"(?:muc do |muc |level )?(\d)", token)
    if legacy_level:
        found = legacy.get(legacy_level[1])
        if found is None:
            m.problem("MucDo", f"level {legacy_level[1]} is not an online service the catalogue holds "
                               "(full or partial; see --legacy-level)")
        return found
    return _convert(m, value, "MucDo", ONLINE, "online level")


def to_draft(row: dict, legacy_levels: dict[str, str] = LEGACY_LEVELS) -> Mapped:
    """Map one national row; the result is not validated yet (see `validate`)."""
    m, r = Mapped(), _keys(row)
    d = m.draft
    d.update(_pick(r, {k: NATIONAL[k] for k in ("code", "name_vi", "name_en", "field_code", "agency_code")}))
    _set(d, "level", _convert(m, r.get("capthuchien"), "CapThucHien", LEVELS, "level"))
    applicants = []
    for text in _texts(r.get("doituongthuchien"), r"[;\n]|,(?![^()]*\))"):
        kind = next((k for prefix, k in APPLICANTS if fold(text).startswith(prefix)), None)
        if kind is None:
            m.problem("DoiTuongThucHien", f"unknown applicant {text!r}")
        elif kind not in applicants:
            applicants.append(kind)
    d["target_applicants"] = applicants
    d["cases"] = []
    for path, case in _objects(m, r.get("truonghop"), "TruongHop"):
        m.origins["cases", len(d["cases"])] = path
        d["cases"].append(_pick(case, NATIONAL_ITEM["cases"]))
    d["processing_times"], d["fees"] = [], []
    for path, way in _objects(m, r.get("cachthucthuchien"), "CachThucThucHien"):
        if way.get("kenh") is None:
            m.problem(f"{path}.Kenh", "missing channel")
            continue
        channel = _convert(m, way["kenh"], f"{path}.Kenh", CHANNELS, "channel")
        if channel is None:
            continue
        time: dict[str, Any] = {"channel": channel}
        _set(time, "value", _number(m, way.get("thoigian"), f"{path}.ThoiGian"))
        if way.get("donvitinh") is None:
            m.problem(f"{path}.DonViTinh", "missing unit")
        _set(time, "unit", _convert(m, way.get("donvitinh"), f"{path}.DonViTinh", UNITS, "unit"))
        m.origins["processing_times", len(d["processing_times"])] = path
        d["processing_times"].append(time)
        for fee_path, item in _objects(m, way.get("philephi"), f"{path}.PhiLePhi"):
            fee = {"channel": channel, **_pick(item, {"description": "MoTa", "case_code": "MaTruongHop"})}
            _set(fee, "amount", _amount(m, item.get("sotien"), f"{fee_path}.SoTien"))
            m.origins["fees", len(d["fees"])] = fee_path
            d["fees"].append(fee)
    d["required_documents"] = []
    for path, doc in _objects(m, r.get("thanhphanhoso"), "ThanhPhanHoSo"):
        m.origins["required_documents", len(d["required_documents"])] = path
        d["required_documents"].append(_pick(doc, NATIONAL_ITEM["required_documents"], ("originals", "copies")))
    d["conditions"] = _texts(r.get("yeucaudieukien"), r"\n")
    results = _objects(m, r.get("ketquathuchien"), "KetQuaThucHien")
    if results:
        names = [str(x["tenketqua"]).strip() for _, x in results if x.get("tenketqua")]
        d["result"] = {**_pick(results[0][1], {"code": "MaKetQua"}), "name": "; ".join(names)}
    d["legal_basis"] = []
    for path, law in _objects(m, r.get("cancuphaply"), "CanCuPhapLy"):
        m.origins["legal_basis", len(d["legal_basis"])] = path
        d["legal_basis"].append(_pick(law, NATIONAL_ITEM["legal_basis"]))
    _set(d, "online_level", _online_level(m, r.get("mucdo"), legacy_levels))
    d["accepted_anywhere"] = _flag(m, r.get("lienthongtoantinh"), "LienThongToanTinh")
    d["immediate_result"] = _flag(m, r.get("coketquangay"), "CoKetQuaNgay")
    _set(d, "effective_from", _date(m, r.get("ngayhieuluc"), "NgayHieuLuc"))
    return m


def national_path(loc: tuple, origins: dict[tuple[str, int], str]) -> str:
    """("fees", 0, "amount") → "CachThucThucHien[1].PhiLePhi[0].SoTien"."""
    if not loc:
        return "(row)"
    head, rest = loc[0], loc[1:]
    if rest and isinstance(rest[0], int) and (head, rest[0]) in origins:
        base, rest = origins[head, rest[0]], rest[1:]
    elif rest and isinstance(rest[0], int):
        base, rest = f"{NATIONAL.get(head, head)}[{rest[0]}]", rest[1:]
    else:
        base = NATIONAL.get(head, head)
    if rest:
        base += "." + NATIONAL_ITEM.get(head, {}).get(rest[0], str(rest[0]))
    return base


def validate(mapped: Mapped) -> tuple[ProcedureDraft | None, list[Issue]]:
    """The draft, or every problem: the mapping's, then the model's not already named by the mapping."""
    problems, draft = list(mapped.problems), None
    try:
        draft = ProcedureDraft.model_validate(mapped.draft)
    except ValidationError as exc:
        for error in exc.errors():
            loc, message = tuple(error["loc"]), error["msg"]
            whole = re.fullmatch(r"Value error, ([\w.]+): (.*)", message, re.S)  # ProcedureDraft.consistent
            if not loc and whole:
                loc = tuple(int(p) if p.isdigit() else p for p in whole[1].split("."))
                message = whole[2]
            path = national_path(loc, mapped.origins)
            if not any(path == p.field or path.startswith((p.field + ".", p.field + "[")) for p in problems):
                problems.append(Issue(field=path, message=message[:1].lower() + message[1:]))
    return (None if problems else draft), problems


# --- importing ------------------------------------------------------------------------------------------

def _same(procedure: Procedure, draft: ProcedureDraft) -> bool:
    latest = procedure.latest.model_dump(mode="json", exclude={"version", "published_at"})
    return latest == draft.model_dump(mode="json")


async def _apply(catalog: Catalog, draft: ProcedureDraft, *, publish: bool, dry_run: bool) -> tuple[Outcome, str]:
    await catalog.check_references(draft)  # the catalogue's own check, also needed by a dry run
    existing = await catalog.store.get(draft.code)
    write = not dry_run
    if existing is None:
        if write:
            await catalog.create(draft)
            if publish:
                await catalog.publish(draft.code)
        return ("published" if publish else "created"), ""
    same = _same(existing, draft)
    if existing.status == "draft":
        if write and not same:
            await catalog.revise(draft.code, draft)  # a draft is edited in place
        if write and publish:
            await catalog.publish(draft.code)
        return ("published" if publish else "unchanged" if same else "revised"), ""
    if same:
        return "unchanged", f"same as version {existing.latest.version}"
    if existing.status == "withdrawn":
        raise Problem(409, "illegal-change", "Withdrawn", f"procedure {draft.code} was withdrawn from "
                      f"{existing.withdrawn_from}; it cannot be revised", field="code")
    if not publish:
        return "exists", f"differs from published version {existing.latest.version}; not changed (use --publish)"
    if write:
        await catalog.revise(draft.code, draft)
    return "revised", f"version {existing.latest.version + 1}"


async def import_row(catalog: Catalog, number: int, row: Any, *, publish: bool, dry_run: bool,
                     seen: dict[str, int] | None = None,
                     legacy_levels: dict[str, str] = LEGACY_LEVELS) -> RowReport:
    if not isinstance(row, dict):
        return RowReport(row=number, code="(missing)", outcome="failed",
                         problems=[Issue(field="(row)", message="not an object")])
    mapped = to_draft(row, legacy_levels)
    code = str(mapped.draft.get("code") or "(missing)")
    draft, problems = validate(mapped)
    if draft is None:
        return RowReport(row=number, code=code, outcome="failed", problems=problems)
    seen = {} if seen is None else seen
    if code in seen:
        duplicate = Issue(field="MaTTHC", message=f"{code} is already in row {seen[code]} of this file")
        return RowReport(row=number, code=code, outcome="failed", problems=[duplicate])
    seen[code] = number
    try:
        outcome, note = await _apply(catalog, draft, publish=publish, dry_run=dry_run)
    except Problem as exc:
        path = national_path((exc.extra["field"],), {}) if exc.extra.get("field") else "(row)"
        return RowReport(row=number, code=code, outcome="failed",
                         problems=[Issue(field=path, message=(exc.detail or exc.title).rstrip("."))])
    except Exception as exc:  # the store went away...: report the row and go on
        return RowReport(row=number, code=code, outcome="failed",
                         problems=[Issue(field="(row)", message=f"{type(exc).__name__}: {exc}")])
    return RowReport(row=number, code=code, outcome=outcome, note=note)


async def import_rows(catalog: Catalog, rows: list, *, publish: bool, dry_run: bool, progress: bool = True,
                      legacy_levels: dict[str, str] = LEGACY_LEVELS) -> list[RowReport]:
    """Import every row, one at a time; a row that fails writes nothing and the next row goes on."""
    seen: dict[str, int] = {}
    bar = tqdm(rows, desc="procedures", unit="row", file=sys.stderr, disable=None if progress else True)
    return [await import_row(catalog, number, row, publish=publish, dry_run=dry_run, seen=seen,
                             legacy_levels=legacy_levels)
            for number, row in enumerate(bar, start=1)]


# --- files, report and command line ---------------------------------------------------------------------

def read_rows(path: Path, fmt: str | None = None) -> list:
    fmt = fmt or ("csv" if path.suffix.lower() == ".csv" else "json")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read it as UTF-8 text ({exc})") from None
    if fmt == "csv":
        header = text.split("\n", 1)[0]
        reader = csv.DictReader(io.StringIO(text), delimiter=";" if header.count(";") > header.count(",") else ",")
        if not any(str(name).strip().lower() == "matthc" for name in reader.fieldnames or []):
            raise InputError(f"{path}: the CSV header has no MaTTHC column; is this a procedure export?")
        return [{k.strip(): v for k, v in row.items() if k} for row in reader]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        raise InputError(f'{path}: expected a list of procedures, or {{"data": [...]}}')
    return data


def summary(reports: list[RowReport]) -> dict[str, int]:
    counts = Counter(r.outcome for r in reports)
    return {"rows": len(reports), **{o: counts[o] for o in Outcome.__args__}}


def table(reports: list[RowReport], *, dry_run: bool) -> str:
    width = max([len(r.code) for r in reports] + [9])
    lines = [f"{'Row':>5}  {'Code':<{width}}  {'Outcome':<9}  Problems / notes"]
    for r in reports:
        details = [str(p) for p in r.problems] or [r.note]
        lines.append(f"{r.row:>5}  {r.code:<{width}}  {r.outcome:<9}  {details[0]}".rstrip())
        lines += [f"{'':>5}  {'':<{width}}  {'':<9}  {more}" for more in details[1:]]
    counts = summary(reports)
    done = ", ".join(f"{n} {o}" for o, n in counts.items() if o != "rows" and n)
    lines.append(f"{counts['rows']} rows: {done or 'nothing to import'}"
                 + (" (dry run: nothing was written)" if dry_run else ""))
    return "\n".join(lines)


def _legacy_level(text: str) -> tuple[str, str]:
    level, _, online = text.partition("=")
    if not level.strip().isdigit() or online.strip() not in ("full", "partial"):
        raise argparse.ArgumentTypeError(f"{text!r}: expected LEVEL=full or LEVEL=partial, e.g. 4=full")
    return level.strip(), online.strip()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="motcua-catalog-import",
                                     description="Import procedures from a DVCQG/OCPS procedure export "
                                                 "(field names and mapping: pydoc catalog.importer).")
    parser.add_argument("file", type=Path, help="the export, JSON or CSV")
    parser.add_argument("--format", choices=["json", "csv"], help="default: from the file's extension")
    parser.add_argument("--publish", action="store_true",
                        help="publish new procedures, and add a version to published ones that changed")
    parser.add_argument("--dry-run", action="store_true", help="check everything, write nothing")
    parser.add_argument("--report", type=Path, metavar="REPORT.json", help="also write the report as JSON")
    parser.add_argument("--legacy-level", type=_legacy_level, action="append", metavar="LEVEL=full|partial",
                        help="map a pre-2022 MucDo (default: 4=full 3=partial; inferred, see DOMAIN.md 4)")
    args = parser.parse_args(argv)
    if args.report is not None and not args.report.parent.is_dir():
        parser.error(f"--report: no directory {args.report.parent}")
    return args


async def run(rows: list, args: argparse.Namespace) -> list[RowReport]:
    settings = CatalogSettings().model_copy(update={"bus": "memory"})  # the service's relay publishes the events
    runtime = Runtime(settings)
    await runtime.start()
    try:
        await runtime.store.ping()
        return await import_rows(Catalog(CatalogStore(runtime)), rows, publish=args.publish, dry_run=args.dry_run,
                                 legacy_levels=dict(args.legacy_level or LEGACY_LEVELS.items()))
    finally:
        await runtime.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        rows = read_rows(args.file, args.format)
        reports = asyncio.run(run(rows, args))
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (StoreUnavailable, OSError, ValidationError) as exc:
        print(f"error: cannot open the catalogue store ({type(exc).__name__}: {exc})", file=sys.stderr)
        return 2
    print(table(reports, dry_run=args.dry_run))
    if args.report is not None:
        body = {"file": str(args.file), "publish": args.publish, "dry_run": args.dry_run,
                "summary": summary(reports), "rows": [r.model_dump() for r in reports]}
        args.report.write_text(json.dumps(body, ensure_ascii=False, indent=2), encoding="utf-8")
    return 1 if any(r.outcome == "failed" for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
