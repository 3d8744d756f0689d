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
from rapidfuzz import fuzz, process
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
SMALL = 256  # entries with a score, at most, that `_best` orders in Python rather than numpy
Refined = tuple[float, int, int]  # (score, entry's number, its closest question's number)


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
        self._question_texts = [[q.text for q in parsed] for parsed in self._questions]
        self._questions_with = [_questions_with(parsed) for parsed in self._questions]
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
        if exclude:
            scores[[self._number[i] for i in exclude if i in self._number]] = 0.0
        refined = self._refine(query, *self._best(scores, limit), limit)
        refined.sort(key=lambda r: r[0], reverse=True)
        return [self._scored(query, *r) for r in refined[:limit] if r[0] > 0]

    def _best(self, scores: np.ndarray, limit: int) -> tuple[list[int], list[float]]:
        """The entries worth refining and their scores, best first (ties in the entries' order).

        Only the top few are wanted, but a common word can give most of a big base a score: so look
        first among the entries scoring over half the best (enough of them hold the top few), and
        widen only if too few do. Selecting among all 100k is many times slower (numpy's
        partition is slow with the many ties small integer-like scores make). A query usually
        scores a few entries only: those are ordered in Python, cheaper than numpy on a handful."""
        count = max(self.weights.refine, limit)
        if np.count_nonzero(scores) <= SMALL:
            scored = np.flatnonzero(scores).tolist()
            found = scores[scored].tolist()
            best = max(found, default=0.0)
            ranked = [(n, s) for n, s in zip(scored, found, strict=True) if s > best * 0.5]
            if len(ranked) < count:
                ranked = list(zip(scored, found, strict=True))
            ranked.sort(key=lambda pair: pair[1], reverse=True)
            return [n for n, _ in ranked[:count]], [s for _, s in ranked[:count]]
        best = scores.max()
        for share in (0.5, 0.0):
            candidates = np.flatnonzero(scores > best * share)
            if len(candidates) >= count:
                break
        count = min(count, len(candidates))
        top = candidates[np.argpartition(-scores[candidates], count - 1)[:count]]
        top = top[np.argsort(-scores[top], kind="stable")]
        return top.tolist(), scores[top].tolist()

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

    def _refine(self, query: Query, numbers: list[int], lexical: list[float], limit: int) -> list[Refined]:
        """Those of `numbers` (best lexical first) that can be among the `limit` best, scored: the
        lexical score scaled by how much of the closest question the query covers, or the best
        string ratio if that is at least `fuzzy_floor`.

        This runs for every message. The candidates' questions are compared in one rapidfuzz call;
        an entry whose best possible score (its lexical score, or its ratio) cannot beat the `limit`
        best so far is not scored: it would sort after them, since ties keep the lexical order."""
        if not numbers:
            return []
        texts = [text for n in numbers for text in self._question_texts[n]]
        ratios = (process.cdist([query.text], texts, scorer=fuzz.ratio, dtype=np.float64)[0] / 100).tolist()
        weights = [(term, self._idf[term]) for term in query.terms if term in self._idf]
        w, floor = self.weights.question_cover, self.weights.fuzzy_floor
        refined: list[Refined] = []
        start = 0
        for n, score in zip(numbers, lexical, strict=True):
            totals = self._question_weights[n]
            own = ratios[start : start + len(totals)]
            start += len(totals)
            ratio = max(own)
            ratio = ratio if ratio >= floor else 0.0
            if len(refined) >= limit and _rounded(max(score, ratio)) <= sorted(r[0] for r in refined)[-limit]:
                continue
            covered: dict[int, float] = {}  # the query's weight in each question it shares a term with
            questions_with = self._questions_with[n]
            for term, weight in weights:
                for i in questions_with.get(term, ()):
                    covered[i] = covered.get(i, 0.0) + weight
            # The question covered most, then closest as a string, then first. Rounded, so questions
            # the query covers alike tie whatever order the weights were added in.
            covers = {i: round(weight / totals[i], 9) for i, weight in covered.items()}
            closest = max(covers or range(len(totals)), key=lambda i: (covers.get(i, 0.0), own[i], -i))
            cover = covers.get(closest, 0.0)
            refined.append((_rounded(max(score * (1 - w + w * cover), ratio)), n, closest))
        return refined

    def _scored(self, query: Query, score: float, number: int, closest: int) -> Scored:
        """A refined entry as the matcher reads it: which question and words matched."""
        entry = self.entries[number]
        matched = query.terms & self._known[number]
        return Scored(entry, score, entry.questions[closest], tuple(sorted(matched)))

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


def _questions_with(questions: list[Query]) -> dict[str, tuple[int, ...]]:
    """Each term of an entry's questions, with the numbers of the questions that have it."""
    found: dict[str, list[int]] = {}
    for i, question in enumerate(questions):
        for term in question.terms:
            found.setdefault(term, []).append(i)
    return {term: tuple(numbers) for term, numbers in found.items()}


def _rounded(score: float) -> float:
    return round(min(score, 1.0), 4)
