"""The words the matcher knows: corrections, dictionary words, synonym groups and stopwords.

kefu ships an e-commerce lexicon (`faq/lexicon/ecommerce.yaml`); a shop extends it with a
`synonyms.yaml` beside its FAQ files, in the same format, and a jieba `userdict.txt`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

BUILTIN_LEXICON = Path(__file__).resolve().parent / "lexicon" / "ecommerce.yaml"
SHOP_SYNONYMS = "synonyms.yaml"
SHOP_USER_DICT = "userdict.txt"


class LexiconFileError(ValueError):
    def __init__(self, path: Path, line: int | None, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")
        self.path, self.line, self.message = path, line, message


class _LexiconModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    corrections: dict[str, str] = {}
    words: list[str] = []
    synonyms: list[list[str]] = []
    stopwords: list[str] = []
    goods: list[str] = []
    replies: list[str] = []
    details: list[str] = []


@dataclass(frozen=True)
class Lexicon:
    corrections: dict[str, str] = field(default_factory=dict)
    words: frozenset[str] = frozenset()
    canonical: dict[str, str] = field(default_factory=dict)  # any synonym -> the group's first word
    stopwords: frozenset[str] = frozenset()
    goods: frozenset[str] = frozenset()  # names of things sold: what a message is about, not what it asks
    replies: frozenset[str] = frozenset()  # whole messages that only acknowledge ("收到", "知道了")
    details: frozenset[str] = frozenset()  # what a customer hands over (a place, a phone): alone, not a question

    def merged(self, other: Lexicon) -> Lexicon:
        """`other` (the shop's) wins where both define a word."""
        return Lexicon(
            {**self.corrections, **other.corrections},
            self.words | other.words,
            {**self.canonical, **other.canonical},
            (self.stopwords | other.stopwords) - set(other.canonical),
            self.goods | other.goods,
            self.replies | other.replies,
            self.details | other.details,
        )

    def correction_pattern(self) -> re.Pattern | None:
        """One regex for all corrections, longest first; Latin keys only as whole words."""
        if not self.corrections:
            return None
        keys = sorted(self.corrections, key=len, reverse=True)
        parts = [rf"(?<![a-z]){re.escape(k)}(?![a-z])" if k.isascii() else re.escape(k) for k in keys]
        return re.compile("|".join(parts))


def load_lexicon(path: Path) -> Lexicon:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        model = _LexiconModel.model_validate(data)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise LexiconFileError(path, mark.line + 1 if mark else None, f"not valid YAML: {exc}") from None
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise LexiconFileError(path, None, f"{where}: {error['msg']}") from None
    canonical: dict[str, str] = {}
    for group in model.synonyms:
        words = [w.strip().lower() for w in group if w and w.strip()]
        for word in words[1:]:
            canonical[word] = words[0]
    corrections = {k.lower(): v.lower() for k, v in model.corrections.items()}
    goods = {w.strip().lower() for w in model.goods if w and w.strip()}
    words = {w.lower() for w in model.words} | set(canonical) | set(canonical.values()) | set(corrections.values())
    words |= goods
    return Lexicon(
        corrections,
        frozenset(w for w in words if len(w) > 1),
        canonical,
        frozenset(model.stopwords),
        frozenset(goods),
        frozenset(w.strip().lower() for w in model.replies if w and w.strip()),
        frozenset(canonical.get(w, w) for w in (w.strip().lower() for w in model.details) if w),
    )


def shop_lexicon(directory: Path) -> Lexicon:
    """The built-in lexicon extended by the shop's synonyms.yaml and userdict.txt, if present."""
    lexicon = load_lexicon(BUILTIN_LEXICON)
    synonyms = directory / SHOP_SYNONYMS
    if synonyms.is_file():
        lexicon = lexicon.merged(load_lexicon(synonyms))
    user_dict = directory / SHOP_USER_DICT
    if user_dict.is_file():
        extra = {line.split()[0] for line in user_dict.read_text(encoding="utf-8").splitlines() if line.strip()}
        lexicon = lexicon.merged(Lexicon(words=frozenset(extra)))
    return lexicon
