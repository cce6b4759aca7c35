"""Embedding quality on a small labelled similarity set, through Levante's /v1/embeddings.

    .venv/bin/python bench/embeddings.py [--write docs/benchmarks.md]

Each pair is labelled similar (1) or not (0). Reported: mean cosine similarity of each
class, and how often a similar pair scores above a dissimilar one (ROC AUC over all
similar/dissimilar combinations; 0.5 is chance, 1.0 perfect).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import tempfile
from pathlib import Path

import httpx

from serving import MODEL_ID, levante, write_block

PAIRS: list[tuple[str, str, int]] = [
    ("A cat is sleeping on the sofa.", "A kitten naps on the couch.", 1),
    ("The stock market fell sharply today.", "Share prices dropped a lot this afternoon.", 1),
    ("How do I reset my password?", "I forgot my password and need to change it.", 1),
    ("The train to Paris leaves at noon.", "The Paris train departs at 12 o'clock.", 1),
    ("She plays the violin in an orchestra.", "She is a violinist in a symphony.", 1),
    ("It is raining heavily in London.", "London has a downpour right now.", 1),
    ("The recipe needs two eggs and flour.", "You need flour and a couple of eggs for it.", 1),
    ("He fixed the bug in the login code.", "He repaired the defect in the sign-in module.", 1),
    ("Water boils at 100 degrees Celsius.", "At sea level, water boils at 100 °C.", 1),
    ("The children are playing football.", "Kids are kicking a ball around.", 1),
    ("A cat is sleeping on the sofa.", "The stock market fell sharply today.", 0),
    ("How do I reset my password?", "She plays the violin in an orchestra.", 0),
    ("The train to Paris leaves at noon.", "The recipe needs two eggs and flour.", 0),
    ("It is raining heavily in London.", "He fixed the bug in the login code.", 0),
    ("Water boils at 100 degrees Celsius.", "The children are playing football.", 0),
    ("A kitten naps on the couch.", "Share prices dropped a lot this afternoon.", 0),
    ("I forgot my password and need to change it.", "Kids are kicking a ball around.", 0),
    ("The Paris train departs at 12 o'clock.", "London has a downpour right now.", 0),
    ("She is a violinist in a symphony.", "He repaired the defect in the sign-in module.", 0),
    ("You need flour and a couple of eggs for it.", "At sea level, water boils at 100 °C.", 0),
]


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


async def _scores(url: str, key: str) -> list[tuple[float, int]]:
    texts = sorted({t for a, b, _ in PAIRS for t in (a, b)})
    async with httpx.AsyncClient(timeout=600) as client:
        response = await client.post(
            f"{url}/v1/embeddings",
            json={"model": MODEL_ID, "inputs": texts},
            headers={"Authorization": f"Bearer {key}"},
        )
        response.raise_for_status()
    vectors = {t: d["embedding"] for t, d in zip(texts, response.json()["data"], strict=True)}
    return [(_cosine(vectors[a], vectors[b]), label) for a, b, label in PAIRS]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", type=Path, help="write the results into this markdown file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, levante(Path(tmp)) as server:
        scores = asyncio.run(_scores(server.url, server.key))
    similar = [s for s, label in scores if label]
    different = [s for s, label in scores if not label]
    wins = sum((s > d) + 0.5 * (s == d) for s in similar for d in different)
    auc = wins / (len(similar) * len(different))
    lines = [
        f"### Embedding quality ({len(PAIRS)} labelled sentence pairs, `{MODEL_ID}`)",
        "",
        "| | value |",
        "|---|---:|",
        f"| mean cosine, similar pairs | {sum(similar) / len(similar):.3f} |",
        f"| mean cosine, unrelated pairs | {sum(different) / len(different):.3f} |",
        f"| ROC AUC (similar above unrelated) | {auc:.2f} |",
    ]
    print("\n".join(lines))
    if args.write:
        write_block(args.write, "embeddings", "\n".join(lines))


if __name__ == "__main__":
    main()
