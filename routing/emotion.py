"""Read how a customer feels and whether they threaten to escalate, with the evidence for it.

A lexicon-and-rules reader: word lists (`routing/lexicon/emotion.yaml`, extended by ops),
rhetorical patterns, punctuation runs, emoji and repetition add up to scores; the scores give a
label (calm, anxious, aggrieved, angry), an intensity and a risk (none, complaint, threat,
safety). Naming an authority, the press or a court is a threat; a review, a complaint or social
media is one when the customer says they will act. Asking about a word ("12315是干嘛的") and
ordinary words that contain a trigger (工商银行, 烟雾报警器) are not.

    >>> reader.read("再不退款我就去12315投诉！！！").risk
    'threat'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from faq.normalise import fold
from routing.lexicon import EmotionLexicon

Label = Literal["calm", "anxious", "aggrieved", "angry"]
Risk = Literal["none", "complaint", "threat", "safety"]

_EXCLAIMS = re.compile(r"[!！]{2,}")
_QUESTIONS = re.compile(r"[?？]{2,}")
_REPEATED = re.compile(r"(.)\1{2,}")
_SHOUTING = re.compile(r"\b[A-Z]{4,}\b")  # looked for in the text before folding
_ONLY_MARKS = re.compile(r"^[\s?？!！.。…]+$")
RISK_INTENSITY = 0.8  # a threat or a danger is intense however calmly it is put


@dataclass(frozen=True, slots=True)
class Evidence:
    kind: str  # which rule or word list
    text: str  # the words that triggered it


RISK_EVIDENCE = ("strong_threat", "weak_threat", "threat_pattern", "safety")  # named in a risk handoff's reason


@dataclass(frozen=True)
class Reading:
    label: Label
    intensity: float  # 0..1
    risk: Risk
    evidence: tuple[Evidence, ...]
    trend: float = 0.0  # > 0: more upset than in the previous turns

    @property
    def escalated(self) -> bool:
        return self.label in ("angry", "aggrieved") or self.risk in ("threat", "safety")

    def as_dict(self) -> dict:
        """dataclasses.asdict's result, built directly: asdict deep-copies every value, and each
        message's reading is stored."""
        evidence = tuple({"kind": e.kind, "text": e.text} for e in self.evidence)
        return {
            "label": self.label,
            "intensity": self.intensity,
            "risk": self.risk,
            "evidence": evidence,
            "trend": self.trend,
        }


@dataclass(frozen=True)
class Weights:
    angry_word: float = 1.0
    sarcasm: float = 1.0
    soft_sarcasm: float = 0.5
    angry_pattern: float = 1.0
    frustration: float = 0.6
    anxious_word: float = 0.6
    aggrieved_word: float = 0.8
    angry_emoji: float = 1.0
    anxious_emoji: float = 0.8
    shouting: float = 0.6
    exclaims: float = 0.6
    questions: float = 0.6
    many_questions: float = 0.8  # ？？？ and more
    threshold: float = 1.0  # angry or aggrieved at this score
    anxious_threshold: float = 0.6


class EmotionReader:
    def __init__(self, lexicon: EmotionLexicon, weights: Weights = Weights()) -> None:
        self.lexicon = lexicon
        self.weights = weights
        self._lists = {name: _WordList(words) for name, words in lexicon.words.items()}

    def _found(self, text: str, name: str) -> list[str]:
        word_list = self._lists.get(name)
        return word_list.found(text) if word_list else []

    def read(self, text: str, *, history: Sequence[Reading] = ()) -> Reading:
        """Read one message; `history` (earlier readings, oldest first) gives the trend."""
        folded = fold(text)
        work = folded
        if self._found(folded, "innocent"):
            for phrase in self.lexicon["innocent"]:
                work = work.replace(phrase, " ")
        evidence: list[Evidence] = []
        risk = self._risk(work, evidence)
        angry, aggrieved, anxious = self._scores(text, folded, work, evidence)
        label, score = self._label(angry, aggrieved, anxious)
        if risk in ("threat", "complaint") and label == "calm":
            label, score = "angry", max(score, self.weights.threshold)
        trend = _trend(score, history)
        intensity = min(1.0, score / 3 + max(trend, 0) * 0.2)
        if risk in ("threat", "safety"):
            intensity = max(intensity, RISK_INTENSITY)
        return Reading(label, round(intensity, 2), risk, tuple(evidence), round(trend, 2))

    def _risk(self, work: str, evidence: list[Evidence]) -> Risk:
        found = {name: self._found(work, name) for name in ("strong_threat", "weak_threat", "action", "safety")}
        found["threat_pattern"] = _matches(work, self.lexicon.patterns.get("threat_patterns", ()))
        asking = self._found(work, "asking_about")
        for name, words in found.items():
            evidence += [Evidence(name, w) for w in words]
        acting = bool(found["action"])
        if (found["strong_threat"] or found["threat_pattern"]) and (acting or not asking):
            return "threat"
        if found["weak_threat"] and (acting and not asking or len(found["weak_threat"]) >= 2):
            return "threat"
        if found["safety"]:
            return "safety"
        return "none"

    def _scores(self, text: str, folded: str, work: str, evidence: list[Evidence]) -> tuple[float, float, float]:
        w, lexicon = self.weights, self.lexicon
        angry_words = self._found(work, "angry")
        sarcasm = self._found(work, "sarcasm")
        soft_sarcasm = self._found(work, "soft_sarcasm")
        patterns = _matches(work, lexicon.patterns.get("angry_patterns", ()))
        frustration = _matches(work, lexicon.patterns.get("frustration_patterns", ()))
        aggrieved_words = self._found(work, "aggrieved")
        anxious_words = self._found(work, "anxious") + _matches(work, lexicon.patterns.get("anxious_patterns", ()))
        angry_emoji = [e for e in lexicon["angry_emoji"] if e in folded]
        anxious_emoji = [e for e in lexicon["anxious_emoji"] if e in folded]
        exclaims, questions = _EXCLAIMS.findall(folded), _QUESTIONS.findall(folded)
        shouting = _SHOUTING.findall(text)
        for kind, items in (
            ("angry", angry_words),
            ("sarcasm", sarcasm + soft_sarcasm),
            ("angry_pattern", patterns),
            ("frustration", frustration),
            ("aggrieved", aggrieved_words),
            ("anxious", anxious_words),
            ("angry_emoji", angry_emoji),
            ("anxious_emoji", anxious_emoji),
            ("punctuation", exclaims + questions),
            ("shouting", shouting),
            ("repetition", _REPEATED.findall(work)),
        ):
            evidence += [Evidence(kind, item) for item in items]
        marks_only = bool(_ONLY_MARKS.match(folded)) and bool(questions)
        many_questions = any(len(q) >= 3 for q in questions)
        angry = (
            w.angry_word * len(angry_words)
            + w.sarcasm * len(sarcasm)
            + w.soft_sarcasm * len(soft_sarcasm)
            + w.angry_pattern * len(patterns)
            + w.frustration * bool(frustration)
            + w.angry_emoji * len(angry_emoji)
            + w.shouting * bool(shouting)
            + (w.threshold if marks_only else (w.many_questions if many_questions else w.questions * bool(questions)))
            + w.exclaims * bool(exclaims) * bool(angry_words or patterns or angry_emoji or frustration)
        )
        aggrieved = w.aggrieved_word * len(aggrieved_words)
        anxious = (
            w.anxious_word * len(anxious_words)
            + w.anxious_emoji * len(anxious_emoji)
            + w.exclaims * bool(exclaims) * (not (angry_words or patterns or angry_emoji or frustration))
        )
        return angry, aggrieved, anxious

    def _label(self, angry: float, aggrieved: float, anxious: float) -> tuple[Label, float]:
        w = self.weights
        if max(angry, aggrieved) >= w.threshold:
            return ("aggrieved", aggrieved) if aggrieved > angry else ("angry", angry)
        if angry + aggrieved >= w.threshold:
            return "angry", angry + aggrieved
        if anxious >= w.anxious_threshold:
            return "anxious", anxious
        return "calm", max(angry, aggrieved, anxious)


class _WordList:
    """One word list, with a single regular expression that tells at C speed whether any word is in a text.

    Most messages hold none of a list's words, so the word-by-word look runs only when one is there.
    """

    def __init__(self, words: Sequence[str]) -> None:
        self.words = tuple(w for w in words if w)
        self.screen = re.compile("|".join(map(re.escape, self.words)) or "(?!)")  # (?!): matches nothing

    def found(self, text: str) -> list[str]:
        """The words in `text`, leaving out those only found inside a longer one (介入 in 平台介入).

        A number word (12315, 12345) counts only as a whole number, never inside a phone or order number.
        """
        if not self.screen.search(text):
            return []
        hits = [word for word in self.words if _contains(text, word)]
        return [w for w in hits if not any(w != longer and w in longer for longer in hits)]


def _contains(text: str, word: str) -> bool:
    if not word.isdigit():
        return word in text
    return re.search(rf"(?<!\d){word}(?!\d)", text) is not None


def _matches(text: str, patterns: Sequence[re.Pattern]) -> list[str]:
    return [m.group(0) for p in patterns if (m := p.search(text))]


def _trend(score: float, history: Sequence[Reading]) -> float:
    """Positive when this turn is more upset than the average of the last three."""
    if not history:
        return 0.0
    recent = [r.intensity * 3 for r in history[-3:]]
    return (score - sum(recent) / len(recent)) / 3
