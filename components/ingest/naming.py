"""Names and labels shared by the sources that read columns or keys (CSV,
TFRecord, built-in data sets): tf.Example- and Keras-safe keys for a user's
column names, the task a label column implies, a stable order of class names,
and the short lists of line numbers that error messages name. Pure functions
of strings and numbers; nothing here touches a file.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Sequence

from search_algo.errors import DataError

LABEL_GUESSES = ("label", "target", "class", "y")
# An integer-valued label with more distinct values than this is a regression target.
MAX_CLASSES_FOR_INTEGER_LABEL = 20
MAX_ROWS_NAMED = 5


def sanitize_name(name: str, taken: set[str]) -> str:
    """A tf.Example / Keras-safe key for a user's column name, unique in `taken`."""
    key = re.sub(r"[^0-9a-zA-Z]+", "_", name.strip()).strip("_").lower() or "feature"
    if key[0].isdigit():
        key = f"f_{key}"
    candidate, suffix = key, 2
    while candidate in taken:
        candidate, suffix = f"{key}_{suffix}", suffix + 1
    taken.add(candidate)
    return candidate


def as_number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value


def _is_integral(values: Iterable[float]) -> bool:
    return all(float(v).is_integer() for v in values)


def decide_task(values: Sequence[Any], requested: str | None, where: str) -> str:
    """classification for text or few integer values, else regression; `requested` wins."""
    if requested:
        if requested == "regression":
            bad = [v for v in values if isinstance(v, str) and as_number(v) is None]
            if bad:
                raise DataError(f"{where}: --task regression needs a numeric label, found {bad[0]!r}")
        return requested
    numbers = [as_number(v) if isinstance(v, str) else float(v) for v in values]
    if any(n is None for n in numbers):
        return "classification"
    if _is_integral(numbers) and len(set(numbers)) <= MAX_CLASSES_FOR_INTEGER_LABEL:
        return "classification"
    return "regression"


def decide_label_task(survey: Any, requested: str | None, where: str, label: str) -> str:
    """`decide_task` on a first pass's `LabelSurvey` (batches.py), which knows
    whether any label is not a number and the distinct values up to a cap."""
    from components.ingest.batches import MAX_DISTINCT_LABELS

    if requested == "regression" and survey.non_numeric is not None:
        raise DataError(f"{where}: --task regression needs a numeric label, found {survey.non_numeric!r}")
    task = requested
    if task is None:
        few = not survey.overflow and len(survey.counts) <= MAX_CLASSES_FOR_INTEGER_LABEL
        task = "classification" if survey.non_numeric is not None or (few and not survey.non_integral) else "regression"
    if task == "classification" and survey.overflow:
        raise DataError(f"{where}: label {label!r} has more than {MAX_DISTINCT_LABELS} distinct values, too many "
                        "classes" + ("" if survey.non_numeric is not None else "; for a numeric target give --task regression"))
    return task


def class_order(values: Iterable[Any]) -> list[str]:
    """Class names in a stable order: numerically when every label is a number
    (so 2 < 10), else lexicographically."""
    distinct = {str(v) for v in values}
    numbers = {v: as_number(v) for v in distinct}
    if all(n is not None for n in numbers.values()):
        return sorted(distinct, key=lambda v: (numbers[v], v))
    return sorted(distinct)


def check_classes(class_names: list[str], where: str, label: str) -> None:
    if len(class_names) < 2:
        only = class_names[0] if class_names else "nothing"
        raise DataError(
            f"{where}: label {label!r} has a single class ({only!r}); classification needs at least two"
        )


def rows_text(rows: Sequence[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:MAX_ROWS_NAMED])
    more = f" and {len(rows) - MAX_ROWS_NAMED} more" if len(rows) > MAX_ROWS_NAMED else ""
    return f"{shown}{more}"
