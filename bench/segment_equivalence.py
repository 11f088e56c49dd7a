"""XQuAD-vi answered from one segment and from many (with tombstones): the same figures.

    .venv/bin/python bench/segment_equivalence.py [--file ../shared/data/xquad.vi.json]

Builds the contexts once as one segment (the real model), then the same live documents as
many small segments: a copy rebuilt ``--fresh`` in batches of 24 chunks (every vector re-used
from the first build by its text hash, so both indexes hold the same vectors), then a tenth of
the documents removed and added back (their old rows stay as tombstones: nothing is merged).
Runs ``hoidap eval FILE --index DIR --json`` on both and prints the two results side by side.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from benchutil import SHARED, save, table

from hoidap.config import Config, SegmentConfig
from index.store import open_index

MANY = SegmentConfig(batch_chunks=24, merge_factor=1000, max_deleted=1.0)


def _eval(file: Path, index: Path) -> dict:
    proc = subprocess.run([sys.executable, "-m", "hoidap.cli", "eval", str(file), "--index",
                           str(index), "--json"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-2000:])
    return json.loads(proc.stdout)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", type=Path, default=SHARED / "data" / "xquad.vi.json")
    args = ap.parse_args(argv)
    from qa.engine import QAEngine
    from qa.evaluate import build_eval_index, load_eval_set
    from qa.search.write import build_index

    data = load_eval_set(args.file)
    with tempfile.TemporaryDirectory(prefix="hoidap-segeq-") as tmp:
        one = replace(Config.from_env(), index_dir=Path(tmp) / "one", engine="local")
        encoder = QAEngine(one).embedder
        build_eval_index(data, one, encoder, str(args.file))
        shutil.copytree(one.resolved_index_dir, Path(tmp) / "many")
        many = replace(one, index_dir=Path(tmp) / "many", segments=MANY)
        again = build_eval_index(data, many, encoder, str(args.file))
        docs = sorted(open_index(many.resolved_index_dir).documents.values(),
                      key=lambda d: d.doc_id)[::10]
        build_index([], many, encoder, remove=[d.doc_id for d in docs])
        back = build_index([], many, encoder, documents=docs)
        index = open_index(many.resolved_index_dir)
        shape = {"segments": len(index.segments), "tombstoned_chunks":
                 index.manifest["tombstones"]["chunks"],
                 "embedded_again": again.embedded + back.embedded}
        results = {"one": _eval(args.file, one.resolved_index_dir),
                   "many": _eval(args.file, many.resolved_index_dir)}
    keys = ["recall@1", "recall@5", "mrr@10", "em", "f1", "contains", "sentence_contains",
            "passage_contains", "refused_answerable"]
    print(f"many: {shape}")
    print(table(["index", *keys], [[k, *(r[m] for m in keys)] for k, r in results.items()]))
    same = all(results["one"][m] == results["many"][m] for m in keys)
    print("identical" if same else "DIFFERENT")
    print(f"\nwritten {save('segment_equivalence', {'many': shape, **results})}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
