"""What the end-to-end tests share: polling, demo tokens, and a dossier submission with its files."""

import json
import time

TINY_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
            b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")

SUBMISSION = {
    "procedure_code": "1.000894",
    "applicant": {"name": "Nguyễn Thị Mai", "id_number": "022190004321", "phone": "0912000111",
                  "email": "mai@example.vn", "address": "Phường Hồng Gai, Hạ Long, Quảng Ninh"},
    "documents": [{"code": "TK", "files": ["to-khai.pdf"]}, {"code": "XNTTHN", "files": ["xac-nhan.pdf"]}],
    "result_channel": "online",
}


def submission_form(submission: dict | None = None) -> dict:
    """httpx keyword arguments for a multipart online submission: the JSON part and one PDF per listed file."""
    submission = submission or SUBMISSION
    files = [("files", (name, TINY_PDF, "application/pdf"))
             for document in submission["documents"] for name in document.get("files", [])]
    return {"data": {"submission": json.dumps(submission, ensure_ascii=False)}, "files": files}


def until(check, timeout=10.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s (last: {value!r})")
        time.sleep(interval)


def token(client, username):
    r = client.post("/auth/dev/token", json={"username": username})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def ok(response):
    return response.json() if response.status_code == 200 else None


def submit(client, headers, submission: dict | None = None) -> dict:
    """An online submission, retried until the dossier service knows the procedure (it may still be
    learning the catalogue at start); the receipt (code, security code)."""
    answer = until(lambda: (lambda a: a if a.status_code == 201 else None)(
        client.post("/api/v1/dossiers", **submission_form(submission), headers=headers)), timeout=30)
    return answer.json()
