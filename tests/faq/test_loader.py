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
    assert problems(tmp_path) == [f"{path}:1: expected a top-level 'entries:' list"]


def test_missing_directory_is_an_error(tmp_path):
    assert "does not exist" in problems(tmp_path / "nope")[0]
