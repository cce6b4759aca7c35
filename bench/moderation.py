"""The built-in moderation classifier's precision and recall by category, on the labelled
set in bench/moderation_set.py (through ``POST /v1/moderations`` would give the same scores:
the route calls the same classifier).

    .venv/bin/python bench/moderation.py [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from moderation_set import LABELLED  # noqa: E402

from levante.guardrails import CATEGORIES, DEFAULT_THRESHOLD, LexiconClassifier  # noqa: E402
from serving import write_block  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    results = LexiconClassifier().classify([text for text, _ in LABELLED])
    lines = [
        f"{len(LABELLED)} texts ({sum(1 for _, c in LABELLED if c)} with a category, "
        f"{sum(1 for _, c in LABELLED if not c)} clean), threshold {DEFAULT_THRESHOLD}.",
        "",
        "| Category | Precision | Recall | True / false positives, missed |",
        "|---|---:|---:|---:|",
    ]
    totals = [0, 0, 0]
    for category in CATEGORIES:
        tp = fp = fn = 0
        for (_, labels), result in zip(LABELLED, results, strict=True):
            found = category in result.flagged
            wanted = category in labels
            tp += found and wanted
            fp += found and not wanted
            fn += wanted and not found
        totals = [totals[0] + tp, totals[1] + fp, totals[2] + fn]
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        lines.append(f"| {category} | {precision:.2f} | {recall:.2f} | {tp} / {fp}, {fn} |")
    tp, fp, fn = totals
    lines.append(
        f"| **all** | **{tp / (tp + fp):.2f}** | **{tp / (tp + fn):.2f}** | {tp} / {fp}, {fn} |"
    )
    clean = [r for (_, c), r in zip(LABELLED, results, strict=True) if not c]
    lines += ["", f"Clean texts flagged: {sum(1 for r in clean if r.flagged)} of {len(clean)}."]
    print("\n".join(lines))
    if args.write:
        write_block(args.write, "moderation", "\n".join(lines))


if __name__ == "__main__":
    main()
