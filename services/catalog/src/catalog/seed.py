"""Demo procedures for the embedded mode and the tests. SAMPLE DATA: names follow real Quảng Ninh
procedures, but times and fees are plausible examples, not the official figures."""

from datetime import date

from catalog.domain import ProcedureDraft

H49 = "000.00.00.H49"

DEMO_PROCEDURES = [
    ProcedureDraft(
        code="1.000894", name_vi="Đăng ký kết hôn", name_en="Marriage registration",
        field_code="ho-tich", field_name="Hộ tịch", level="commune",
        agency_code="000.00.21.H49", agency_name="UBND phường Hồng Gai", online_level="full",
        processing_times=[{"channel": "online", "value": 1, "unit": "working_days"},
                          {"channel": "in_person", "value": 1, "unit": "working_days"}],
        fees=[], result="Giấy chứng nhận kết hôn",
        required_documents=[
            {"code": "TK", "name": "Tờ khai đăng ký kết hôn", "originals": 1},
            {"code": "XNTTHN", "name": "Giấy xác nhận tình trạng hôn nhân", "originals": 1}],
        effective_from=date(2025, 7, 1)),
    ProcedureDraft(
        code="1.001193", name_vi="Đăng ký khai sinh", name_en="Birth registration",
        field_code="ho-tich", field_name="Hộ tịch", level="commune",
        agency_code="000.00.21.H49", agency_name="UBND phường Hồng Gai", online_level="full",
        processing_times=[{"channel": "online", "value": 1, "unit": "working_days"},
                          {"channel": "in_person", "value": 1, "unit": "working_days"}],
        result="Giấy khai sinh",
        required_documents=[{"code": "TK", "name": "Tờ khai đăng ký khai sinh", "originals": 1},
                            {"code": "GCS", "name": "Giấy chứng sinh", "originals": 1}],
        effective_from=date(2025, 7, 1)),
    ProcedureDraft(
        code="2.001610", name_vi="Đăng ký thành lập doanh nghiệp tư nhân",
        name_en="Registration of a sole proprietorship", field_code="thanh-lap-doanh-nghiep",
        field_name="Thành lập và hoạt động của doanh nghiệp", level="province",
        agency_code="000.00.10.H49", agency_name="Sở Tài chính tỉnh Quảng Ninh", online_level="full",
        processing_times=[{"channel": "online", "value": 3, "unit": "working_days"},
                          {"channel": "in_person", "value": 3, "unit": "working_days"}],
        fees=[{"channel": "online", "amount": 0, "description": "Miễn lệ phí khi nộp trực tuyến"},
              {"channel": "in_person", "amount": 50000, "description": "Lệ phí đăng ký doanh nghiệp"}],
        result="Giấy chứng nhận đăng ký doanh nghiệp",
        required_documents=[{"code": "GDN", "name": "Giấy đề nghị đăng ký doanh nghiệp", "originals": 1},
                            {"code": "CCCD", "name": "Bản sao giấy tờ pháp lý của chủ doanh nghiệp", "copies": 1}],
        effective_from=date(2025, 7, 1)),
    ProcedureDraft(
        code="1.009974", name_vi="Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ",
        name_en="Construction permit for a detached house", field_code="xay-dung", field_name="Xây dựng",
        level="commune", agency_code="000.00.21.H49", agency_name="UBND phường Hồng Gai", online_level="partial",
        processing_times=[{"channel": "in_person", "value": 15, "unit": "days"},
                          {"channel": "online", "value": 15, "unit": "days"}],
        fees=[{"channel": "in_person", "amount": 75000, "description": "Lệ phí cấp giấy phép xây dựng nhà ở riêng lẻ"},
              {"channel": "online", "amount": 75000, "description": "Lệ phí cấp giấy phép xây dựng nhà ở riêng lẻ"}],
        result="Giấy phép xây dựng",
        required_documents=[{"code": "DN", "name": "Đơn đề nghị cấp giấy phép xây dựng", "originals": 1},
                            {"code": "QSDD", "name": "Giấy tờ về quyền sử dụng đất", "copies": 1},
                            {"code": "BV", "name": "Bản vẽ thiết kế xây dựng", "originals": 2}],
        effective_from=date(2025, 7, 1)),
]
