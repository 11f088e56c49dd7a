"""Questions too vague to answer: "Kết quả thế nào?", "Bao nhiêu?", "Ai?", "Tình hình ra sao?".

A question is vague when, once its function words and question phrases are gone
(:func:`qa.conversation.content_words`), nothing is left but words that name no topic of their
own: "kết quả", "tình hình", "thông tin", "tỷ lệ", "đạt", "năm"… A number, a name or any other
word pins a topic, so the question is not vague. Pure: no corpus, no model. The engine asks it
only of a question the conversation did not resolve (a follow-up such as "Kết quả thế nào?"
after a turn about a topic is answered with that topic).
"""

from __future__ import annotations

from index.text import fold_lower
from index.text import words as all_words
from qa.conversation import any_accented, content_words

# Word groups that say what is asked, not what it is about (whole groups, lowercase NFC).
_TOPICLESS = """
kết quả|tình hình|thông tin|nội dung|vấn đề|chuyện|điều|chi tiết|cụ thể|tóm tắt|tổng quan
|số liệu|tiến độ|diễn biến|đánh giá|ý kiến|tổng cộng|tổng số|số lượng|tỷ lệ|tỉ lệ|phần trăm
|con số|mức|số|tổng|lượng|đạt|tăng|giảm|được|thực hiện|triển khai|diễn ra|xảy ra|thế|vậy
|năm|tháng|ngày|lâu|giờ|tốt|xấu|ổn|chung|nói|kể|muốn|xem|tìm|cả|hết|tất
"""
_GROUPS = {tuple(g.split()) for g in _TOPICLESS.replace("\n", "").split("|") if g.strip()}
TOPICLESS = tuple(sorted(_GROUPS, key=len, reverse=True))
# Folded, for a question typed without diacritics ("nam" is also "Nam": only then).
TOPICLESS_FOLDED = tuple(sorted({tuple(fold_lower(w) for w in g) for g in _GROUPS}, key=len,
                                reverse=True))

_EXAMPLE = "Kết quả xây dựng nông thôn mới của huyện Cao Lộc năm 2021 thế nào?"
_WHAT = (("ket qua", "kết quả"), ("tinh hinh", "tình hình"), ("ty le", "tỷ lệ"),
         ("ti le", "tỷ lệ"), ("so lieu", "số liệu"), ("tien do", "tiến độ"),
         ("thong tin", "thông tin"), ("noi dung", "nội dung"))


def topic_words(question: str) -> list[str]:
    """The words of ``question`` that pin down a topic (lowercased NFC, in order)."""
    words = content_words(question)
    accented = any_accented(all_words(question))
    keys = words if accented else [fold_lower(w) for w in words]
    groups = TOPICLESS if accented else TOPICLESS_FOLDED
    left, i = [], 0
    while i < len(keys):
        group = next((g for g in groups if tuple(keys[i:i + len(g)]) == g), None)
        if group is None:
            left.append(words[i])
            i += 1
        else:
            i += len(group)
    return left


def is_vague(question: str) -> bool:
    """True when ``question`` names no topic at all (see the module doc); a capitalised word
    after the first one is a name, hence a topic."""
    if any(w[:1].isupper() for w in all_words(question)[1:]):
        return False
    return not topic_words(question)


def clarification(question: str) -> str:
    """The Vietnamese request to be more specific, naming what the question asked about."""
    folded = " " + " ".join(fold_lower(w) for w in content_words(question)) + " "
    what = next((vi for key, vi in _WHAT if f" {key} " in folded), None)
    asked = f"{what} của việc gì" if what else "về việc gì"
    return (f"Câu hỏi chưa rõ: bạn muốn hỏi {asked}, ở đâu, năm nào? Hãy hỏi cụ thể hơn, ví dụ: "
            f"\u201c{_EXAMPLE}\u201d")
