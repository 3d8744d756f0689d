"""Loading FAQ files: the sample loads, and every mistake is reported with its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import SAMPLE_FAQ_DIR
from faq.loader import FaqLoadError, load_knowledge_base


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_sample_faq_loads():
    kb = load_knowledge_base(SAMPLE_FAQ_DIR)
    assert len(kb) >= 20
    assert all(entry.questions and entry.answer for entry in kb.entries.values())


def test_entries_from_several_files_are_merged(tmp_path):
    write(tmp_path, "a.yaml", "entries:\n  - id: a\n    questions: [问A]\n    answer: 答A\n")
    write(tmp_path, "b.yml", "entries:\n  - id: b\n    questions: [问B]\n    answer: 答B\n")
    assert sorted(load_knowledge_base(tmp_path).entries) == ["a", "b"]


def problems(directory: Path) -> list[str]:
    with pytest.raises(FaqLoadError) as raised:
        load_knowledge_base(directory)
    return [str(problem) for problem in raised.value.problems]


def test_invalid_yaml_names_the_line(tmp_path):
    path = write(tmp_path, "bad.yaml", "entries:\n  - id: a\n    questions: [问A\n    answer: 答A\n")
    [problem] = problems(tmp_path)
    assert problem.startswith(f"{path}:") and "not valid YAML" in problem


def test_missing_answer_names_the_entry_line(tmp_path):
    path = write(
        tmp_path,
        "faq.yaml",
        "entries:\n  - id: a\n    questions: [问A]\n    answer: 答A\n  - id: b\n    questions: [问B]\n",
    )
    assert problems(tmp_path) == [f"{path}:5: answer: Field required"]


def test_empty_question_list_points_at_the_field(tmp_path):
    path = write(tmp_path, "faq.yaml", "entries:\n  - id: a\n    questions: []\n    answer: 答A\n")
    [problem] = problems(tmp_path)
    assert problem.startswith(f"{path}:3: questions")


def test_duplicate_ids_across_files_name_both_places(tmp_path):
    first = write(tmp_path, "a.yaml", "entries:\n  - id: same\n    questions: [问A]\n    answer: 答A\n")
    second = write(tmp_path, "b.yaml", "entries:\n  - id: same\n    questions: [问B]\n    answer: 答B\n")
    assert problems(tmp_path) == [f"{second}:2: duplicate id 'same' (first at {first}:2)"]


def test_file_without_entries_list_is_an_error(tmp_path):
    path = write(tmp_path, "faq.yaml", "questions: [x]\n")
    assert problems(tmp_path) == [
        f"{path}:1: unknown top-level key 'questions'",
        f"{path}:1: expected a top-level 'entries:' list",
    ]


def test_optional_fields_and_variables_are_read(tmp_path):
    write(
        tmp_path,
        "promo.yaml",
        "variables:\n  hotline: 400-800-1234\n"
        "entries:\n  - id: deposit\n    questions: [定金怎么付]\n    answer: 请拨{hotline}\n"
        "    keywords: [定金, 尾款]\n    negative_keywords: [退定金]\n    channels: [web]\n    handoff: true\n"
        "    valid_from: 2026-10-20\n    valid_until: 2026-11-12 00:00:00\n",
    )
    kb = load_knowledge_base(tmp_path)
    entry = kb.entries["deposit"]
    assert kb.variables == {"hotline": "400-800-1234"}
    assert entry.render(kb.variables) == "请拨400-800-1234"
    assert entry.keywords == ("定金", "尾款") and entry.negative_keywords == ("退定金",)
    assert entry.channels == ("web",) and entry.handoff is True
    assert entry.valid_from.isoformat() == "2026-10-20T00:00:00+08:00"
    assert entry.valid_until.isoformat() == "2026-11-12T00:00:00+08:00"


def test_a_misspelt_field_is_an_error_on_its_line(tmp_path):
    path = write(tmp_path, "faq.yaml", "entries:\n  - id: a\n    questions: [问A]\n    answer: 答A\n    keyword: [x]\n")
    assert problems(tmp_path) == [f"{path}:5: keyword: Extra inputs are not permitted"]


def test_shop_synonym_file_is_not_read_as_faq_and_its_errors_are_reported(tmp_path):
    write(tmp_path, "faq.yaml", "entries:\n  - id: a\n    questions: [问A]\n    answer: 答A\n")
    path = write(tmp_path, "synonyms.yaml", "synonyms: [[物流, 快递]]\nsynonym: []\n")
    [problem] = problems(tmp_path)
    assert problem.startswith(str(path)) and "synonym" in problem


def test_shop_synonyms_and_corrections_apply_to_matching(tmp_path):
    write(tmp_path, "faq.yaml", "entries:\n  - id: gift\n    questions: [有赠品吗]\n    answer: 有\n")
    write(tmp_path, "synonyms.yaml", "corrections:\n  赠口: 赠品\nsynonyms:\n  - [赠品, 小样]\n")
    kb = load_knowledge_base(tmp_path)
    assert kb.index.parse("有小样吗").terms == kb.index.parse("有赠口吗").terms == {"赠品"}


def test_missing_directory_is_an_error(tmp_path):
    assert "does not exist" in problems(tmp_path / "nope")[0]
