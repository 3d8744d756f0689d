"""A term index over FAQ entries: every entry scored by one sparse sum, a few refined by string similarity.

An entry is the bag of canonical terms of its questions, its keywords and (weakly) its answer.
A query's score for an entry is BM25-like: each query term adds its rarity (IDF over entries)
times a saturating weight for where the entry has it (question > keyword > answer), and the sum
is divided by what the query's four weightiest terms would score if an entry had them all in a
question. So the score reads "how much of what the message is about the entry explains", from 0
to 1, and a long story ("我前几天买的那个加湿器…不出雾…") is not diluted by its chatter.

The score is then scaled by how much of the entry's closest question the query covers, so a
one-word message does not fully match a longer question that merely contains the word.

The entry × term matrix holds those per-term contributions, so scoring all entries is one
column slice and sum: well under a millisecond at 100k questions. Near-identical strings
(typos that break segmentation) are caught by rapidfuzz's ratio over the top candidates.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz
from scipy import sparse

from faq.homophones import SoundAlike
from faq.knowledge_base import Entry
from faq.normalise import Normalised, normalise
from faq.tokenise import Tokeniser

# Words that ask rather than say what about: they tell close entries apart, little more.
QUESTION_WORDS = frozenset(
    "怎么 怎样 怎么办 如何 什么 为什么 为啥 咋 咋办 多久 多少 几天 几号 "
    "哪里 哪儿 哪 哪个 哪些 谁 是否 有没有 能否".split()
)


@dataclass(frozen=True)
class Weights:
    question: float = 3.0  # term frequency credited for a term in one of the entry's questions
    keyword: float = 2.0
    answer: float = 1.0
    saturation: float = 1.2  # BM25's k1
    question_word: float = 0.35  # damping of QUESTION_WORDS
    unseen: float = 1.0  # weight of a query term no entry uses (chit-chat, off-topic words)
    unseen_goods: float = 0.1  # ... unless the lexicon names it as goods: "卫衣开线了" is about 开线
    fuzzy_floor: float = 0.85  # a string ratio below this adds nothing
    question_cover: float = 0.9  # how much the best question's own coverage by the query counts
    refine: int = 10  # candidates compared as strings
    query_terms: int = 4  # a long message is judged by its weightiest terms, not diluted by chatter


@dataclass(frozen=True, slots=True)
class Scored:
    entry: Entry
    score: float  # 0..1
    question: str  # the entry's question closest to the query
    matched: tuple[str, ...]  # query terms the entry has


@dataclass(frozen=True, slots=True)
class Query:
    text: str  # normalised and corrected
    terms: frozenset[str]
    normalised: Normalised  # with the order numbers, phones and links set aside


class SearchIndex:
    def __init__(self, entries: Iterable[Entry], tokeniser: Tokeniser, weights: Weights = Weights()) -> None:
        self.tokeniser = tokeniser
        self.weights = weights
        self.entries = list(entries)
        self._sounds: SoundAlike | None = None
        self._questions = [[self.parse(q) for q in e.questions] for e in self.entries]
        self._number = {e.id: n for n, e in enumerate(self.entries)}
        answers: dict[str, frozenset[str]] = {}  # many entries may share one answer text
        self._terms = [self._fields(n, e, answers) for n, e in enumerate(self.entries)]  # questions, keywords, answer
        self._known = [frozenset().union(*parts) for parts in self._terms]
        self._idf = self._rarity(self._terms)
        self._vocabulary = {term: n for n, term in enumerate(self._idf)}
        self._sounds = SoundAlike(self._vocabulary)
        self._matrix = self._contributions(self._terms)
        self._question_weights = [[self._total(q.terms) for q in parsed] for parsed in self._questions]

    def parse(self, text: str) -> Query:
        normalised = normalise(text)
        corrected = self.tokeniser.correct(normalised.text)
        terms = self.tokeniser.terms(corrected)
        if self._sounds is not None:  # customers' messages, not the knowledge base's own text
            terms = self._sounds.fix(terms)
        return Query(corrected, frozenset(terms), normalised)

    def search(self, query: Query, *, exclude: frozenset[str] = frozenset(), limit: int = 5) -> list[Scored]:
        """Entries best first, at most `limit`, never those whose ids are in `exclude`."""
        if not self.entries or not query.text:
            return []
        scores = self._lexical_scores(query)
        scores[[self._number[i] for i in exclude if i in self._number]] = 0.0
        refined = [self._refine(query, n, float(scores[n])) for n in self._best(scores, limit)]
        refined.sort(key=lambda s: s.score, reverse=True)
        return [s for s in refined if s.score > 0][:limit]

    def _best(self, scores: np.ndarray, limit: int) -> list[int]:
        """The entries worth refining, best first.

        Only the top few are wanted, but a common word can give most of a big base a score: so look
        first among the entries scoring over half the best (enough of them hold the top few), and
        widen only if too few do. Selecting among all 100k is many times slower (numpy's
        partition is slow with the many ties small integer-like scores make)."""
        count = max(self.weights.refine, limit)
        best = scores.max(initial=0.0)
        if best <= 0:
            return []
        for share in (0.5, 0.0):
            candidates = np.flatnonzero(scores > best * share)
            if len(candidates) >= count:
                break
        count = min(count, len(candidates))
        top = candidates[np.argpartition(-scores[candidates], count - 1)[:count]]
        return [int(n) for n in top[np.argsort(-scores[top])]]

    def _lexical_scores(self, query: Query) -> np.ndarray:
        columns = [self._vocabulary[t] for t in query.terms if t in self._vocabulary]
        weights = sorted((self._weight(t) for t in query.terms), reverse=True)[: self.weights.query_terms]
        best_case = sum(weights) * self._saturate(self.weights.question)
        if not columns or not best_case:
            return np.zeros(len(self.entries))
        matrix, starts = self._matrix, self._matrix.indptr  # the query's columns, summed per entry
        rows = np.concatenate([matrix.indices[starts[c] : starts[c + 1]] for c in columns])
        values = np.concatenate([matrix.data[starts[c] : starts[c + 1]] for c in columns])
        return np.bincount(rows, weights=values, minlength=len(self.entries)) / best_case

    def _refine(self, query: Query, number: int, lexical: float) -> Scored:
        """Add string similarity and say which question and words matched."""
        entry = self.entries[number]
        questions = self._questions[number]
        ratios = [fuzz.ratio(query.text, q.text) / 100 for q in questions]
        totals = self._question_weights[number]
        covers = [self._cover(query, q, total) for q, total in zip(questions, totals, strict=True)]
        closest = max(range(len(questions)), key=lambda i: (covers[i], ratios[i]))
        w = self.weights.question_cover
        score = lexical * (1 - w + w * covers[closest])
        ratio = max(ratios)
        score = max(score, ratio if ratio >= self.weights.fuzzy_floor else 0.0)
        matched = query.terms & self._known[number]
        return Scored(entry, round(min(score, 1.0), 4), entry.questions[closest], tuple(sorted(matched)))

    def _cover(self, query: Query, question: Query, total: float) -> float:
        """The share of a question's weight (`total`) the query contains: a question is one topic."""
        return self._total(query.terms & question.terms) / total if total else 0.0

    def _total(self, terms: Iterable[str]) -> float:
        return sum(self._weight(t) for t in terms)

    def _weight(self, term: str) -> float:
        if term in self._idf:
            return self._idf[term]
        return self.weights.unseen_goods if term in self.tokeniser.lexicon.goods else self.weights.unseen

    def _saturate(self, frequency: float) -> float:
        k1 = self.weights.saturation
        return frequency * (k1 + 1) / (frequency + k1)

    def _fields(
        self, number: int, entry: Entry, answers: dict[str, frozenset[str]]
    ) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
        questions = frozenset(t for q in self._questions[number] for t in q.terms)
        keywords = frozenset(t for k in entry.keywords for t in self.parse(k).terms)
        if entry.answer not in answers:
            answers[entry.answer] = self.parse(entry.answer).terms
        return questions, keywords, answers[entry.answer]

    def _rarity(self, fields: list[tuple[frozenset[str], ...]]) -> dict[str, float]:
        """IDF over entries, damped for question words."""
        frequency = Counter(t for parts in fields for t in frozenset().union(*parts))
        total = len(fields)
        return {
            term: math.log(1 + (total - n + 0.5) / (n + 0.5))
            * (self.weights.question_word if term in QUESTION_WORDS else 1.0)
            for term, n in frequency.items()
        }

    def _contributions(self, fields: list[tuple[frozenset[str], ...]]) -> sparse.csc_matrix:
        w = self.weights
        rows, cols, values = [], [], []
        for row, (questions, keywords, answer) in enumerate(fields):
            for term in questions | keywords | answer:
                frequency = (
                    w.question * (term in questions) + w.keyword * (term in keywords) + w.answer * (term in answer)
                )
                rows.append(row)
                cols.append(self._vocabulary[term])
                values.append(self._idf[term] * self._saturate(frequency))
        shape = (len(fields), max(len(self._vocabulary), 1))
        return sparse.csc_matrix((values, (rows, cols)), shape=shape, dtype=np.float64)
