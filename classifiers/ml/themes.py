"""Themes from sentence embeddings: clustering, class-based TF-IDF keywords, names, and matching a new set
of themes to the previous one; Django-free (bench/themes.py and the tests use it directly).

Clustering (chosen against BERTopic and scikit-learn's HDBSCAN/agglomerative on the Nilanga aspect
categories, see bench/themes.py and the README):
1. k-means micro-clusters of the unit vectors, `micro_sqrt` × √n of them (at most `max_micro`): a small course
   gets finer micro-clusters, so finer themes (598 demo comments: 49, not 11 at one per 50 comments), while a
   large one keeps the 200 cap (fit on a fixed-seed sample of at most `sample_max` comments, so 100,000
   comments cost what 20,000 do; every comment is then assigned in one matrix product);
2. the micro-clusters' centroids are merged by average linkage on cosine distance up to `merge_distance`:
   themes are as many as the comments ask for, not a number fixed in advance;
3. each comment then takes the theme most of its nearest neighbours have (`neighbours`, at most as many as a
   theme of the minimum size has comments in the sample, two rounds): themes follow where the comments lie
   rather than the straight borders between k-means centres, which cut through a topic where two centres meet;
4. comments that fit no theme are "other", never forced into one: those whose similarity to their theme's
   centre is below `other_below`, and those of themes smaller than `min_size` that fit no other theme either
   (a comment of a dissolved small theme joins the theme it is most similar to when it fits it).
Steps 3 and 4, with a merge distance of 0.35 (was 0.45; the better of the two on both sets), raised NMI/ARI
on the Nilanga aspect categories (bench/themes.py) from 0.189/0.121 to 0.237/0.192 (BERTopic's default
settings on the same vectors: 0.222/0.171, mean of 8 UMAP seeds) and on the demo's written topics from
0.49/0.38 to 0.56/0.42.
Tried and not adopted (bench/themes.py, README): merging the micro-clusters by modularity of the comments'
k-nearest-neighbour graph (Louvain or greedy, 10-30 neighbours, plain or shared-neighbour weights): it split
the large lecturer group (ARI 0.07-0.14). Merging themes whose class-based TF-IDF keywords are alike
(BERTopic's topic reduction): ARI 0.28 but two themes held 87 % of the Nilanga comments, which tells an
instructor nothing. Centring the vectors, TF-IDF features beside the embeddings, a consensus of k-means seeds,
a wider "other": no better than the seed-to-seed spread.
Deterministic: the same vectors in the same order give the same themes (fixed seeds), which is what lets a
recomputation over unchanged data keep every theme.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

OTHER = -1
PLACEHOLDER = re.compile(r"\[[A-Z][A-Z_]*\]")  # courses.redaction's typed placeholders: [EMAIL], [STUDENT_ID] …
# Words of two or more letters (no digits, no underscores): course codes, scores and ids make poor names.
TOKEN_PATTERN = r"(?u)\b[^\W\d_][^\W\d_]+\b"  # noqa: S105 - a regex, not a secret
INIT_PER_CENTRE = 20  # k-means++ seeds from at most this many sampled comments per micro-cluster
LLOYD_ITERATIONS = 30
PHRASE_OVER_WORD = 0.8  # a two-word phrase replaces its word in a name only when nearly as heavy
MIN_COVERAGE = 0.1  # keywords in at least this share of their theme's comments come first
HYSTERESIS = 0.15  # see `cluster`: how much the last grouping of micro-clusters weighs in a recomputation
STAYED_AT = 0.9  # a micro-centre this similar to where it was last time counts as the same micro-cluster
MIN_NEIGHBOURS = 3  # fewer neighbours make no majority worth following: no vote


@dataclass(frozen=True)
class ThemeParams:
    micro_sqrt: float = 2.0  # micro-clusters (before the merge) per square root of the sampled comments
    max_micro: int = 200  # at most this many micro-clusters, whatever the size of the course
    sample_max: int = 20_000  # k-means is fitted on at most this many comments
    merge_distance: float = 0.35  # average-linkage cosine distance up to which micro-clusters merge
    neighbours: int = 15  # each comment then takes the theme most of its nearest neighbours have (0: no vote),
    # at most as many as a theme of the minimum size has comments in the k-means sample, so it keeps them
    vote_rounds: int = 2
    min_size: int = 10  # smaller themes are "other" (capped for small courses, see `effective_min_size`)
    other_below: float = 0.25  # a comment less similar than this to its theme's centre is "other"
    seed: int = 0

    def effective_min_size(self, n: int) -> int:
        """Small courses: a theme needs 1/20 of the comments, at least 3 and at most `min_size`."""
        return max(3, min(self.min_size, n // 20))


@dataclass
class Clustering:
    labels: np.ndarray  # (n,) theme index, or OTHER
    centroids: np.ndarray  # (k, dim) unit vectors, one per theme
    similarity: np.ndarray  # (n,) cosine similarity of each comment to its theme's centre (0 for other)
    sizes: list[int] = field(default_factory=list)
    micro_centroids: np.ndarray | None = None  # the k-means centres: the next recomputation starts from them
    micro_themes: np.ndarray | None = None  # theme index (or OTHER) of each micro-cluster


def _micro_clusters(vectors: np.ndarray, params: ThemeParams,
                    previous: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(micro labels of every row, micro centroids, the sample's row indexes): k-means on a sample, every row
    assigned to its nearest centre.

    k-means++ seeds from at most INIT_PER_CENTRE rows per centre and Lloyd runs at most LLOYD_ITERATIONS
    passes: on 20,000 × 200 centres scikit-learn's defaults took half a minute on 2 cores, this a few seconds
    (the micro-clusters are merged next, so their last decimal does not matter)."""
    from sklearn.cluster import KMeans, kmeans_plusplus
    from sklearn.exceptions import ConvergenceWarning

    n = len(vectors)
    rng = np.random.default_rng(params.seed)
    sample = np.sort(rng.choice(n, params.sample_max, replace=False)) if n > params.sample_max else np.arange(n)
    k = int(min(len(sample), max(8, min(params.max_micro, round(params.micro_sqrt * np.sqrt(len(sample)))))))
    seeds = sample if len(sample) <= INIT_PER_CENTRE * k else np.sort(
        rng.choice(sample, INIT_PER_CENTRE * k, replace=False))
    if previous is not None and previous.ndim == 2 and previous.shape[1] == vectors.shape[1] and len(previous):
        # A recomputation starts from the last run's centres, so unchanged topics land where they were.
        init = _extend(previous[:k].astype(np.float64), vectors[seeds].astype(np.float64), k)
    else:
        # float64 for k-means++: it upcasts float32 distances chunk by chunk, ten times slower.
        init, _ = kmeans_plusplus(vectors[seeds].astype(np.float64), k, random_state=params.seed)
    with warnings.catch_warnings():  # identical comments ("none", "good") make fewer distinct centres: fine
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = KMeans(n_clusters=k, init=init.astype(np.float32), n_init=1, max_iter=LLOYD_ITERATIONS,
                       random_state=params.seed).fit(vectors[sample])
    centres = _unit(model.cluster_centers_.astype(np.float32))
    return _nearest(vectors, centres), centres, sample


def _extend(centres: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """`centres` plus, up to k, the rows least similar to any centre so far (farthest first, deterministic)."""
    centres = list(centres)
    best = (rows @ np.asarray(centres).T).max(axis=1)
    while len(centres) < k:
        far = int(best.argmin())
        centres.append(rows[far])
        best = np.maximum(best, rows @ rows[far])
    return np.asarray(centres)


def _nearest(vectors: np.ndarray, centres: np.ndarray, block: int = 8192) -> np.ndarray:
    """Index of the most similar centre per row, in blocks (100,000 × 200 floats at once is fine; more is not)."""
    out = np.empty(len(vectors), dtype=np.int64)
    for start in range(0, len(vectors), block):
        out[start:start + block] = (vectors[start:start + block] @ centres.T).argmax(axis=1)
    return out


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32)


def cluster(vectors: np.ndarray, params: ThemeParams | None = None, *, previous: np.ndarray | None = None,
            previous_themes: np.ndarray | None = None) -> Clustering:
    """Themes of `vectors` (unit rows, float32), numbered by size, largest first.

    `previous`, `previous_themes`: the last run's micro-cluster centres and the theme of each (any ids; OTHER
    for none). k-means starts from those centres, and the merge keeps to the last grouping unless the data
    clearly says otherwise (hysteresis): centres that stayed put and shared a theme are HYSTERESIS closer,
    those of two different themes that much farther apart. So a recomputation over a little more data gives
    the same themes, not a reshuffle at the merge threshold."""
    from scipy.cluster.hierarchy import fcluster, linkage

    params = params or ThemeParams()
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(vectors)
    if n == 0:
        return Clustering(np.zeros(0, dtype=np.int64), np.zeros((0, vectors.shape[1] if vectors.ndim == 2 else 0)),
                          np.zeros(0, dtype=np.float32))
    micro, centres, sample = _micro_clusters(vectors, params, previous)
    if len(centres) > 1:
        distances = _merge_distances(centres, previous, previous_themes)
        merged = fcluster(linkage(distances, "average"), params.merge_distance, "distance") - 1
    else:
        merged = np.zeros(1, dtype=np.int64)
    labels = merged[micro].astype(np.int64)
    # A theme of the minimum size must be able to keep its comments: no more neighbours than it has in the sample.
    neighbours = min(params.neighbours, params.effective_min_size(n) * len(sample) // n)
    if neighbours >= MIN_NEIGHBOURS and len(sample) > neighbours:
        labels = _neighbour_vote(vectors, labels, micro, sample, neighbours, params.vote_rounds)
    labels, centroids = _with_other(vectors, labels, params.other_below, params.effective_min_size(n))
    similarity = (np.where(labels >= 0, (vectors * centroids[np.maximum(labels, 0)]).sum(axis=1), 0.0)
                  if len(centroids) else np.zeros(n))
    sizes = np.bincount(labels[labels >= 0], minlength=len(centroids)).tolist()
    micro_themes = _micro_themes(micro, labels, len(centres))
    return Clustering(labels, centroids, similarity.astype(np.float32), sizes, centres, micro_themes)


def _neighbour_vote(vectors: np.ndarray, labels: np.ndarray, micro: np.ndarray, sample: np.ndarray,
                    neighbours: int, rounds: int) -> np.ndarray:
    """Each comment takes the theme most of its `neighbours` nearest comments have (its own breaks a tie),
    `rounds` times: themes follow where the comments lie, not the straight borders between k-means centres.
    Neighbours are looked for in the k-means sample; a comment outside it then takes the theme of the nearest
    centre of the sample's (micro-cluster, theme) groups, so 100,000 comments cost what 20,000 do."""
    rows = vectors[sample]
    nearest = _nearest_neighbours(rows, neighbours)
    voted = labels[sample]
    k = int(labels.max()) + 1
    for _ in range(rounds):
        votes = np.bincount((np.arange(len(rows))[:, None] * k + voted[nearest]).ravel(),
                            minlength=len(rows) * k).reshape(len(rows), k).astype(np.float32)
        votes[np.arange(len(rows)), voted] += 0.5
        voted = votes.argmax(axis=1)
    if len(sample) == len(vectors):
        return voted.astype(np.int64)
    groups, group_of = np.unique(micro[sample] * k + voted, return_inverse=True)
    out = np.empty(len(vectors), dtype=np.int64)
    rest = np.setdiff1d(np.arange(len(vectors)), sample, assume_unique=True)
    out[sample] = voted
    out[rest] = (groups % k)[_nearest(vectors[rest], _centroids(rows, group_of.astype(np.int64)))]
    return out


def _nearest_neighbours(rows: np.ndarray, k: int, block: int = 4096) -> np.ndarray:
    """(n, k) indexes of each row's k most similar other rows (cosine: the rows are unit vectors), in blocks.
    torch's top-k, which the inference workers have: numpy's argpartition took 9 times as long."""
    import torch

    out = np.empty((len(rows), k), dtype=np.int64)
    every = torch.from_numpy(np.ascontiguousarray(rows, dtype=np.float32))
    for start in range(0, len(rows), block):
        part = every[start:start + block] @ every.T
        part[torch.arange(len(part)), torch.arange(start, start + len(part))] = -2.0  # never its own neighbour
        out[start:start + block] = part.topk(k, dim=1).indices.numpy()
    return out


def _merge_distances(centres: np.ndarray, previous: np.ndarray | None,
                     previous_themes: np.ndarray | None) -> np.ndarray:
    """Condensed cosine distances between micro-centres, with the hysteresis of `cluster`."""
    from scipy.spatial.distance import pdist, squareform

    distances = squareform(pdist(centres.astype(np.float64), "cosine"), checks=False)
    if previous is None or previous_themes is None or len(previous_themes) != len(previous):
        return squareform(distances, checks=False)
    m = min(len(previous), len(centres))
    stayed = (centres[:m] * previous[:m]).sum(axis=1) >= STAYED_AT
    themes = np.asarray(previous_themes[:m])
    known = stayed & (themes >= 0)
    same = known[:, None] & known[None, :] & (themes[:, None] == themes[None, :])
    apart = known[:, None] & known[None, :] & (themes[:, None] != themes[None, :])
    block = distances[:m, :m]
    block[same] *= 1 - HYSTERESIS
    block[apart] *= 1 + HYSTERESIS
    np.fill_diagonal(distances, 0)
    return squareform(distances, checks=False)


def _micro_themes(micro: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """The theme most of each micro-cluster's comments ended in (OTHER when most are other or it is empty)."""
    out = np.full(k, OTHER, dtype=np.int64)
    for m in range(k):
        mine = labels[micro == m]
        if len(mine):
            values, counts = np.unique(mine, return_counts=True)
            out[m] = int(values[counts.argmax()])
    return out


def _with_other(vectors: np.ndarray, labels: np.ndarray, other_below: float, min_size: int) -> tuple[np.ndarray,
                                                                                                   np.ndarray]:
    """Far comments and small themes become OTHER; themes renumbered by size (largest first); their centres."""
    for _ in range(2):  # centres move a little once far comments leave; a second pass settles them
        if not (labels >= 0).any():
            break
        centroids = _centroids(vectors, labels)
        ids = np.maximum(labels, 0)
        close = (vectors * centroids[ids]).sum(axis=1) >= other_below if len(centroids) else np.zeros(len(labels), bool)
        labels = np.where((labels >= 0) & close, labels, OTHER)
        sizes = np.bincount(labels[labels >= 0], minlength=len(centroids))
        labels = np.where((labels >= 0) & (sizes[np.maximum(labels, 0)] >= min_size), labels, OTHER)
    labels = _rehome(vectors, labels, other_below)
    kept = [t for t in np.argsort(-np.bincount(labels[labels >= 0], minlength=labels.max() + 1), kind="stable")
            if (labels == t).any()] if (labels >= 0).any() else []
    renumber = np.full(max(labels.max() + 1, 1), OTHER, dtype=np.int64)
    renumber[kept] = np.arange(len(kept))
    labels = np.where(labels >= 0, renumber[np.maximum(labels, 0)], OTHER)
    return labels, _centroids(vectors, labels)


def _rehome(vectors: np.ndarray, labels: np.ndarray, other_below: float, block: int = 8192) -> np.ndarray:
    """A comment left without a theme (its own was too small, or it lay far from its centre) joins the theme
    whose centre it is most similar to, when at least `other_below`: only a comment that fits no theme is
    "other". Themes only grow, so none falls below the minimum size again."""
    alone = np.flatnonzero(labels < 0)
    if not len(alone) or not (labels >= 0).any():
        return labels
    centroids = _centroids(vectors, labels)  # a theme with no comment left has a zero centre: never chosen
    labels = labels.copy()
    for start in range(0, len(alone), block):
        rows = alone[start:start + block]
        similarity = vectors[rows] @ centroids.T
        best = similarity.argmax(axis=1)
        fits = similarity[np.arange(len(rows)), best] >= other_below
        labels[rows[fits]] = best[fits]
    return labels


def _centroids(vectors: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Unit mean of each theme's rows: one sparse (themes × rows) product (np.add.at took seconds at 100,000)."""
    from scipy.sparse import csr_matrix

    k = int(labels.max()) + 1 if len(labels) and labels.max() >= 0 else 0
    rows = np.flatnonzero(labels >= 0)
    members = csr_matrix((np.ones(len(rows), dtype=np.float64), (labels[rows], rows)), shape=(k, len(vectors)))
    return _unit(np.asarray(members @ vectors.astype(np.float64)))


# --- Keywords and names -------------------------------------------------------------------------------


# A negation is one token with the next word that is no stop word ("did not match" → "not match", "not the
# best" → "not best"), so a keyword never drops it: "match" or "match lectures" alone would say the opposite.
# "n't" forms are spelled out first ("didn't" → "did not"); scikit-learn's English stop words hold negations.
NEGATIONS = frozenset({"not", "no", "never", "nor", "neither", "nothing", "none", "nobody", "noone", "nowhere",
                       "without"})
_NOT = re.compile(r"(?i)\b(?:(can)not|(ca|wo)n['’]t|(\w+)n['’]t)\b")
_TOKEN = re.compile(TOKEN_PATTERN)


def _spell_out(match: re.Match) -> str:
    stem = match.group(1) or {"ca": "can", "wo": "will"}.get((match.group(2) or "").lower()) or match.group(3)
    return f"{stem} not"


def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS - NEGATIONS)


def tokens(text: str, stop: frozenset[str] = frozenset()) -> list[str]:
    """Words of `text` (lower-cased by the caller), a negation joined to the next word not in `stop` (NEGATIONS)."""
    words = _TOKEN.findall(text)
    if NEGATIONS.isdisjoint(words):  # most texts: nothing to join
        return words
    out: list[str] = []
    negation = ""
    for word in words:
        if word in NEGATIONS:
            negation = negation or word
        elif negation and word in stop:
            continue
        elif negation:
            out.append(f"{negation} {word}")
            negation = ""
        else:
            out.append(word)
    return out


def clean_text(text: str) -> str:
    """Redacted text without its placeholders (a keyword is never "[EMAIL]" or its word "email"), negations
    spelled out."""
    text = PLACEHOLDER.sub(" ", text)
    if "'t" in text or "’t" in text or "annot" in text or "ANNOT" in text:  # most texts need no regex
        text = _NOT.sub(_spell_out, text)
    return text


def keywords(texts: Sequence[str], labels: np.ndarray, *, top: int = 8) -> list[list[str]]:
    """Class-based TF-IDF (Grootendorst 2022): the words and two-word phrases that set each theme apart from
    the others and from "other". English stop words removed but negations (`NEGATIONS`); placeholders never
    count."""
    from sklearn.feature_extraction.text import CountVectorizer

    k = int(labels.max()) + 1 if len(labels) and labels.max() >= 0 else 0
    if k == 0:
        return []
    stop = _stop_words()
    vectorizer = CountVectorizer(stop_words=sorted(stop), tokenizer=lambda text: tokens(text, stop),
                                 token_pattern=None, ngram_range=(1, 2),
                                 min_df=2 if len(texts) >= 50 else 1, max_features=100_000, lowercase=True)
    try:
        counts = vectorizer.fit_transform(clean_text(t) for t in texts)
    except ValueError:  # nothing but stop words and placeholders
        return [[] for _ in range(k)]
    terms = vectorizer.get_feature_names_out()
    classes = np.where(labels >= 0, labels, k)  # "other" is a class of its own: its words are no theme's
    from scipy.sparse import csr_matrix

    membership = csr_matrix((np.ones(len(classes)), (classes, np.arange(len(classes)))), shape=(k + 1, len(classes)))
    per_class = np.asarray((membership @ counts).todense(), dtype=np.float64)
    tf = per_class / np.maximum(per_class.sum(axis=1, keepdims=True), 1)
    average_words = per_class.sum() / (k + 1)
    weights = tf * np.log1p(average_words / np.maximum(per_class.sum(axis=0), 1))
    # A name should hold words most of its comments share ("lab", "sessions"), not a phrase or a rare word
    # that a few comments repeat: terms in fewer than MIN_COVERAGE of the theme's comments go last.
    counts.data[:] = 1
    share = np.asarray((membership @ counts).todense(), dtype=np.float64)
    share /= np.maximum(np.bincount(classes, minlength=k + 1), 1)[:, None]
    weights = np.where(share >= MIN_COVERAGE, weights, weights * 1e-3)
    return [_top_terms(weights[c], terms, top) for c in range(k)]


def _top_terms(weights: np.ndarray, terms: np.ndarray, top: int) -> list[str]:
    """The heaviest terms without repeats: a word inside a chosen phrase, or the plural of a chosen word, is
    skipped; a phrase nearly as heavy as a chosen word of it takes that word's place ("lecture" then
    "lecture series" → "lecture series"); a lighter one is skipped."""
    chosen: list[tuple[str, float]] = []
    for i in np.argsort(-weights, kind="stable"):
        if weights[i] <= 0 or len(chosen) >= top:
            break
        term, weight = str(terms[i]), float(weights[i])
        words = {_stem(w) for w in term.split()}
        if any(words <= {_stem(w) for w in c.split()} for c, _ in chosen):
            continue
        inside = [j for j, (c, _) in enumerate(chosen) if _stem(c) in words]
        if not inside:
            chosen.append((term, weight))
        elif weight >= PHRASE_OVER_WORD * chosen[inside[0]][1]:
            chosen[inside[0]] = (term, weight)
            chosen = [c for j, c in enumerate(chosen) if j not in inside[1:]]
    return [c for c, _ in chosen]


def _stem(word: str) -> str:
    """Plural folding only ("labs" = "lab", "classes" = "class", "exercises" = "exercise"): enough to keep a
    name from repeating itself. A final "e" goes too, so both readings of "-es" meet ("exercis")."""
    if len(word) > 4 and word.endswith("es") and word[-3] in "sxz":
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return word[:-1] if len(word) > 5 and word.endswith("e") else word


def theme_name(words: Sequence[str], *, parts: int = 3, max_chars: int = 60) -> str:
    """A short name from the top keywords, e.g. "exam, past papers, time"."""
    name = ""
    for word in words[:parts]:
        candidate = f"{name}, {word}" if name else word
        if len(candidate) > max_chars:
            break
        name = candidate
    return name or "unnamed theme"


# --- Stable ids: matching new themes to the previous ones ------------------------------------------------


@dataclass(frozen=True)
class Matching:
    kept: dict[int, int]  # new index → old index (same theme, keeps its id)
    merged: dict[int, int]  # old index → new index it went into (that new theme kept another old one's id)
    new: list[int]  # new indexes that match no old theme
    vanished: list[int]  # old indexes that match nothing
    similarity: dict[tuple[int, int], float] = field(default_factory=dict)  # (new, old) → cosine of kept pairs


def match_themes(old: np.ndarray, new: np.ndarray, *, keep_at: float = 0.8,
                 went_to: dict[int, np.ndarray] | None = None, merged_share: float = 0.5) -> Matching:
    """Hungarian assignment of new to old centres (cosine); pairs at or above `keep_at` keep the old id.

    An unmatched old theme whose former members (`went_to[old]`: their new theme indexes, OTHER for none)
    mostly (`merged_share`) went into one new theme that kept another id was merged into it; the other
    unmatched old themes vanished; unmatched new themes are new.
    """
    from scipy.optimize import linear_sum_assignment

    kept: dict[int, int] = {}
    similarity: dict[tuple[int, int], float] = {}
    if len(old) and len(new):
        sim = np.asarray(new, dtype=np.float64) @ np.asarray(old, dtype=np.float64).T
        rows, cols = linear_sum_assignment(-sim)
        kept = {int(r): int(c) for r, c in zip(rows, cols, strict=True) if sim[r, c] >= keep_at}
        similarity = {(r, o): round(float(sim[r, o]), 4) for r, o in kept.items()}
    taken, merged = set(kept.values()), {}
    for o in range(len(old)):
        labels = (went_to or {}).get(o)
        if o in taken or labels is None or not len(labels):
            continue
        counts = np.bincount(labels[labels >= 0], minlength=len(new)) if (labels >= 0).any() else np.zeros(1)
        best = int(counts.argmax())
        if best in kept and counts[best] >= merged_share * len(labels):
            merged[o] = best
    vanished = [o for o in range(len(old)) if o not in taken and o not in merged]
    return Matching(kept, merged, [r for r in range(len(new)) if r not in kept], vanished, similarity)
