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
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from faq.index import SearchIndex
from faq.knowledge_base import Entry, KnowledgeBase
from faq.lexicon import SHOP_SYNONYMS, LexiconFileError, shop_lexicon
from faq.tokenise import Tokeniser

SHOP_TIMEZONE = timezone(timedelta(hours=8), "Asia/Shanghai")


@dataclass(frozen=True)
class FaqProblem:
    """One mistake in one file; `line` is 1-based."""

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
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    category: str | None = None
    questions: list[str] = Field(min_length=1)
    answer: str = Field(min_length=1)
    keywords: list[str] = []
    negative_keywords: list[str] = []
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    channels: list[str] = []
    handoff: bool = False

    @field_validator("valid_from", "valid_until", mode="before")
    @classmethod
    def _dates_are_shop_time(cls, value: object) -> object:
        """A bare date or a time without zone is China time, as ops write it."""
        if isinstance(value, date) and not isinstance(value, datetime):
            value = datetime(value.year, value.month, value.day)
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=SHOP_TIMEZONE)
        return value

    @field_validator("questions", "keywords", "negative_keywords", "channels", mode="before")
    @classmethod
    def _text_items(cls, value: object) -> object:
        return [str(item) for item in value] if isinstance(value, list) else value


def faq_files(directory: Path) -> list[Path]:
    """Every *.yaml / *.yml below `directory` except the shop's synonym file."""
    return sorted(
        p for p in directory.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file() and p.name != SHOP_SYNONYMS
    )


def load_knowledge_base(path: Path, *, variables: dict[str, str] | None = None) -> KnowledgeBase:
    """Read every *.yaml/*.yml below a directory (or one file); raise FaqLoadError listing all problems.

    The shop's synonyms.yaml and userdict.txt are read from the directory (a file's own folder).
    `variables` are defaults for answer variables (e.g. shop_name); the files' own win.
    """
    if path.is_file():
        files, directory = [path], path.parent
    elif path.is_dir():
        files, directory = faq_files(path), path
    else:
        raise FaqLoadError([FaqProblem(path, None, "FAQ directory does not exist")])
    if not files:
        raise FaqLoadError([FaqProblem(directory, None, "no .yaml FAQ files found")])
    entries: dict[str, Entry] = {}
    variables = dict(variables or {})
    problems: list[FaqProblem] = []
    for path in files:
        for entry in _load_file(path, problems, variables):
            if entry.id in entries:
                first = entries[entry.id]
                problems.append(
                    FaqProblem(path, entry.line, f"duplicate id '{entry.id}' (first at {first.source}:{first.line})")
                )
            else:
                entries[entry.id] = entry
    try:
        lexicon = shop_lexicon(directory)
    except LexiconFileError as exc:
        problems.append(FaqProblem(exc.path, exc.line, exc.message))
    if problems:
        raise FaqLoadError(problems)
    index = SearchIndex(entries.values(), Tokeniser(lexicon))
    return KnowledgeBase(entries=entries, variables=variables, sources=tuple(files), index=index)


def _load_file(path: Path, problems: list[FaqProblem], variables: dict[str, str]) -> list[Entry]:
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problems.append(FaqProblem(path, mark.line + 1 if mark else None, f"not valid YAML: {exc}"))
        return []
    except UnicodeDecodeError:
        problems.append(FaqProblem(path, None, "not UTF-8 text"))
        return []
    sections = _top_level(root, path, problems)
    if "variables" in sections:
        _read_variables(sections["variables"], path, problems, variables)
    entry_nodes = sections.get("entries")
    return [e for node in entry_nodes.value if (e := _entry(node, path, problems)) is not None] if entry_nodes else []


def _top_level(root: yaml.Node | None, path: Path, problems: list[FaqProblem]) -> dict[str, yaml.Node]:
    """The file's `entries:` list and optional `variables:` map, by key."""
    sections = {}
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value not in ("entries", "variables"):
                problems.append(FaqProblem(path, key.start_mark.line + 1, f"unknown top-level key '{key.value}'"))
            sections[key.value] = value
    if not isinstance(sections.get("entries"), yaml.SequenceNode):
        line = root.start_mark.line + 1 if root is not None else None
        problems.append(FaqProblem(path, line, "expected a top-level 'entries:' list"))
        sections.pop("entries", None)
    return sections


def _read_variables(node: yaml.Node, path: Path, problems: list[FaqProblem], variables: dict[str, str]) -> None:
    data = _construct(node)
    if not isinstance(data, dict):
        problems.append(FaqProblem(path, node.start_mark.line + 1, "'variables:' must map names to text"))
        return
    variables.update({str(k): str(v) for k, v in data.items()})


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
    return Entry(
        id=model.id,
        questions=tuple(q for q in model.questions if q),
        answer=model.answer,
        category=model.category,
        keywords=tuple(model.keywords),
        negative_keywords=tuple(model.negative_keywords),
        valid_from=model.valid_from,
        valid_until=model.valid_until,
        channels=tuple(model.channels),
        handoff=model.handoff,
        source=path,
        line=line,
    )


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
