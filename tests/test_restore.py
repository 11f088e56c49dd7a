from index.restore import build_table, restore
from index.text import fold
from qa.search.fusion import fusion_weights

CORPUS = [
    "Tổng thu ngân sách trên địa bàn huyện Ba Chẽ ước đạt 452,2 tỷ đồng.",
    "Huyện có 38 hợp tác xã; tỷ lệ hộ nghèo còn 1,29%.",
    "Ngân sách huyện tăng. Bà con ở xã đồng lòng.",
]


def test_restores_pairs_and_keeps_case():
    table = build_table(CORPUS)
    q = "Tong thu ngan sach huyen Ba Che bao nhieu?"
    assert restore(q, table) == "Tổng thu ngân sách huyện Ba Chẽ bao nhiêu?"


def test_restoration_keeps_length_and_unknown_words():
    table = build_table(CORPUS)
    q = "so hop tac xa o Xyz nam 2020"
    out = restore(q, table)
    assert len(out) == len(q) and fold(out) == fold(q)
    assert "hợp tác xã" in out and "Xyz" in out and "2020" in out


def test_question_words_come_without_corpus():
    assert restore("khi nao", build_table([])) == "khi nào"


def test_fusion_weights_follow_how_the_query_is_written():
    assert fusion_weights(1.0, 1.0, True, 0.1) == (1.0, 1.0)
    dense, bm25 = fusion_weights(1.0, 1.0, False, 0.9)  # Vietnamese without marks
    assert dense < bm25
    dense, bm25 = fusion_weights(1.0, 1.0, False, 0.2)  # foreign words (English)
    assert dense > bm25
