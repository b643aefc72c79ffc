"""The sandbox's two screens: the payment page (four choices) and the error page. Vietnamese first."""

from html import escape

from payment.sandbox import protocol as p
from payment.sandbox.gateway import Transaction

STYLE = """
body{font-family:system-ui,sans-serif;background:#f3f5f9;margin:0;color:#1d2733}
main{max-width:34rem;margin:3rem auto;background:#fff;border-radius:12px;padding:2rem;box-shadow:0 2px 12px #0002}
h1{font-size:1.3rem;margin-top:0;color:#005baa} .en{color:#667;font-size:.85em}
dl{display:grid;grid-template-columns:auto 1fr;gap:.4rem 1rem} dt{color:#556} dd{margin:0;font-weight:600}
.amount{font-size:1.6rem;color:#c8102e} form{display:inline}
.actions{display:flex;flex-wrap:wrap;gap:.6rem;margin-top:1.5rem}
button{border:0;border-radius:8px;padding:.7rem 1rem;font-size:1rem;cursor:pointer;color:#fff}
.ok{background:#0a8a3a}.cancel{background:#6b7280}.fail{background:#c8102e}.suspicious{background:#b7791f}
.note{margin-top:1.5rem;font-size:.85rem;color:#667}
"""


def money(amount: int) -> str:
    return f"{amount:,}".replace(",", ".") + " ₫"


def _page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="vi"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{escape(title)}</title>'
            f"<style>{STYLE}</style></head><body><main>{body}</main></body></html>")


def payment_page(txn: Transaction) -> str:
    action = f"sandbox/choose/{escape(txn.session)}"  # relative: works when the app is mounted under a prefix
    buttons = [("success", "ok", "Thanh toán thành công", "Pay"),
               ("cancel", "cancel", "Hủy giao dịch", "Cancel"),
               ("fail", "fail", "Thất bại", "Fail"),
               ("suspicious", "suspicious", "Nghi ngờ (07)", "Suspicious")]
    forms = "".join(
        f'<form method="post" action="{action}"><input type="hidden" name="outcome" value="{outcome}">'
        f'<button class="{css}" type="submit" title="{en}">{escape(label)}</button></form>'
        for outcome, css, label, en in buttons)
    body = (
        '<h1>Cổng thanh toán VNPAY — môi trường thử nghiệm <span class="en">/ VNPay sandbox</span></h1>'
        "<dl>"
        f'<dt>Số tiền <span class="en">Amount</span></dt><dd class="amount">{money(txn.amount)}</dd>'
        f'<dt>Nội dung <span class="en">Order</span></dt><dd>{escape(txn.order_info)}</dd>'
        f'<dt>Mã giao dịch <span class="en">Reference</span></dt><dd>{escape(txn.txn_ref)}</dd>'
        f'<dt>Đơn vị <span class="en">Merchant</span></dt><dd>{escape(txn.tmn_code)}</dd>'
        "</dl>"
        f'<div class="actions">{forms}</div>'
        '<p class="note">Đây là cổng thanh toán giả lập: không có tiền thật nào được chuyển. '
        '<span class="en">This is a fake gateway: no real money moves.</span></p>')
    return _page("Thanh toán VNPAY (sandbox)", body)


def error_page(code: str) -> str:
    message = p.PAY_ERRORS.get(code, "Lỗi không xác định / Unknown error")
    body = (f'<h1>Thông báo lỗi <span class="en">/ Error</span></h1>'
            f'<p>Mã lỗi <span class="en">(code)</span>: <strong id="code">{escape(code)}</strong></p>'
            f"<p>{escape(message)}</p>")
    return _page(f"Lỗi {code}", body)


def done_page(txn: Transaction) -> str:
    return _page("Giao dịch đã kết thúc", f"<h1>Giao dịch {escape(txn.txn_ref)} đã kết thúc "
                                          f'<span class="en">/ This transaction is over</span></h1>')
