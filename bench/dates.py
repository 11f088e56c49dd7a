"""Report-dating accuracy on the labelled pages in tests/data/dates (see its README).

Prints exact-day accuracy of ``date`` (documents with a labelled date), how many undated
labels got no date, and exact accuracy of ``published``; ``--misses`` lists the errors.
Run: python bench/dates.py [--misses]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.clean import load_document  # noqa: E402

DATA = ROOT / "tests" / "data" / "dates"


def score(folder: Path = DATA) -> dict:
    """Counts and accuracies over ``folder/labels.jsonl``, plus the misses."""
    rows = [json.loads(line) for line in (folder / "labels.jsonl").read_text("utf-8").splitlines()
            if line.strip()]
    misses, dated, right, null_ok, nulls, pub, pub_ok = [], 0, 0, 0, 0, 0, 0
    for row in rows:
        doc = load_document(folder / row["file"])
        if row["date"]:
            dated += 1
            right += doc.date == row["date"]
        else:
            nulls += 1
            null_ok += doc.date is None
        if row.get("published"):
            pub += 1
            pub_ok += doc.published == row["published"]
        if doc.date != row["date"]:
            misses.append({"file": row["file"], "want": row["date"], "got": doc.date,
                           "source": doc.date_source, "why": row.get("why", "")})
    return {"documents": len(rows), "dated": dated, "exact_day": right / max(dated, 1),
            "undated": nulls, "undated_kept_undated": null_ok / max(nulls, 1),
            "published": pub, "published_exact": pub_ok / max(pub, 1), "misses": misses}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", action="store_true", help="list the wrong dates")
    args = parser.parse_args()
    result = score()
    misses = result.pop("misses")
    print(json.dumps(result, ensure_ascii=False, indent=1))
    if args.misses:
        for m in misses:
            print(json.dumps(m, ensure_ascii=False))


if __name__ == "__main__":
    main()
