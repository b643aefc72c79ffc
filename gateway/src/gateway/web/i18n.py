"""The pages' words, Vietnamese first and English second, and the API's problems as sentences people read."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LANGS = ("vi", "en")

try:
    LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
except ZoneInfoNotFoundError:  # no tz database on the machine: Việt Nam has no daylight saving time
    LOCAL = timezone(timedelta(hours=7))

TEXTS: dict[str, tuple[str, str]] = {
    "site": ("Một Cửa — Trung tâm Phục vụ hành chính công", "One-Stop Shop — Public Administration Service Centre"),
    "site_short": ("Một Cửa", "One-Stop Shop"),
    "province": ("Tỉnh Quảng Ninh", "Quảng Ninh Province"),
    "skip": ("Bỏ qua, đến nội dung chính", "Skip to main content"),
    "nav": ("Điều hướng chính", "Main navigation"),
    "home": ("Trang chủ", "Home"),
    "procedures": ("Thủ tục hành chính", "Administrative procedures"),
    "lookup": ("Tra cứu hồ sơ", "Look up a dossier"),
    "centres": ("Trung tâm phục vụ", "Service centres"),
    "work_queue": ("Hồ sơ cần xử lý", "Work queue"),
    "sign_in": ("Đăng nhập", "Sign in"),
    "sign_out": ("Đăng xuất", "Sign out"),
    "signed_in_as": ("Đang đăng nhập:", "Signed in as:"),
    "other_lang": ("English", "Tiếng Việt"),
    "other_lang_code": ("en", "vi"),
    "welcome": ("Chào mừng đến Cổng dịch vụ công một cửa", "Welcome to the one-stop public service portal"),
    "welcome_text": ("Tìm thủ tục, nộp hồ sơ trực tuyến và theo dõi kết quả giải quyết.",
                     "Find a procedure, file a dossier online and follow its progress."),
    "search": ("Tìm kiếm", "Search"),
    "search_label": ("Tên hoặc mã thủ tục", "Procedure name or code"),
    "search_hint": ("Ví dụ: đăng ký kết hôn", "For example: marriage registration"),
    "results": ("Kết quả", "Results"),
    "results_count": ("{n} thủ tục", "{n} procedures"),
    "no_results": ("Không tìm thấy thủ tục phù hợp.", "No procedure matches."),
    "more": ("Xem thêm", "More"),
    "code": ("Mã", "Code"),
    "field": ("Lĩnh vực", "Field"),
    "level": ("Cấp thực hiện", "Level"),
    "level_province": ("Cấp tỉnh", "Provincial"),
    "level_commune": ("Cấp xã", "Commune"),
    "level_district": ("Cấp huyện", "District"),
    "agency": ("Cơ quan thực hiện", "Implementing agency"),
    "online_level": ("Dịch vụ công trực tuyến", "Online service"),
    "online_full": ("Toàn trình", "Fully online"),
    "online_partial": ("Một phần", "Partly online"),
    "online_none": ("Chưa có", "Not available"),
    "cases": ("Trường hợp", "Cases"),
    "documents": ("Thành phần hồ sơ", "Required documents"),
    "originals": ("Bản chính", "Originals"),
    "copies": ("Bản sao", "Copies"),
    "form": ("Mẫu đơn, tờ khai", "Form"),
    "download": ("Tải về", "Download"),
    "no_form": ("Không có mẫu", "No form"),
    "processing_time": ("Thời hạn giải quyết", "Processing time"),
    "channel": ("Cách thức", "Channel"),
    "channel_in_person": ("Trực tiếp", "In person"),
    "channel_online": ("Trực tuyến", "Online"),
    "channel_post": ("Qua bưu chính", "By post"),
    "unit_working_days": ("ngày làm việc", "working days"),
    "unit_days": ("ngày", "days"),
    "unit_hours": ("giờ làm việc", "working hours"),
    "unit_working_hours": ("giờ làm việc", "working hours"),
    "unit_months": ("tháng", "months"),
    "fees": ("Phí, lệ phí", "Fees"),
    "no_fees": ("Không mất phí", "Free of charge"),
    "amount": ("Số tiền", "Amount"),
    "conditions": ("Điều kiện thực hiện", "Conditions"),
    "result": ("Kết quả thực hiện", "Result"),
    "legal_basis": ("Căn cứ pháp lý", "Legal basis"),
    "where_to_go": ("Nơi nộp hồ sơ", "Where to go"),
    "where_text": ("Nộp trực tuyến tại đây, hoặc trực tiếp tại Trung tâm Phục vụ hành chính công.",
                   "File online here, or in person at a Public Administration Service Centre."),
    "anywhere": ("Tiếp nhận tại bất kỳ trung tâm nào trong tỉnh.", "Accepted at any centre in the province."),
    "submit_online": ("Nộp hồ sơ trực tuyến", "File online"),
    "procedure_not_found": ("Không tìm thấy thủ tục {code}.", "Procedure {code} was not found."),
    "lookup_intro": ("Nhập mã hồ sơ và mã bảo mật in trên giấy biên nhận.",
                     "Enter the dossier code and the security code printed on the receipt."),
    "dossier_code": ("Mã hồ sơ", "Dossier code"),
    "security_code": ("Mã bảo mật", "Security code"),
    "look_up": ("Tra cứu", "Look up"),
    "status": ("Trạng thái", "Status"),
    "procedure": ("Thủ tục", "Procedure"),
    "due_at": ("Hẹn trả kết quả", "Appointment (due)"),
    "updated_at": ("Cập nhật lúc", "Updated"),
    "not_found_dossier": ("Không tìm thấy hồ sơ với mã và mã bảo mật này. Xin kiểm tra lại.",
                          "No dossier matches this code and security code. Please check them."),
    "phones": ("Điện thoại", "Phone"),
    "hotline": ("Đường dây nóng", "Hotline"),
    "email": ("Thư điện tử", "E-mail"),
    "address": ("Địa chỉ", "Address"),
    "opening_hours": ("Giờ làm việc", "Opening hours"),
    "sign_in_intro": ("Môi trường thử nghiệm: chọn một người dùng mẫu để đăng nhập.",
                      "Test environment: choose a demo user to sign in."),
    "sign_in_unavailable": ("Đăng nhập bằng người dùng mẫu chỉ có trong môi trường thử nghiệm.",
                            "Demo sign-in exists only in the test environment."),
    "role": ("Vai trò", "Role"),
    "role_citizen": ("Công dân", "Citizen"),
    "role_reception_officer": ("Cán bộ tiếp nhận", "Reception officer"),
    "role_specialist": ("Chuyên viên", "Specialist"),
    "role_leader": ("Lãnh đạo", "Leader"),
    "role_cashier": ("Thủ quỹ", "Cashier"),
    "role_catalog_admin": ("Quản trị danh mục", "Catalogue administrator"),
    "role_feedback_officer": ("Cán bộ phản ánh kiến nghị", "Feedback officer"),
    "role_admin": ("Quản trị hệ thống", "Administrator"),
    "signed_out": ("Bạn đã đăng xuất.", "You have signed out."),
    "need_sign_in": ("Xin đăng nhập để tiếp tục.", "Please sign in to continue."),
    "applicant": ("Người nộp hồ sơ", "Applicant"),
    "name": ("Họ và tên", "Full name"),
    "id_number": ("Số căn cước công dân (12 số)", "Citizen ID number (12 digits)"),
    "phone": ("Số điện thoại", "Phone number"),
    "result_channel": ("Nhận kết quả", "Receive the result"),
    "result_online": ("Trực tuyến", "Online"),
    "result_counter": ("Tại quầy", "At the counter"),
    "result_post": ("Qua bưu chính", "By post"),
    "files_for": ("Tệp đính kèm (PDF, JPEG, PNG; tối đa 10 MB mỗi tệp)", "Files (PDF, JPEG, PNG; 10 MB each at most)"),
    "required": ("bắt buộc", "required"),
    "optional": ("không bắt buộc", "optional"),
    "send": ("Gửi hồ sơ", "Submit the dossier"),
    "files_again": ("Xin chọn lại các tệp đính kèm.", "Please choose the files again."),
    "receipt": ("Giấy tiếp nhận hồ sơ", "Dossier receipt"),
    "receipt_ok": ("Hồ sơ đã được gửi.", "Your dossier has been submitted."),
    "receipt_keep": ("Hãy ghi lại mã hồ sơ và mã bảo mật: mã bảo mật chỉ hiện một lần.",
                     "Write down the dossier code and the security code: the security code is shown only once."),
    "download_receipt": ("Tải giấy biên nhận (PDF)", "Download the receipt (PDF)"),
    "follow": ("Theo dõi hồ sơ", "Follow the dossier"),
    "queue_intake": ("Chờ tiếp nhận", "Awaiting intake"),
    "queue_mine": ("Của tôi", "Mine"),
    "queue_agency": ("Của cơ quan", "My agency"),
    "queue_nearing": ("Sắp đến hạn", "Nearing the deadline"),
    "queue_overdue": ("Quá hạn", "Overdue"),
    "queue_empty": ("Không có hồ sơ.", "No dossiers."),
    "received_at": ("Ngày tiếp nhận", "Received"),
    "submitted_at": ("Ngày nộp", "Submitted"),
    "remaining": ("Còn lại", "Remaining"),
    "hours_left": ("{n} giờ làm việc", "{n} working hours"),
    "days_overdue": ("Quá hạn {n} ngày", "{n} days overdue"),
    "open": ("Mở", "Open"),
    "officers_only": ("Trang này dành cho cán bộ.", "This page is for officers."),
    "actions": ("Thao tác", "Actions"),
    "no_actions": ("Không có thao tác nào ở trạng thái này.", "No action in this state."),
    "history": ("Quá trình giải quyết", "Processing history"),
    "when": ("Thời điểm", "When"),
    "who": ("Người thực hiện", "Who"),
    "from_to": ("Từ → đến", "From → to"),
    "reason": ("Lý do", "Reason"),
    "current_agency": ("Cơ quan đang xử lý", "Agency now"),
    "assignee": ("Chuyên viên thụ lý", "Assignee"),
    "files": ("Tệp", "Files"),
    "done": ("Đã thực hiện: {action}.", "Done: {action}."),
    "print_receipt": ("In giấy biên nhận", "Print the receipt"),
    "print_receipt_hint": ("Cần mã bảo mật in trên phiếu của công dân.",
                           "Needs the security code from the citizen's slip."),
    "to_agency": ("Chuyển đến cơ quan (mã)", "To agency (code)"),
    "step_working_days": ("Thời hạn của bước (ngày làm việc)", "This step's deadline (working days)"),
    "specialist": ("Chuyên viên (tên đăng nhập)", "Specialist (username)"),
    "proposal": ("Đề xuất", "Proposal"),
    "proposal_approve": ("Đồng ý", "Approve"),
    "proposal_refuse": ("Từ chối", "Refuse"),
    "description": ("Nội dung", "Description"),
    "items": ("Các nội dung cần bổ sung (mỗi dòng một mục)", "Items to supply (one per line)"),
    "new_due_on": ("Ngày hẹn mới", "New appointment date"),
    "result_number": ("Số văn bản kết quả", "Result document number"),
    "method": ("Hình thức trả", "Return method"),
    "error_title": ("Chưa thực hiện được", "That did not work"),
    "csrf": ("Phiên làm việc đã hết hạn. Xin tải lại trang và thử lại.",
             "The form has expired. Please reload the page and try again."),
    "page_not_found": ("Không tìm thấy trang.", "Page not found."),
    "petition": ("Phản ánh, kiến nghị", "Feedback and petitions"),
    "petition_intro": ("Gửi phản ánh, kiến nghị về quy định, thủ tục hành chính hoặc về thái độ, hành vi của cán bộ. "
                       "Thông tin người gửi được giữ kín.",
                       "Send feedback about a regulation or procedure, or about an officer's conduct. "
                       "Who you are is kept confidential."),
    "category": ("Nội dung phản ánh về", "About"),
    "category_procedure": ("Quy định, thủ tục hành chính", "A regulation or procedure"),
    "category_conduct": ("Thái độ, hành vi của cán bộ", "An officer's conduct"),
    "title": ("Tiêu đề", "Title"),
    "content": ("Nội dung", "Content"),
    "dossier_code_optional": ("Mã hồ sơ liên quan (nếu có)", "Related dossier code (if any)"),
    "sender": ("Người gửi", "Sender"),
    "send_petition": ("Gửi phản ánh", "Send"),
    "petition_sent": ("Đã nhận phản ánh, kiến nghị của bạn.", "Your feedback has been received."),
    "petition_id": ("Mã phản ánh", "Reference"),
    "received_at_p": ("Nhận lúc", "Received"),
    "answer_due": ("Hạn trả lời", "Answer due"),
    "answer": ("Trả lời", "Answer"),
    "no_answer_yet": ("Chưa có trả lời.", "No answer yet."),
    "answers": ("Hỏi đáp công khai", "Published answers"),
    "question": ("Câu hỏi", "Question"),
    "answers_search": ("Tìm trong hỏi đáp", "Search the answers"),
    "no_answers": ("Chưa có câu trả lời được công khai.", "No published answers."),
    "rate_title": ("Đánh giá mức độ hài lòng", "Rate your satisfaction"),
    "rate_intro": ("Bạn hài lòng thế nào với việc giải quyết hồ sơ này?",
                   "How satisfied are you with how this dossier was handled?"),
    "score": ("Mức độ hài lòng", "Satisfaction"),
    "score_1": ("Rất không hài lòng", "Very unsatisfied"),
    "score_2": ("Không hài lòng", "Unsatisfied"),
    "score_3": ("Bình thường", "Neutral"),
    "score_4": ("Hài lòng", "Satisfied"),
    "score_5": ("Rất hài lòng", "Very satisfied"),
    "reasons": ("Lý do (chọn nếu có)", "Reasons (optional)"),
    "comment": ("Ý kiến khác", "Comment"),
    "send_rating": ("Gửi đánh giá", "Send the rating"),
    "rated": ("Cảm ơn bạn đã đánh giá.", "Thank you for your rating."),
    "already_rated": ("Hồ sơ này đã được đánh giá.", "This dossier has already been rated."),
    "choose_score": ("Xin chọn mức độ hài lòng.", "Please choose a score."),
    "fees_title": ("Nộp phí, lệ phí trực tuyến", "Pay fees online"),
    "fees_intro": ("Nhập mã hồ sơ và mã bảo mật để xem các khoản phí cần nộp.",
                   "Enter the dossier code and the security code to see the fees to pay."),
    "show_fees": ("Xem các khoản phí", "Show the fees"),
    "fee_item": ("Khoản phí", "Fee"),
    "pay": ("Thanh toán", "Pay"),
    "total": ("Tổng cộng", "Total"),
    "paid": ("Đã nộp", "Paid"),
    "no_fee_items": ("Hồ sơ này không có khoản phí nào.", "This dossier has no fees."),
    "pay_go": ("Tiếp tục đến cổng thanh toán", "Continue to the payment page"),
    "pay_intro": ("Bạn sẽ được chuyển sang trang của đơn vị cung cấp dịch vụ thanh toán (VNPay) để hoàn tất.",
                  "You will go to the payment provider's page (VNPay) to finish."),
    "expires_at": ("Hết hạn lúc", "Expires"),
    "pay_result": ("Kết quả thanh toán", "Payment result"),
    "pay_ok": ("Đã thanh toán thành công.", "The payment succeeded."),
    "pay_not_ok": ("Chưa thanh toán được. Bạn có thể thử lại.", "The payment did not go through. You may try again."),
    "payment_id": ("Mã giao dịch", "Payment reference"),
    "api_docs": ("Tài liệu API", "API docs"),
    "back_home": ("Về trang chủ", "Back to the home page"),
}

ACTIONS: dict[str, tuple[str, str]] = {
    "submit_online": ("Nộp trực tuyến", "Filed online"),
    "submit_counter": ("Nộp tại quầy", "Filed at the counter"),
    "receive": ("Tiếp nhận", "Receive"),
    "request_intake_supplement": ("Yêu cầu bổ sung (trước tiếp nhận)", "Ask for more before receipt"),
    "refuse_intake": ("Từ chối tiếp nhận", "Refuse at intake"),
    "resubmit": ("Nộp lại", "Resubmit"),
    "transfer": ("Chuyển xử lý", "Transfer"),
    "assign": ("Phân công", "Assign"),
    "appraise": ("Thẩm định", "Appraise"),
    "approve": ("Phê duyệt", "Approve"),
    "request_fees": ("Yêu cầu nộp phí", "Request fees"),
    "record_fees_paid": ("Xác nhận đã nộp phí", "Record fees paid"),
    "request_supplement": ("Yêu cầu bổ sung", "Request a supplement"),
    "provide_supplement": ("Nộp bổ sung", "Provide the supplement"),
    "refuse": ("Từ chối giải quyết", "Refuse"),
    "extend": ("Gia hạn (xin lỗi, hẹn lại)", "Extend (apology, new date)"),
    "request_withdrawal": ("Đề nghị rút hồ sơ", "Request withdrawal"),
    "confirm_withdrawal": ("Xác nhận rút hồ sơ", "Confirm withdrawal"),
    "cancel_withdrawal": ("Hủy đề nghị rút", "Cancel withdrawal"),
    "resolve": ("Ký ban hành kết quả", "Resolve (issue the result)"),
    "return_result": ("Trả kết quả", "Return the result"),
}

# The dossier states' names for the history table (the API gives the current state's label itself).
STATES: dict[str, tuple[str, str]] = {
    "submitted": ("Mới đăng ký", "Submitted"),
    "intake_supplement": ("Yêu cầu bổ sung trước khi tiếp nhận", "Supplement requested before receipt"),
    "refused_at_intake": ("Không được tiếp nhận", "Refused at intake"),
    "received": ("Đã tiếp nhận", "Received"),
    "transferred": ("Đã chuyển cơ quan giải quyết", "Transferred to the competent agency"),
    "assigned": ("Đang xử lý", "Being processed"),
    "appraised": ("Đã thẩm định, chờ phê duyệt", "Appraised, awaiting approval"),
    "approved": ("Đã phê duyệt", "Approved"),
    "awaiting_fees": ("Chờ thực hiện nghĩa vụ tài chính", "Awaiting fees"),
    "supplement_requested": ("Yêu cầu bổ sung hồ sơ", "Supplement requested"),
    "refused": ("Từ chối giải quyết", "Refused"),
    "withdrawal_requested": ("Công dân yêu cầu rút hồ sơ", "Withdrawal requested"),
    "stopped": ("Dừng xử lý", "Stopped"),
    "resolved": ("Đã xử lý xong", "Resolved"),
    "returned": ("Đã trả kết quả", "Result returned"),
}

# What people read for the API's problem types (RFC 9457 `type`, its last segment).
PROBLEMS: dict[str, tuple[str, str]] = {
    "validation-error": ("Thông tin chưa hợp lệ.", "Some information is not valid."),
    "unauthenticated": ("Xin đăng nhập để tiếp tục.", "Please sign in to continue."),
    "invalid-token": ("Phiên đăng nhập đã hết hạn. Xin đăng nhập lại.",
                      "Your session has expired. Please sign in again."),
    "forbidden": ("Bạn không có quyền thực hiện việc này.", "You are not allowed to do this."),
    "forbidden-action": ("Vai trò của bạn không được thực hiện thao tác này.", "Your role may not take this action."),
    "illegal-transition": ("Hồ sơ ở trạng thái hiện tại không thể thực hiện thao tác này.",
                           "This action is not possible in the dossier's current state."),
    "reason-required": ("Cần ghi rõ lý do.", "A reason is required."),
    "not-found": ("Không tìm thấy.", "Not found."),
    "dossier-incomplete": ("Hồ sơ còn thiếu giấy tờ bắt buộc.", "The dossier lacks required documents."),
    "unknown-documents": ("Có giấy tờ không thuộc thủ tục này.", "Some documents do not belong to this procedure."),
    "missing-files": ("Thiếu tệp đính kèm.", "Some files are missing."),
    "upstream-unavailable": ("Hệ thống tạm thời gián đoạn; chưa có gì thay đổi. Xin thử lại sau ít phút.",
                             "The service is briefly unavailable; nothing was changed. Please try again shortly."),
    "upstream-timeout": ("Hệ thống phản hồi chậm. Xin thử lại.", "The service is slow to answer. Please try again."),
    "rate-limited": ("Bạn thao tác quá nhanh. Xin đợi một chút rồi thử lại.", "Too many requests. Please wait."),
    "dossier-code-locked": ("Hồ sơ này tạm khóa tra cứu vì mã bảo mật bị nhập sai nhiều lần. Xin thử lại sau.",
                            "Lookups of this dossier are paused after too many wrong security codes. Try later."),
    "rate-limit-unavailable": ("Tạm thời chưa tra cứu được. Xin thử lại sau ít phút.",
                               "Lookups are briefly unavailable. Please try again shortly."),
    "forbidden-role": ("Vai trò của bạn không được dùng chức năng này.", "Your role may not use this."),
    "too-many-requests": ("Bạn thao tác quá nhanh. Xin đợi một chút rồi thử lại.", "Too many requests. Please wait."),
    "already-rated": ("Hồ sơ này đã được đánh giá.", "This dossier has already been rated."),
    "conflict": ("Hồ sơ vừa được người khác cập nhật. Xin tải lại trang.",
                 "Someone else just updated this. Please reload the page."),
}

FIELDS: dict[str, tuple[str, str]] = {
    "name": ("Họ và tên", "Full name"), "id_number": ("Số căn cước công dân", "Citizen ID number"),
    "phone": ("Số điện thoại", "Phone number"), "email": ("Thư điện tử", "E-mail"), "address": ("Địa chỉ", "Address"),
    "security_code": ("Mã bảo mật", "Security code"), "reason": ("Lý do", "Reason"),
    "to_agency": ("Cơ quan", "Agency"), "specialist": ("Chuyên viên", "Specialist"),
    "amount": ("Số tiền", "Amount"), "description": ("Nội dung", "Description"),
    "new_due_on": ("Ngày hẹn mới", "New appointment date"), "items": ("Nội dung bổ sung", "Items"),
    "documents": ("Thành phần hồ sơ", "Documents"), "files": ("Tệp đính kèm", "Files"),
    "step_working_days": ("Thời hạn của bước", "Step deadline"),
    "title": ("Tiêu đề", "Title"), "content": ("Nội dung", "Content"), "category": ("Loại", "Category"),
    "dossier_code": ("Mã hồ sơ", "Dossier code"), "score": ("Mức độ hài lòng", "Score"),
    "comment": ("Ý kiến", "Comment"),
}


def pick(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == "en" else pair[0]


def text(key: str, lang: str, **values) -> str:
    pair = TEXTS.get(key)
    if pair is None:
        return key
    return pick(pair, lang).format(**values) if values else pick(pair, lang)


def action_label(action: str, lang: str) -> str:
    return pick(ACTIONS.get(action, (action, action)), lang)


def state_label(state: str | None, lang: str) -> str:
    return pick(STATES[state], lang) if state in STATES else (state or "—")


def problem_message(problem: dict, status: int, lang: str) -> list[str]:
    """A problem+json answer as sentences: a general one, then one per invalid field."""
    slug = str(problem.get("type") or "").rstrip("/").rsplit("/", 1)[-1]
    if slug in PROBLEMS:
        lines = [pick(PROBLEMS[slug], lang)]
    elif status == 404:
        lines = [pick(PROBLEMS["not-found"], lang)]
    elif status == 429:
        lines = [pick(PROBLEMS["rate-limited"], lang)]
    elif status >= 500:
        lines = [pick(PROBLEMS["upstream-unavailable"], lang)]
    else:
        lines = [pick(("Yêu cầu chưa thực hiện được.", "The request could not be completed."), lang)]
    if lang == "en" and problem.get("detail") and slug not in ("validation-error",) and status < 500:
        lines.append(str(problem["detail"]))
    for error in problem.get("errors") or []:
        field = str(error.get("field") or "").rsplit(".", 1)[-1]
        label = pick(FIELDS[field], lang) if field in FIELDS else field
        message = error.get("message") or ""
        lines.append(f"{label}: {_field_message(message, lang)}" if label else _field_message(message, lang))
    for missing in problem.get("missing") or []:
        if isinstance(missing, dict) and missing.get("name"):
            lines.append(f"• {missing['name']}")
    return lines


def _field_message(message: str, lang: str) -> str:
    if lang == "en":
        return message
    lowered = message.lower()
    if "required" in lowered or "missing" in lowered:
        return "chưa nhập"
    if "at least" in lowered or "too short" in lowered:
        return "quá ngắn"
    if "at most" in lowered or "too long" in lowered:
        return "quá dài"
    if "pattern" in lowered or "valid" in lowered or "match" in lowered:
        return "không đúng định dạng"
    return "không hợp lệ"


def local_time(value: str | None, with_time: bool = True) -> str:
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(LOCAL)
    return moment.strftime("%H:%M %d/%m/%Y" if with_time else "%d/%m/%Y")


def money(amount) -> str:
    try:
        return f"{int(amount):,}".replace(",", ".") + " ₫"
    except (TypeError, ValueError):
        return str(amount)
