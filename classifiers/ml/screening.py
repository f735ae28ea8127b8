"""The default screen of student comments: an offensive-language model plus a short list of patterns.

Django-free, so bench/ and tests use it directly. Three parts:
- `ProfanityScorer`: the model alt-profanity-check ships (TF-IDF + linear SVMs with sigmoid calibration),
  evaluated from its weights. Same probability as `profanity_check.predict_prob` (a test compares them),
  in tens of microseconds instead of ~3 ms a call: on one short text scikit-learn's input checks cost far
  more than the arithmetic, and a survey submission screens its comments inside the request. Its weights
  are kept as plain arrays (`use_arrays_from`), so the web process never imports scikit-learn.
- `RULES`: patterns for what a general offensive-language model does not see: remarks about a person's
  appearance or identity, threats, and phrases of a student who may be at risk (distress → `urgent`).
  Deliberately few and specific (each one a whole phrase, not a word), listed in the README; they hold a
  comment for a person to read, they never delete anything.
- `screen_text(text, ...)`: the verdict (clear, held or urgent), its reasons and its score.
"""

from __future__ import annotations

import fcntl
import logging
import math
import os
import re
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

# The reasons a comment is held, in the order screeners see them. `distress` makes a verdict `urgent`.
OFFENSIVE, PERSONAL, THREAT, DISTRESS = "offensive", "personal_remark", "threat", "distress"
REASONS = (OFFENSIVE, PERSONAL, THREAT, DISTRESS)
# The screening schema's label for "fine to show": a released comment's training label.
ACCEPTABLE = "acceptable"

CLEAR, HELD, URGENT = "clear", "held", "urgent"

# Bumped whenever a pattern changes: a verdict records the rules' version that made it.
RULES_VERSION = 1
# Probability of the offensive-language model at or above which a comment is held (per institution:
# ScreeningPolicy). 0.9 holds under 1 % of ordinary course feedback (bench/screening.py) while catching
# most insults; lower it to hold more.
DEFAULT_HOLD_THRESHOLD = 0.9

_PERSON = (r"(?:he|she|they|him|her|his|their|you|your|the (?:lecturer|professor|prof|teacher|instructor|tutor|"
           r"ta|lady|guy|man|woman)|(?:mr|mrs|ms|miss|dr)\.? [a-z]+)")
# "pretty" only as an adjective that ends the phrase ("she is pretty helpful" is not about looks).
_APPEARANCE = (r"(?:ugly|fat|obese|hideous|sexy|hot(?![- ](?:tempered|headed))|attractive|cute|beautiful|handsome|"
               r"smelly|bald|skinny|overweight|gorgeous|pretty(?= *(?:[.!,;]|$|and\b|but\b)))")
# Not "face": "a smile on his face", "in your face" are about manner.
_BODY = r"(?:body|weight|looks|figure|legs|boobs|breasts|butt|ass|outfits?|clothes|make-?up|hair|skin)"
_GROUP = (r"(?:women|woman|girls?|females?|gays?|lesbians?|trans|muslims?|jews?|immigrants?|foreigners?|"
          r"blacks?|old (?:men|women|people))")

# (reason, pattern), in lower case: matched against the lower-cased redacted text.
RULES: tuple[tuple[str, str], ...] = (
    # Appearance of a person: "she is so hot", "you're ugly", "the lecturer looks fat".
    (PERSONAL, rf"\b(?:he|she|you|the (?:lecturer|professor|prof|teacher|instructor|tutor))(?:'s|'re| is| are| was|"
               rf" were| looks?| looked)(?: so| really| very| kind of| pretty| quite)? {_APPEARANCE}\b"),
    # Remarks on a person's body or clothes: "her outfits", "his weight".
    (PERSONAL, rf"\b(?:his|her|your) {_BODY}\b(?! (?:of|in) (?:the|this) (?:course|module|class|lecture|slides?))"),
    # Identity used against a teacher: "women shouldn't teach", "go back to your country".
    (PERSONAL, rf"\b{_GROUP} (?:should(?:n't| not)|can(?:'t|not)|don't|do not) (?:teach|lecture|be (?:teaching|"
               rf"lecturers?|professors?))\b"),
    (PERSONAL, r"\bgo back to (?:your|his|her|their) (?:own )?country\b"),
    (PERSONAL, r"\btoo old to (?:teach|lecture)\b"),
    (PERSONAL, r"\b(?:because|cause|cuz|since) (?:she|he)(?:'s| is) (?:a )?(?:woman|girl|female|gay|black|"
               r"foreign(?:er)?|muslim|jewish|immigrant)\b"),
    # Threats against a person or the place.
    (THREAT, rf"\b(?:i|we)(?:'ll| will| am going to|'m going to| are going to|'re going to| wanna| want to) "
             rf"(?:kill|hurt|shoot|stab|beat up|punch|attack|find) {_PERSON}\b"),
    (THREAT, rf"\b{_PERSON} (?:should|deserves? to|needs? to|ought to) (?:be )?(?:shot|killed|stabbed|beaten up|"
             rf"hanged|hung|die|dead)\b"),
    (THREAT, r"\bwatch (?:your|his|her) back\b"),
    (THREAT, r"\b(?:bomb|shoot up) (?:the |this )?(?:class|campus|school|university|lecture hall|building)\b"),
    # A student who may be at risk: sent to student support at once (urgent), and held.
    (DISTRESS, r"\b(?:kill|killing|hurt|hurting|harm|harming|cut|cutting) myself\b"),
    (DISTRESS, r"\b(?:suicidal|(?:commit|committing|considering|thinking (?:about|of)|thoughts? of) suicide)\b"),
    (DISTRESS, r"\bself[- ]harm(?:ing)?\b"),
    (DISTRESS, r"\b(?:i|i'm|i am)\b[^.!?\n]{0,30}\b(?:want to die|wanna die|don't want to (?:live|be alive|exist)|"
               r"can't go on|cannot go on|end (?:it all|my life)|take my (?:own )?life|better off dead)\b"),
    (DISTRESS, r"\b(?:no|lost all|lost my) (?:reason|will) to live\b"),
    (DISTRESS, r"\b(?:i am|i'm|i feel|feeling) (?:so |really |completely |totally )?(?:hopeless|worthless) and\b"),
)
# One regex per reason over lower-cased text: a quarter of the time of 16 case-insensitive searches.
_BY_REASON: dict[str, re.Pattern[str]] = {
    reason: re.compile("|".join(f"(?:{p})" for r, p in RULES if r == reason))
    for reason in REASONS if any(r == reason for r, _ in RULES)
}


def rule_reasons(text: str) -> list[str]:
    """The reasons whose patterns occur in `text`, in REASONS order."""
    text = text.lower()
    return [reason for reason, pattern in _BY_REASON.items() if pattern.search(text)]


# The shipped vectorizer's analyzer (word unigrams of the lower-cased text; its stop words are not in the
# vocabulary, so dropping every unknown token drops them too). `ProfanityScorer.from_fitted` checks that the
# fitted vectorizer is exactly this before using it.
PROFANITY_TOKENS = re.compile(r"(?u)\b\w\w+\b")
_VECTORIZER_PARAMS = {"input": "content", "analyzer": "word", "preprocessor": None, "tokenizer": None,
                      "lowercase": True, "strip_accents": None, "token_pattern": PROFANITY_TOKENS.pattern,
                      "ngram_range": (1, 1), "binary": False, "norm": "l2", "use_idf": True, "sublinear_tf": False}


class ProfanityScorer:
    """alt-profanity-check's model as plain arithmetic: tf-idf (l2) → 5 linear SVMs → sigmoid → mean.

    Built from the fitted objects the package ships (`from_fitted`, needs scikit-learn to unpickle them), or
    from those numbers saved as plain arrays (`save`/`load`: numpy only, what a web process uses, see
    `use_arrays_from`); `score` equals `predict_prob([text])[0]` either way.
    """

    def __init__(self, vocabulary: dict[str, int], idf: np.ndarray, weights: np.ndarray, intercepts: np.ndarray,
                 slopes: np.ndarray, offsets: np.ndarray) -> None:
        self.vocabulary = vocabulary
        self.idf, self.weights = idf, weights  # weights: (models, vocabulary)
        self.intercepts, self.slopes, self.offsets = intercepts, slopes, offsets

    @classmethod
    def from_fitted(cls, vectorizer: object, model: object) -> ProfanityScorer:
        params = vectorizer.get_params()
        differ = {k: params.get(k) for k, v in _VECTORIZER_PARAMS.items() if params.get(k) != v}
        if differ:
            raise ValueError(f"the shipped vectorizer is not the one this scorer reproduces: {differ}")
        fitted = model.calibrated_classifiers_
        if any(c.method != "sigmoid" or len(c.calibrators) != 1 for c in fitted):
            raise ValueError("expected a binary CalibratedClassifierCV with sigmoid calibration")
        return cls(
            dict(vectorizer.vocabulary_), np.asarray(vectorizer.idf_, dtype=np.float64),
            np.stack([np.ravel(c.estimator.coef_) for c in fitted]),
            np.array([float(np.ravel(c.estimator.intercept_)[0]) for c in fitted]),
            np.array([float(c.calibrators[0].a_) for c in fitted]),
            np.array([float(c.calibrators[0].b_) for c in fitted]),
        )

    def save(self, path: Path) -> None:
        """The numbers as a plain .npz (no pickles), written whole or not at all (several processes may race)."""
        words = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        if [self.vocabulary[w] for w in words] != list(range(len(words))):
            raise ValueError("the vocabulary's columns are not 0..n-1")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as out:
            np.savez(out, words=np.array(words), idf=self.idf, weights=self.weights, intercepts=self.intercepts,
                     slopes=self.slopes, offsets=self.offsets)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> ProfanityScorer:
        with np.load(path, allow_pickle=False) as arrays:
            vocabulary = {word: i for i, word in enumerate(arrays["words"].tolist())}
            return cls(vocabulary, *(arrays[k] for k in ("idf", "weights", "intercepts", "slopes", "offsets")))

    def score(self, text: str) -> float:
        """Probability that `text` is offensive (0-1)."""
        tokens = PROFANITY_TOKENS.findall(text.lower())
        counts = Counter(j for j in map(self.vocabulary.get, tokens) if j is not None)
        decision = self.intercepts
        if counts:
            columns = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            tfidf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts)) * self.idf[columns]
            decision = decision + self.weights[:, columns] @ (tfidf / math.sqrt(float(tfidf @ tfidf)))
        return float(np.mean(1.0 / (1.0 + np.exp(self.slopes * decision + self.offsets))))


def shipped_scorer() -> ProfanityScorer:
    """From the package's own files (imports scikit-learn to unpickle them, ~0.3 s and ~100 MB)."""
    from profanity_check import profanity_check as shipped  # loads its two joblib files on import

    return ProfanityScorer.from_fitted(shipped.vectorizer, shipped.model)


_arrays_dir: list[Path] = []
_scorer: list[ProfanityScorer] = []
_scorer_lock = threading.Lock()


def use_arrays_from(directory: Path | None) -> None:
    """Keep the scorer's numbers as plain arrays in `directory` (the web process: its model cache), so a process
    that screens never imports scikit-learn: a missing file is written once per machine and package version by
    a short subprocess (`python -m classifiers.ml.screening PATH`). None: load the shipped model in process."""
    with _scorer_lock:
        _arrays_dir[:] = [Path(directory)] if directory is not None else []
        _scorer.clear()


def arrays_path(directory: Path) -> Path:
    """The arrays of the installed package's model (a new version of the package gets a new file)."""
    return Path(directory) / (profanity_model_version().replace(" ", "-") + ".npz")


def profanity_scorer() -> ProfanityScorer:
    """The shipped model, loaded once per process (on first use; the threads of a process wait for one load)."""
    if not _scorer:
        with _scorer_lock:
            if not _scorer:
                _scorer.append(_load_scorer())
    return _scorer[0]


def _load_scorer() -> ProfanityScorer:
    if not _arrays_dir:
        return shipped_scorer()
    path = arrays_path(_arrays_dir[0])
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # One writer per machine: the web workers that start together wait for the first one's file.
        with (path.parent / f".{path.name}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not path.exists():
                root = Path(__file__).resolve().parents[2]  # the directory holding the classifiers package
                try:
                    subprocess.run([sys.executable, "-m", "classifiers.ml.screening", str(path)], cwd=root,
                                   check=True, capture_output=True, timeout=300)
                except (OSError, subprocess.SubprocessError) as exc:  # e.g. a read-only cache: screen all the same
                    stderr = getattr(exc, "stderr", b"") or b""
                    logger.warning("could not write %s (%s %s); loading the shipped model in process", path, exc,
                                   stderr.decode(errors="replace")[-500:])
                    return shipped_scorer()
    return ProfanityScorer.load(path)


def profanity_model_version() -> str:
    from importlib.metadata import version

    return f"alt-profanity-check {version('alt-profanity-check')}"


@dataclass(frozen=True)
class Screening:
    """A screen's verdict on one text: clear, held or urgent, why, and the highest score behind it."""

    verdict: str
    reasons: tuple[str, ...]
    score: float | None


def verdict_of(reasons: list[str] | tuple[str, ...], score: float | None) -> Screening:
    ordered = tuple(r for r in REASONS if r in set(reasons))
    verdict = URGENT if DISTRESS in ordered else HELD if ordered else CLEAR
    return Screening(verdict, ordered, score)


def screen_text(text: str, *, hold_threshold: float = DEFAULT_HOLD_THRESHOLD, use_model: bool = True) -> Screening:
    """The default screen: patterns always; the offensive-language model unless `use_model` is False (a trained
    screen then decides on offensiveness). `score` is the model's probability (None without the model)."""
    reasons = rule_reasons(text)
    score = profanity_scorer().score(text) if use_model else None
    if score is not None and score >= hold_threshold:
        reasons.append(OFFENSIVE)
    return verdict_of(reasons, score)


def trained_verdict(scores: dict[str, float], *, threshold: float, rules: list[str]) -> Screening:
    """A trained multi-label screen's verdict from its label probabilities, the patterns' reasons added:
    a pattern is never overruled (a threat or a student at risk is not left to a model's calibration)."""
    reasons = [r for r in REASONS if scores.get(r, 0.0) >= threshold] + list(rules)
    harm = [scores.get(r, 0.0) for r in REASONS]
    return verdict_of(reasons, max(harm) if harm else None)


if __name__ == "__main__":  # python -m classifiers.ml.screening PATH: the arrays of `use_arrays_from`
    shipped_scorer().save(Path(sys.argv[1]))
