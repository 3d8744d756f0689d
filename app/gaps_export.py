"""Unanswered-question groups as a spreadsheet for ops: CSV (UTF-8 with BOM, for Excel) or XLSX.

Examples are customers' own words, so opening the file must never run anything a customer typed:
in CSV a cell that Excel would read as a formula (=, +, -, @ first) gets a leading apostrophe, in
XLSX every text cell is stored as text (openpyxl would otherwise store "=…" as a formula).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

import openpyxl
from openpyxl.styles import Alignment, Font

from app.gaps import EXAMPLES, Gap
from app.ops_stats import CHINA

HEADER = ("次数", *(f"示例{n}" for n in range(1, EXAMPLES + 1)), "关键词", "首次出现", "最近出现")
WIDTHS = (8, 36, 36, 36, 24, 18, 18)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def rows(gaps: Iterable[Gap]) -> list[list]:
    """One row per group: count, up to three examples, terms, first and last seen in China time."""
    out = []
    for gap in gaps:
        examples = [*gap.examples] + [""] * (EXAMPLES - len(gap.examples))
        seen = [at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") for at in (gap.first_seen, gap.last_seen)]
        out.append([gap.count, *examples, "、".join(gap.terms), *seen])
    return out


def to_csv(gaps: Iterable[Gap]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows([[_defused(cell) for cell in row] for row in rows(gaps)])
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(gaps: Iterable[Gap]) -> bytes:
    """One sheet `未解决问题`: bold header, wrapped text, readable widths."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "未解决问题"
    sheet.append(HEADER)
    for row in rows(gaps):
        sheet.append(row)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for column, width in zip(sheet.iter_cols(), WIDTHS, strict=True):
        sheet.column_dimensions[column[0].column_letter].width = width
        for cell in column:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _defused(value: object) -> object:
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value
