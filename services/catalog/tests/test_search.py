"""Accent- and case-insensitive search with good matches first (pure, no I/O)."""

from catalog.search import Entry, SearchIndex, fold


def entry(code, name, field="Hộ tịch", agency="UBND phường Hồng Gai", level="commune", online="full"):
    return Entry(code=code, name=fold(name), name_en="", field=fold(field), agency=fold(agency), level=level,
                 field_code=fold(field).replace(" ", "-"), agency_code="000.00.21.H49", online_level=online)


INDEX = SearchIndex([
    entry("1.001022", "Đăng ký kết hôn có yếu tố nước ngoài", level="district"),
    entry("1.000894", "Đăng ký kết hôn"),
    entry("1.001193", "Đăng ký khai sinh"),
    entry("1.000656", "Đăng ký lại kết hôn"),
    entry("2.001610", "Đăng ký thành lập doanh nghiệp tư nhân", field="Thành lập doanh nghiệp", level="province"),
    entry("1.009974", "Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ", field="Xây dựng", online="partial"),
])


def test_fold_removes_diacritics_and_case():
    assert fold("Đăng ký  KẾT HÔN!") == "dang ky ket hon"
    assert fold("Giấy phép xây dựng") == "giay phep xay dung"


def test_an_unaccented_query_finds_marriage_registration_first():
    hits = INDEX.search("dang ky ket hon")
    assert hits[0] == "1.000894"  # the exact name before longer ones
    assert set(hits) == {"1.000894", "1.001022", "1.000656"}


def test_accented_and_mixed_case_queries_agree():
    assert INDEX.search("Đăng Ký Kết Hôn") == INDEX.search("DANG KY KET HON") == INDEX.search("dang ky ket hon")


def test_a_code_finds_its_procedure_first():
    assert INDEX.search("2.001610")[0] == "2.001610"
    assert INDEX.search("1.00089")[0] == "1.000894"


def test_every_word_must_match_somewhere():
    assert INDEX.search("ket hon xay dung") == []


def test_the_field_and_agency_are_searched_too():
    assert INDEX.search("xay dung") == ["1.009974"]
    assert "2.001610" in INDEX.search("doanh nghiep")


def test_filters_apply():
    assert INDEX.search("ket hon", level="district") == ["1.001022"]
    assert INDEX.search("", online_level="partial") == ["1.009974"]
    assert len(INDEX.search("")) == 6
