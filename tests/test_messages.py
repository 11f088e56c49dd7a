"""The chat shows the library's errors in Vietnamese, keeping the values they name."""

from __future__ import annotations

import pytest

from hoidap.config import LimitsConfig
from hoidap.errors import InputError
from qa.types import Filters
from qa.validate import check_filters, clean_question
from ui.messages import vietnamese
from ui.uploads import check_size, check_type


def _message(call, *args) -> str:
    with pytest.raises(InputError) as err:
        call(*args)
    return str(err.value)


@pytest.mark.parametrize(("call", "args", "needle"), [
    (clean_question, ("   ", 500), "Câu hỏi đang để trống"),
    (clean_question, ("x" * 99999, 500), "Câu hỏi dài 99999 ký tự, vượt giới hạn 500"),
    (clean_question, ("a\x01b", 500), "ký tự điều khiển (U+0001)"),
    (check_filters, (Filters(date_from="24/09/2021"), []), "“Từ ngày” phải là một ngày có thật"),
    (check_filters, (Filters(date_to="hôm qua"), []), "(đã nhập “hôm qua”)"),
    (check_filters, (Filters(date_from="2022-01-01", date_to="2021-01-01"), []),
     "hãy đổi chỗ hai ngày"),
    (check_filters, (Filters(doc_ids=("khong_co",)), []), "mã khong_co"),
    (check_type, ("virus.exe", LimitsConfig()), "không nhận loại tệp .exe"),
    (check_size, ("to.txt", 50 * 1024 * 1024, LimitsConfig()),
     "tối đa 20 MB (HOIDAP_MAX_UPLOAD_MB)"),
])
def test_errors_a_chat_user_can_cause_read_in_vietnamese(call, args, needle) -> None:
    english = _message(call, *args)
    text = vietnamese(english)
    assert needle in text, (english, text)
    assert not text.startswith("Lỗi:")


def test_upload_failures_a_chat_user_can_meet_read_in_vietnamese() -> None:
    from ui.jobs import portable
    from ui.uploads import _as_input_error

    failed = vietnamese(str(portable(RuntimeError("hết bộ nhớ"))))
    assert failed == ("Lập chỉ mục không thành công (RuntimeError: hết bộ nhớ); chỉ mục không "
                      "thay đổi.")
    full = vietnamese(str(_as_input_error("bao_cao.txt", OSError("No space left on device"))))
    assert full == ("bao_cao.txt: không lưu được tệp (No space left on device); hãy kiểm tra "
                    "dung lượng đĩa còn trống.")


def test_an_unknown_message_keeps_its_text_behind_a_vietnamese_lead_in() -> None:
    assert vietnamese("something new happened") == "Lỗi: something new happened"


def test_chat_dates_are_typed_as_the_page_shows_them() -> None:
    from ui.chat import form_date, form_filters

    assert form_date("24/09/2021") == form_date("24-9-2021") == "2021-09-24"
    assert form_date("2021-09-24") == "2021-09-24" and form_date(" ") is None
    assert form_date("31/02/2021") == "31/02/2021"  # not a day: the engine says so
    f = form_filters([], "1/1/2021", "31/12/2021")
    assert (f.doc_ids, f.date_from, f.date_to) == (None, "2021-01-01", "2021-12-31")
