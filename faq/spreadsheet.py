"""Move FAQ entries between the YAML knowledge base and the spreadsheets ops keep (CSV or Excel).

Ops maintain FAQ lists in Excel; this turns a loaded knowledge base into one row per entry and a
sheet back into a YAML file in the hand-editable style of faq/data/shop.yaml. Every problem in a
sheet is reported with the file, the row number ops see in Excel and the column.
"""

from __future__ import annotations

import csv
import io
import re
import textwrap
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import openpyxl
import yaml
from openpyxl.styles import Alignment, Font

from faq.knowledge_base import Entry, KnowledgeBase
from faq.loader import SHOP_TIMEZONE

COLUMNS = (
    "id",
    "category",
    "questions",
    "answer",
    "keywords",
    "negative_keywords",
    "valid_from",
    "valid_until",
    "channels",
    "handoff",
)
REQUIRED = ("id", "questions", "answer")
LIST_COLUMNS = ("questions", "keywords", "negative_keywords", "channels")
DATE_COLUMNS = ("valid_from", "valid_until")
WIDTHS = {"id": 22, "category": 12, "questions": 36, "answer": 60, "valid_from": 26, "valid_until": 26, "handoff": 9}
BOOLEANS = {"是": True, "true": True, "1": True, "yes": True, "否": False, "false": False, "0": False, "no": False}
LIST_SEPARATORS = re.compile(r"[\n|;；]")


class SpreadsheetError(ValueError):
    """A sheet could not be imported; `problems` lists every "file:row N: message"."""

    def __init__(self, path: Path, row: int | None, message: str, problems: list[str] | None = None) -> None:
        self.path, self.row, self.message = path, row, message
        super().__init__(f"{path}:row {row}: {message}" if row else f"{path}: {message}")
        self.problems = problems if problems is not None else [str(self)]


def export_rows(kb_entries: KnowledgeBase | Iterable[Entry]) -> list[dict[str, str]]:
    """One row of text cells per entry, keyed by COLUMNS."""
    entries = kb_entries.entries.values() if isinstance(kb_entries, KnowledgeBase) else kb_entries
    return [_entry_row(entry) for entry in entries]


def _entry_row(entry: Entry) -> dict[str, str]:
    """Lists joined one item per line, dates as ISO 8601, handoff as true/false."""
    row = {name: "\n".join(getattr(entry, name)) for name in LIST_COLUMNS}
    row |= {name: value.isoformat() if (value := getattr(entry, name)) else "" for name in DATE_COLUMNS}
    row |= {"id": entry.id, "category": entry.category or "", "answer": entry.answer}
    row["handoff"] = "true" if entry.handoff else "false"
    return {name: row[name] for name in COLUMNS}


def write_csv(entries: KnowledgeBase | Iterable[Entry], path: Path) -> None:
    """CSV in UTF-8 with BOM, so Excel shows the Chinese text correctly."""
    with Path(path).open("w", encoding="utf-8-sig", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(export_rows(entries))


def write_xlsx(entries: KnowledgeBase | Iterable[Entry], path: Path) -> None:
    """An Excel workbook with one sheet `FAQ`: bold header, wrapped text, readable column widths."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "FAQ"
    sheet.append(COLUMNS)
    for row in export_rows(entries):
        sheet.append([row[name] for name in COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for column in sheet.iter_cols():
        sheet.column_dimensions[column[0].column_letter].width = WIDTHS.get(column[0].value, 18)
        for cell in column:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"
    workbook.save(path)


def read_rows(path: Path) -> list[tuple[int, dict]]:
    """(sheet row number, parsed row) for every non-empty data row of a .csv or .xlsx file."""
    path = Path(path)
    raw = _xlsx_cells(path) if path.suffix.lower() == ".xlsx" else _csv_cells(path)
    header = [_text(name).lower() for name in (raw[0] if raw else [])]
    for name in REQUIRED:
        if name not in header:
            raise SpreadsheetError(path, 1, f"missing required column '{name}'")
    rows, problems, first_row_of = [], [], {}
    for number, values in enumerate(raw[1:], start=2):
        cells = dict(zip(header, map(_text, values), strict=False))
        if not any(cells.values()):
            continue
        row = _parse_row(cells, lambda message, n=number: problems.append((n, message)))
        if row["id"] in first_row_of:
            problems.append((number, f"id: duplicate id '{row['id']}' (rows {first_row_of[row['id']]} and {number})"))
        elif row["id"]:
            first_row_of[row["id"]] = number
        rows.append((number, row))
    if len(problems) == 1:
        raise SpreadsheetError(path, *problems[0])
    if problems:
        listed = [str(SpreadsheetError(path, number, message)) for number, message in problems]
        raise SpreadsheetError(path, None, f"{len(listed)} problems:\n" + "\n".join(listed), listed)
    return rows


def _csv_cells(path: Path) -> list[list[str]]:
    """All records of a CSV; Excel's "CSV UTF-8" has a BOM, plain "CSV" on Chinese Windows is GB18030."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("gb18030")
    return list(csv.reader(io.StringIO(text, newline="")))


def _xlsx_cells(path: Path) -> list[tuple]:
    """All rows of the `FAQ` sheet, or of the first sheet if there is none by that name."""
    workbook = openpyxl.load_workbook(path, data_only=True)
    sheet = workbook["FAQ"] if "FAQ" in workbook.sheetnames else workbook.worksheets[0]
    return list(sheet.iter_rows(values_only=True))


def _text(value: object) -> str:
    """A cell as stripped text; Excel numbers, booleans and dates become what ops typed."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return text.replace("\r\n", "\n").strip()


def _parse_row(cells: dict[str, str], problem) -> dict:
    """Typed values for every column; `problem(message)` is called for each bad cell."""
    row: dict = {name: cells.get(name, "") for name in COLUMNS}
    for name in REQUIRED:
        if not row[name]:
            problem(f"{name}: required but empty")
    for name in LIST_COLUMNS:
        row[name] = [item.strip() for item in LIST_SEPARATORS.split(row[name]) if item.strip()]
    for name in DATE_COLUMNS:
        row[name] = _date(row[name], lambda message, name=name: problem(f"{name}: {message}"))
    handoff = row["handoff"].lower()
    if handoff and handoff not in BOOLEANS:
        problem(f"handoff: '{row['handoff']}' is not one of 是/否, true/false, yes/no, 1/0")
    row["handoff"] = BOOLEANS.get(handoff, False)
    return row


def _date(text: str, problem) -> datetime | None:
    """ISO 8601 date or time (2026/11/11 also accepted); without a zone it is China time."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("/", "-"))
    except ValueError:
        problem(f"'{text}' is not a date like 2026-11-11 or 2026-11-11T00:00:00+08:00")
        return None
    return value if value.tzinfo else value.replace(tzinfo=SHOP_TIMEZONE)


class _TidyDumper(yaml.SafeDumper):
    """Block lists indented under their key, as in faq/data/shop.yaml."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


_TidyDumper.add_representer(
    str, lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", s, style="|" if "\n" in s else None)
)
_TidyDumper.add_representer(datetime, lambda d, v: d.represent_scalar("tag:yaml.org,2002:timestamp", v.isoformat()))


def rows_to_yaml(rows: Iterable[tuple[int, dict]]) -> str:
    """A hand-editable `entries:` YAML document; empty optional fields are left out."""
    blocks = []
    for _, row in rows:
        entry = {name: row[name] for name in COLUMNS if row.get(name)}
        text = yaml.dump([entry], Dumper=_TidyDumper, allow_unicode=True, sort_keys=False, width=1000)
        blocks.append(textwrap.indent(text, "  "))
    return "entries:\n" + "\n".join(blocks) if blocks else "entries: []\n"
