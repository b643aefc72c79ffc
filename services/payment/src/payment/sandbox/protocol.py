"""VNPay 2.1.0 as the gateway side sees it: signatures, field orders, codes and messages.

Written apart from the merchant adapter (`payment.providers.vnpay`) on purpose: the sandbox checks the
adapter's signatures with its own code, so a mistake on one side shows up instead of cancelling out."""

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import quote_plus, urlencode
from zoneinfo import ZoneInfo

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
VERSION = "2.1.0"
DATE_FORMAT = "%Y%m%d%H%M%S"

QUERYDR_REQUEST = ("vnp_RequestId", "vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_TxnRef",
                   "vnp_TransactionDate", "vnp_CreateDate", "vnp_IpAddr", "vnp_OrderInfo")
QUERYDR_RESPONSE = ("vnp_ResponseId", "vnp_Command", "vnp_ResponseCode", "vnp_Message", "vnp_TmnCode",
                    "vnp_TxnRef", "vnp_Amount", "vnp_BankCode", "vnp_PayDate", "vnp_TransactionNo",
                    "vnp_TransactionType", "vnp_TransactionStatus", "vnp_OrderInfo", "vnp_PromotionCode",
                    "vnp_PromotionAmount")
REFUND_REQUEST = ("vnp_RequestId", "vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_TransactionType",
                  "vnp_TxnRef", "vnp_Amount", "vnp_TransactionNo", "vnp_TransactionDate", "vnp_CreateBy",
                  "vnp_CreateDate", "vnp_IpAddr", "vnp_OrderInfo")
REFUND_RESPONSE = ("vnp_ResponseId", "vnp_Command", "vnp_ResponseCode", "vnp_Message", "vnp_TmnCode",
                   "vnp_TxnRef", "vnp_Amount", "vnp_BankCode", "vnp_PayDate", "vnp_TransactionNo",
                   "vnp_TransactionType", "vnp_TransactionStatus", "vnp_OrderInfo")

PAY_REQUIRED = ("vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_Amount", "vnp_CurrCode", "vnp_TxnRef",
                "vnp_OrderInfo", "vnp_OrderType", "vnp_Locale", "vnp_ReturnUrl", "vnp_IpAddr",
                "vnp_CreateDate")

# Codes of the payment page's error screen (/paymentv2/Payment/Error.html?code=NN).
PAY_ERRORS = {
    "01": "Giao dịch đã tồn tại / The transaction already exists",
    "03": "Dữ liệu gửi sang không đúng định dạng / The request is malformed",
    "15": "Giao dịch đã quá thời gian chờ thanh toán / The payment has expired",
    "70": "Sai chữ ký / Invalid signature",
    "72": "Không tìm thấy website (vnp_TmnCode) / Unknown terminal",
}

# The citizen's choice on the payment page -> (vnp_ResponseCode, vnp_TransactionStatus).
OUTCOMES = {
    "success": ("00", "00"),
    "cancel": ("24", "02"),  # the customer cancelled
    "fail": ("51", "02"),  # not enough balance
    "suspicious": ("07", "07"),  # money taken, suspected fraud: the merchant confirms or rejects
}
EXPIRED = ("11", "02")

RESPONSE_MESSAGES = {
    "00": "Giao dịch thành công",
    "07": "Trừ tiền thành công. Giao dịch bị nghi ngờ",
    "11": "Đã hết hạn chờ thanh toán",
    "24": "Khách hàng hủy giao dịch",
    "51": "Tài khoản không đủ số dư",
}
QUERYDR_MESSAGES = {
    "00": "Yêu cầu thành công",
    "02": "Mã định danh kết nối không hợp lệ",
    "03": "Dữ liệu gửi sang không đúng định dạng",
    "91": "Không tìm thấy giao dịch yêu cầu",
    "94": "Yêu cầu trùng lặp trong thời gian giới hạn của API",
    "97": "Checksum không hợp lệ",
    "99": "Các lỗi khác",
}
REFUND_MESSAGES = {
    "00": "Yêu cầu thành công",
    "02": "Tổng số tiền hoàn trả lớn hơn số tiền gốc",
    "03": "Dữ liệu gửi sang không đúng định dạng",
    "04": "Không cho phép hoàn trả toàn phần sau khi hoàn trả một phần",
    "91": "Không tìm thấy giao dịch yêu cầu hoàn trả",
    "93": "Số tiền hoàn trả không hợp lệ. "
          "Số tiền hoàn trả phải nhỏ hơn hoặc bằng số tiền thanh toán.",
    "94": "Yêu cầu bị trùng lặp trong thời gian giới hạn của API",
    "95": "Giao dịch này không thành công bên VNPAY. VNPAY từ chối xử lý yêu cầu.",
    "97": "Chữ ký không hợp lệ",
    "99": "Các lỗi khác",
}


def sign(secret: str, data: str) -> str:
    return hmac.new(secret.encode("utf-8"), data.encode("utf-8"), hashlib.sha512).hexdigest()


def query_string(params: Mapping[str, str]) -> str:
    """Sorted by name, form-encoded (space as '+')."""
    return urlencode(sorted(params.items()), quote_via=quote_plus)


def pay_sign_data(params: Mapping[str, str]) -> str:
    return query_string({k: v for k, v in params.items()
                         if k.startswith("vnp_") and k not in ("vnp_SecureHash", "vnp_SecureHashType") and v})


def signed(params: dict[str, str], secret: str) -> dict[str, str]:
    """The same parameters plus their vnp_SecureHash."""
    return {**params, "vnp_SecureHash": sign(secret, pay_sign_data(params))}


def pay_signature_ok(params: Mapping[str, str], secret: str) -> bool:
    given = params.get("vnp_SecureHash", "")
    return given.isascii() and hmac.compare_digest(sign(secret, pay_sign_data(params)), given.lower())


def pipe_data(values: Mapping[str, object], fields: tuple[str, ...]) -> str:
    return "|".join(str(values.get(f) if values.get(f) is not None else "") for f in fields)


def pipe_signature_ok(values: Mapping[str, object], fields: tuple[str, ...], secret: str) -> bool:
    given = values.get("vnp_SecureHash")
    return (isinstance(given, str) and given.isascii()
            and hmac.compare_digest(sign(secret, pipe_data(values, fields)), given.lower()))


def vn_time(moment: datetime) -> str:
    return moment.astimezone(VN_TZ).strftime(DATE_FORMAT)


def parse_vn_time(text: str) -> datetime | None:
    if not isinstance(text, str) or len(text) != 14 or not text.isdigit():
        return None
    try:
        return datetime.strptime(text, DATE_FORMAT).replace(tzinfo=VN_TZ)
    except ValueError:
        return None
