"""A demo dossier submission for the demo catalogue's procedure 1.000894 (Đăng ký kết hôn), with its
two documents as tiny real PDFs: what the end-to-end tests, the benchmark and the load smoke test submit.
(loadtests/locustfile.py keeps its own copy: it also runs in Locust's container, without this package.)"""

import json

TINY_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
            b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")

SUBMISSION = {
    "procedure_code": "1.000894",
    "applicant": {"name": "Nguyễn Thị Mai", "id_number": "022190004321", "phone": "0912000111",
                  "email": "mai@example.vn", "address": "Phường Hồng Gai, Hạ Long, Quảng Ninh"},
    "documents": [{"code": "TK", "files": ["to-khai.pdf"]}, {"code": "XNTTHN", "files": ["xac-nhan.pdf"]}],
    "result_channel": "online",
}


def file_names(submission: dict | None = None) -> list[str]:
    return [name for document in (submission or SUBMISSION)["documents"] for name in document.get("files", [])]


def submission_form(submission: dict | None = None) -> dict:
    """httpx keyword arguments for a multipart online submission: the JSON part and one PDF per listed file."""
    submission = submission or SUBMISSION
    files = [("files", (name, TINY_PDF, "application/pdf")) for name in file_names(submission)]
    return {"data": {"submission": json.dumps(submission, ensure_ascii=False)}, "files": files}
