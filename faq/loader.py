"""Load the YAML files ops edit into a KnowledgeBase, naming the file and line of every mistake.

A file looks like::

    entries:
      - id: shipping_time
        category: logistics
        questions: [什么时候发货, 多久能发货]
        answer: 亲，付款后48小时内发货。
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from faq.knowledge_base import Entry, KnowledgeBase


@dataclass(frozen=True)
class FaqProblem:
    path: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.message}"


class FaqLoadError(Exception):
    """The knowledge base could not be built; `problems` says where and why."""

    def __init__(self, problems: list[FaqProblem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems


class _EntryModel(BaseModel):
    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    category: str | None = None
    questions: list[str] = Field(min_length=1)
    answer: str = Field(min_length=1)


def faq_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def load_knowledge_base(directory: Path) -> KnowledgeBase:
    """Read every *.yaml/*.yml below `directory`; raise FaqLoadError listing all problems."""
    if not directory.is_dir():
        raise FaqLoadError([FaqProblem(directory, None, "FAQ directory does not exist")])
    files = faq_files(directory)
    if not files:
        raise FaqLoadError([FaqProblem(directory, None, "no .yaml FAQ files found")])
    entries: dict[str, Entry] = {}
    problems: list[FaqProblem] = []
    for path in files:
        for entry in _load_file(path, problems):
            if entry.id in entries:
                first = entries[entry.id]
                problems.append(
                    FaqProblem(path, entry.line, f"duplicate id '{entry.id}' (first at {first.source}:{first.line})")
                )
            else:
                entries[entry.id] = entry
    if problems:
        raise FaqLoadError(problems)
    return KnowledgeBase(entries=entries, sources=tuple(files))


def _load_file(path: Path, problems: list[FaqProblem]) -> list[Entry]:
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problems.append(FaqProblem(path, mark.line + 1 if mark else None, f"not valid YAML: {exc}"))
        return []
    except UnicodeDecodeError:
        problems.append(FaqProblem(path, None, "not UTF-8 text"))
        return []
    entry_nodes = _entry_nodes(root, path, problems)
    return [e for node in entry_nodes if (e := _entry(node, path, problems)) is not None]


def _entry_nodes(root: yaml.Node | None, path: Path, problems: list[FaqProblem]) -> list[yaml.Node]:
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "entries" and isinstance(value, yaml.SequenceNode):
                return list(value.value)
    line = root.start_mark.line + 1 if root is not None else None
    problems.append(FaqProblem(path, line, "expected a top-level 'entries:' list"))
    return []


def _entry(node: yaml.Node, path: Path, problems: list[FaqProblem]) -> Entry | None:
    line = node.start_mark.line + 1
    data = _construct(node)
    try:
        model = _EntryModel.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "entry"
        problems.append(FaqProblem(path, _field_line(node, error["loc"]) or line, f"{field}: {error['msg']}"))
        return None
    questions = tuple(q for q in model.questions if q)
    return Entry(model.id, questions, model.answer, model.category, path, line)


def _construct(node: yaml.Node) -> object:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def _field_line(node: yaml.Node, loc: tuple) -> int | None:
    """The line of the field an error points at, so ops land on the exact line."""
    current = node
    for part in loc:
        if isinstance(current, yaml.MappingNode):
            current = next((v for k, v in current.value if k.value == part), None)
        elif isinstance(current, yaml.SequenceNode) and isinstance(part, int) and part < len(current.value):
            current = current.value[part]
        else:
            break
        if current is None:
            return None
    return current.start_mark.line + 1 if current is not None else None
