import numpy as np
import pytest

from qa.search.fusion import max_rrf, minmax, rrf, top_k


def test_rrf_rewards_agreement():
    fused = rrf([[1, 2, 3], [2, 1, 4]], [1.0, 1.0], k=60)
    items = [i for i, _ in fused]
    assert set(items[:2]) == {1, 2}
    assert items[-1] in (3, 4)
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)


def test_rrf_weights_shift_the_order():
    assert rrf([[1], [2]], [2.0, 1.0])[0][0] == 1
    assert rrf([[1], [2]], [1.0, 2.0])[0][0] == 2


def test_rrf_needs_one_weight_per_ranking():
    with pytest.raises(ValueError):
        rrf([[1]], [1.0, 1.0])


def test_max_rrf_is_first_everywhere():
    fused = rrf([[7], [7]], [1.0, 0.5], k=60)
    assert fused[0][1] == pytest.approx(max_rrf([1.0, 0.5], 60))


def test_top_k_drops_zero_scores_and_respects_mask():
    s = np.array([0.0, 3.0, 1.0, 2.0, 0.5])
    assert top_k(s, 2).tolist() == [1, 3]
    assert top_k(s, 10).tolist() == [1, 3, 2, 4]
    mask = np.array([True, False, True, True, False])
    assert top_k(s, 10, mask).tolist() == [3, 2]


def test_minmax():
    assert minmax([2.0, 4.0, 3.0]) == [0.0, 1.0, 0.5]
    assert minmax([5.0, 5.0]) == [1.0, 1.0]
    assert minmax([]) == []


def test_year_preference_matches_passage_document_and_main_year() -> None:
    from index.types import Document
    from qa.search.fusion import prefer
    from qa.types import Passage
    from qa.years import about_years, named_years

    years = named_years("Đến giữa năm 2021 có bao nhiêu hợp tác xã? (mã 12/2020, 3.2021)")
    assert years == frozenset({"2021"})
    doc = Document("d", "Huyện hoàn thành mục tiêu kép", None, "d.txt",
                   "Năm 2021 là năm đầu tiên. Kế hoạch năm 2021. Năm 2020 đã qua.", "h")
    plain = Passage("c", "d", doc.title, None, "d.txt", 1, "Có 38 HTX.", 0, 10, 0.5)
    assert about_years(plain, doc, years)  # the document is mostly about 2021
    assert not about_years(plain, doc, frozenset({"2020"}))
    assert not about_years(plain, None, years) and not about_years(plain, doc, frozenset())
    assert prefer([0.9, 0.88, 0.5], [False, True, False], 0.05) == [1, 0, 2]
