"""Readable labels for the audit log's codes (issue 15): the record kind (the audited table)
and the action ("dossier.updated" → "Hồ sơ · sửa"). The code itself stays in the log and
on the page (as the label's title), so nothing is lost in translation."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

ENTITY_LABELS = {
    "acknowledgement": _l("Xác nhận đã đọc tài liệu"), "action_item": _l("Việc cần làm (HĐKP)"),
    "agency": _l("Cơ quan"), "api_token": _l("Khóa API"), "attachment": _l("Tệp đính kèm tài liệu"),
    "audit": _l("Cuộc đánh giá"), "audit_programme": _l("Chương trình đánh giá"),
    "calendar_override": _l("Ngày làm việc/nghỉ của địa phương"), "checklist_item": _l("Câu hỏi kiểm tra"),
    "corrective_action": _l("Phiếu hành động khắc phục"), "department": _l("Phòng ban"),
    "document": _l("Tài liệu"), "document_version": _l("Phiên bản tài liệu"), "dossier": _l("Hồ sơ"),
    "dossier_event": _l("Diễn biến hồ sơ"), "dossier_file": _l("Tệp của hồ sơ"),
    "dossier_step": _l("Bước xử lý hồ sơ"), "evidence_file": _l("Bằng chứng đánh giá"),
    "feedback": _l("Phản ánh, kiến nghị"), "field": _l("Lĩnh vực"), "finding": _l("Phát hiện đánh giá"),
    "management_review": _l("Xem xét của lãnh đạo"), "monthly_review": _l("Xem xét tháng"),
    "nonconformity": _l("Sự không phù hợp"), "procedure": _l("Thủ tục hành chính"),
    "procedure_case": _l("Trường hợp của thủ tục"), "procedure_version": _l("Quy trình của thủ tục"),
    "process_step": _l("Bước của quy trình"), "quality_objective": _l("Mục tiêu chất lượng"),
    "review_action": _l("Biện pháp sau xem xét"), "satisfaction_rating": _l("Đánh giá hài lòng"),
    "sync_source": _l("Hệ thống nguồn đồng bộ"), "sync_mapping": _l("Quy tắc ánh xạ đồng bộ"),
    "held_dossier": _l("Hồ sơ đồng bộ đang chờ"), "push_endpoint": _l("Nơi nhận trạng thái hồ sơ"),
    "user_account": _l("Tài khoản"), "user": _l("Tài khoản"), "verification": _l("Xác nhận hiệu lực"),
    "auth": _l("Đăng nhập"), "database": _l("Cơ sở dữ liệu"),
}
VERB_LABELS = {
    "created": _l("tạo mới"), "updated": _l("sửa"), "deleted": _l("xóa"), "completed": _l("hoàn thành"),
    "signed": _l("ký"), "opened": _l("lập"), "answered": _l("có phiếu khắc phục"), "reviewed": _l("soát xét"),
    "imported": _l("nhập từ tệp"), "guidance_issued": _l("hướng dẫn bổ sung"), "roles_set": _l("đổi vai trò"),
    "password_changed": _l("đổi mật khẩu"), "login": _l("đăng nhập"), "logout": _l("đăng xuất"),
    "restored": _l("phục hồi từ bản sao lưu"), "scope_changed": _l("đổi phạm vi"), "planned": _l("lập kế hoạch"),
}


ACTION_LABELS = {"auth.login": _l("Đăng nhập"), "auth.logout": _l("Đăng xuất"),
                 "database.restored": _l("Phục hồi cơ sở dữ liệu từ bản sao lưu")}


def entity_label(entity_type: str | None) -> str:
    return str(ENTITY_LABELS[entity_type]) if entity_type in ENTITY_LABELS else (entity_type or "")


def action_label(action: str) -> str:
    """"dossier.updated" → "Hồ sơ · sửa"; an unknown part is shown as written."""
    if action in ACTION_LABELS:
        return str(ACTION_LABELS[action])
    entity, _dot, verb = (action or "").rpartition(".")
    if not entity:
        return action or ""
    verb_text = str(VERB_LABELS[verb]) if verb in VERB_LABELS else verb
    return f"{entity_label(entity)} · {verb_text}"
