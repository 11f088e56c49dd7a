"""Vietnamese wording, for the chat page, of the library's (English) error messages.

The library speaks English to programs (CLI, REST, logs); people on the chat page read
Vietnamese. :func:`vietnamese` rewrites the messages a chat user can trigger, keeping the
values they name; anything else is shown as it is, after a Vietnamese lead-in.
"""

from __future__ import annotations

import re

_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p, re.S), v) for p, v in (
    (r"(\d+) files in one upload; send at most (\d+) at a time",
     r"Đã chọn \1 tệp trong một lần tải lên: mỗi lần tải tối đa \2 tệp."),
    (r"the question is empty.*", "Câu hỏi đang để trống: hãy nhập một câu hỏi, ví dụ "
                                 "“Tỷ lệ hộ nghèo của huyện Ba Chẽ còn bao nhiêu?”"),
    (r"the question has (\d+) characters; the limit is (\d+).*",
     r"Câu hỏi dài \1 ký tự, vượt giới hạn \2 ký tự: hãy rút gọn câu hỏi."),
    (r"the question contains control characters \(([^)]*)\).*",
     r"Câu hỏi chứa ký tự điều khiển (\1): hãy xoá chúng."),
    (r"date_from must be a date like [\d-]+, got '?([^']*)'?",
     r"“Từ ngày” phải là một ngày có thật, dạng ngày/tháng/năm, ví dụ 24/09/2021 "
     r"(đã nhập “\1”)."),
    (r"date_to must be a date like [\d-]+, got '?([^']*)'?",
     r"“Đến ngày” phải là một ngày có thật, dạng ngày/tháng/năm, ví dụ 31/12/2021 "
     r"(đã nhập “\1”)."),
    (r"date_from (\S+) is after date_to (\S+); swap them",
     r"“Từ ngày” (\1) sau “Đến ngày” (\2): hãy đổi chỗ hai ngày."),
    (r"unknown document id\(s\) in filter: (.*)",
     r"Không có tài liệu nào mã \1 trong chỉ mục: hãy chọn lại trong danh sách."),
    (r"the indexing worker stopped without a result \(exit code ([^)]*)\).*",
     r"Tiến trình lập chỉ mục dừng lại mà không có kết quả (mã thoát \1); chỉ mục không thay "
     r"đổi (chi tiết trong nhật ký máy chủ)."),
    (r"indexing failed: (.*); nothing was changed",
     r"Lập chỉ mục không thành công (\1); chỉ mục không thay đổi."),
    (r"(.*?): cannot be saved \((.*)\); check free disk space",
     r"\1: không lưu được tệp (\2); hãy kiểm tra dung lượng đĩa còn trống."),
    (r"'?(.*?)'?: file type '?([^']*)'? is not accepted; upload one of ([^(]*?) \((\w+)\)",
     r"\1: không nhận loại tệp \2; hãy tải lên một trong các loại \3 (\4)."),
    (r"'?(.*?)'? is ([\d.]+) MB or more; the upload limit is (\S+) MB per file \((\w+)\)",
     r"\1 lớn từ \2 MB trở lên; mỗi tệp tải lên tối đa \3 MB (\4)."),
    (r"(.*?): looks like a binary file.*", r"\1: không phải tệp văn bản (có dữ liệu nhị phân)."),
    (r"(.*?): not valid (\S+) text.*", r"\1: không đọc được như văn bản \2; hãy lưu lại dưới "
                                       r"dạng UTF-8."),
    (r"(.*?): unreadable PDF.*", r"\1: không đọc được tệp PDF này (tệp hỏng hoặc không phải PDF)."),
    (r"(.*?): PDF has no text layer.*", r"\1: PDF không có lớp chữ (bản quét?); hãy nhận dạng "
                                        r"chữ (OCR) trước."),
    (r"(.*?): PDF is password-protected.*", r"\1: PDF có mật khẩu; hãy lưu một bản không khoá."),
    (r"(.*?): not a valid \.docx file.*", r"\1: không phải tệp .docx hợp lệ."),
    (r"(.*?) has no text after removing page furniture", r"\1: không còn nội dung sau khi bỏ "
                                                         r"phần trang trí của trang."),
    (r"(.*?):? has no text", r"\1: tệp không có chữ."),
    (r"no index at .*", "Chưa có chỉ mục tài liệu: hãy tải tài liệu lên hoặc chạy "
                        "“hoidap index build”."),
    (r"no file could be indexed \((.*)\); nothing was kept",
     r"Không nạp được tệp nào (\1); không có gì được lưu lại."),
))


def vietnamese(message: str) -> str:
    """``message`` in Vietnamese (each known error rewritten; others behind a lead-in)."""
    for pattern, template in _RULES:
        if pattern.fullmatch(message.strip()):
            return pattern.sub(template, message.strip())
    return f"Lỗi: {message}"
