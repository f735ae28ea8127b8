"""Import benchmark: N generated labelled rows through the real import service into Postgres.

Usage: .venv/bin/python bench/import.py [--rows 100000]. Last line: JSON with rows and rows_per_s.
The benchmark course is deleted afterwards.
"""

import argparse
import csv
import io
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _django import setup  # noqa: E402

WORDS = (
    "lecture", "labs", "pace", "slides", "tutor", "exam", "deadline", "helpful", "confusing", "great",
    "boring", "clear", "rushed", "examples", "feedback", "project", "forum", "quiz", "notes", "reading",
)


def generate_csv(rows: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "text", "module", "submitted_at", "sentiment"])
    for i in range(rows):
        text = " ".join(rng.choices(WORDS, k=rng.randint(6, 40)))
        if i % 50 == 0:
            text += f" mail me at student{i}@uni.example.edu"
        label = rng.choice(["negative", "neutral", "positive", ""])
        writer.writerow([f"b{i}", text, f"Week {i % 10 + 1}", f"2026-0{i % 6 + 1}-1{i % 9}T10:00:00", label])
    return out.getvalue().encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    setup()
    from django.db import connection

    from classifiers.imports.services import import_feedback_file
    from courses.importers import ImportOptions
    from courses.models import Course

    data = generate_csv(args.rows)
    code = f"BENCH-IMPORT-{int(time.time())}"
    options = ImportOptions(text_col="text", module_col="module", submitted_col="submitted_at", id_col="id",
                            label_col="sentiment")
    start = time.perf_counter()
    result = import_feedback_file(code, data, filename="bench.csv", options=options)
    wall = time.perf_counter() - start
    Course.objects.filter(code=code).delete()
    connection.close()
    print(json.dumps({
        "bench": "import", "rows": result.created, "annotations": result.annotations,
        "wall_s": round(wall, 2), "rows_per_s": round(result.created / wall, 1), "target_s": 60,
        "meets_target": wall < 60,
    }))


if __name__ == "__main__":
    main()
