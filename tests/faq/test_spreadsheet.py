"""FAQ spreadsheets: YAML and CSV/XLSX round-trip unchanged, and every bad cell names its file, row and column."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest

from faq.knowledge_base import Entry, KnowledgeBase
from faq.loader import load_knowledge_base
from faq.spreadsheet import COLUMNS, SpreadsheetError, read_rows, rows_to_yaml, write_csv, write_xlsx

FAQ_YAML = """\
variables:
  shop_name: 小美家居
entries:
  - id: shipping_time
    category: logistics
    questions:
      - 什么时候发货
      - 多久能发货
    answer: 亲，{shop_name}付款后48小时内发货。
    keywords: [发货]
    negative_keywords: [退货]
  - id: double11
    category: promotion
    questions: [双十一有活动吗]
    answer: |-
      亲，双十一全场满300减40。
      活动以页面为准哦。
    valid_from: 2026-11-01
    valid_until: 2026-11-12T00:00:00+08:00
    channels: [taobao, jd]
    handoff: true
"""


def load_yaml(directory: Path, text: str) -> KnowledgeBase:
    directory.mkdir()
    (directory / "faq.yaml").write_text(text, encoding="utf-8")
    return load_knowledge_base(directory)


def comparable(kb: KnowledgeBase) -> dict[str, Entry]:
    """Entries without where they were read from."""
    return {key: dataclasses.replace(entry, source=None, line=None) for key, entry in kb.entries.items()}


def write_sheet(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8-sig")
    return path


def import_error(path: Path) -> SpreadsheetError:
    with pytest.raises(SpreadsheetError) as raised:
        read_rows(path)
    return raised.value


HEADER = "id,questions,answer,handoff,valid_from\n"


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_yaml_to_sheet_and_back_gives_the_same_entries(tmp_path, suffix):
    original = load_yaml(tmp_path / "original", FAQ_YAML)
    sheet = tmp_path / f"faq{suffix}"
    (write_csv if suffix == ".csv" else write_xlsx)(original, sheet)
    reloaded = load_yaml(tmp_path / "reloaded", rows_to_yaml(read_rows(sheet)))
    assert comparable(reloaded) == comparable(original)


def test_csv_has_a_bom_and_one_question_per_line(tmp_path):
    write_csv(load_yaml(tmp_path / "kb", FAQ_YAML), tmp_path / "faq.csv")
    data = (tmp_path / "faq.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf" + ",".join(COLUMNS).encode())
    assert '"什么时候发货\n多久能发货"' in data.decode("utf-8-sig")
    assert "2026-11-01T00:00:00+08:00" in data.decode("utf-8-sig")


def test_xlsx_has_a_bold_header_and_newline_joined_questions(tmp_path):
    write_xlsx(load_yaml(tmp_path / "kb", FAQ_YAML), tmp_path / "faq.xlsx")
    sheet = openpyxl.load_workbook(tmp_path / "faq.xlsx")["FAQ"]
    assert [cell.value for cell in sheet[1]] == list(COLUMNS)
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet["C2"].value == "什么时候发货\n多久能发货"
    assert sheet["C2"].alignment.wrap_text
    assert sheet["J3"].value == "true"


def test_rows_to_yaml_is_tidy_and_leaves_out_empty_fields(tmp_path):
    sheet = write_sheet(
        tmp_path / "faq.csv", "id,category,questions,answer,handoff\nrefund,,退款多久|怎么退款,1-3天到账。,否\n"
    )
    assert rows_to_yaml(read_rows(sheet)) == (
        "entries:\n  - id: refund\n    questions:\n      - 退款多久\n      - 怎么退款\n    answer: 1-3天到账。\n"
    )


def test_csv_saved_by_excel_imports(tmp_path):
    sheet = write_sheet(
        tmp_path / "excel.csv",
        "ID, Questions ,Answer,Keywords,Handoff,备注\r\n"
        "refund , 退款多久到账 | 怎么退款 ,亲，1-3天到账。,退款；到账,是,ops note\r\n"
        ",,,,,\r\n"
        "invoice,能开发票吗;开票,可以的。,,否,\r\n",
    )
    rows = read_rows(sheet)
    assert [number for number, _ in rows] == [2, 4]
    refund, invoice = (row for _, row in rows)
    assert refund["id"] == "refund" and refund["questions"] == ["退款多久到账", "怎么退款"]
    assert refund["keywords"] == ["退款", "到账"] and refund["handoff"] is True
    assert invoice["questions"] == ["能开发票吗", "开票"] and invoice["handoff"] is False
    kb = load_yaml(tmp_path / "kb", rows_to_yaml(rows))
    assert kb.entries["refund"].handoff and kb.entries["invoice"].questions == ("能开发票吗", "开票")


def test_excel_date_cells_are_china_time(tmp_path):
    workbook = openpyxl.Workbook()
    workbook.active.append(["id", "questions", "answer", "valid_from", "handoff"])
    workbook.active.append(["sale", "有活动吗", "有的。", datetime(2026, 11, 11), True])
    workbook.save(tmp_path / "faq.xlsx")
    [(_, row)] = read_rows(tmp_path / "faq.xlsx")
    assert row["valid_from"].isoformat() == "2026-11-11T00:00:00+08:00" and row["handoff"] is True


def test_missing_required_column_names_the_column(tmp_path):
    sheet = write_sheet(tmp_path / "faq.csv", "id,answer\na,答\n")
    assert str(import_error(sheet)) == f"{sheet}:row 1: missing required column 'questions'"


def test_row_without_answer_names_row_and_column(tmp_path):
    sheet = write_sheet(tmp_path / "faq.csv", HEADER + "a,问,答,,\nb,问B,,,\n")
    assert str(import_error(sheet)) == f"{sheet}:row 3: answer: required but empty"


def test_bad_date_names_row_and_column(tmp_path):
    sheet = write_sheet(tmp_path / "faq.csv", HEADER + "a,问,答,,双十一\n")
    error = import_error(sheet)
    assert str(error).startswith(f"{sheet}:row 2: valid_from: '双十一' is not a date")


def test_bad_handoff_names_row_and_column(tmp_path):
    sheet = write_sheet(tmp_path / "faq.csv", HEADER + "a,问,答,maybe,\n")
    assert str(import_error(sheet)).startswith(f"{sheet}:row 2: handoff: 'maybe'")


def test_duplicate_ids_name_both_rows(tmp_path):
    sheet = write_sheet(tmp_path / "faq.csv", HEADER + "a,问,答,,\nb,问B,答B,,\na,问C,答C,,\n")
    assert str(import_error(sheet)) == f"{sheet}:row 4: id: duplicate id 'a' (rows 2 and 4)"


def test_all_row_problems_are_reported_together(tmp_path):
    sheet = write_sheet(tmp_path / "faq.csv", HEADER + ",问,答,,\nb,,答,nope,\n")
    error = import_error(sheet)
    assert error.problems == [
        f"{sheet}:row 2: id: required but empty",
        f"{sheet}:row 3: questions: required but empty",
        f"{sheet}:row 3: handoff: 'nope' is not one of 是/否, true/false, yes/no, 1/0",
    ]
    assert all(problem in str(error) for problem in error.problems)


def test_xlsx_problems_use_the_sheet_row_number(tmp_path):
    workbook = openpyxl.Workbook()
    for row in (["id", "questions", "answer"], ["a", "问", "答"], [None, None, None], ["b", "问B", None]):
        workbook.active.append(row)
    workbook.save(tmp_path / "faq.xlsx")
    assert str(import_error(tmp_path / "faq.xlsx")) == f"{tmp_path / 'faq.xlsx'}:row 4: answer: required but empty"
