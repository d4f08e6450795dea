"""Entity confidences that mean what they say: a monotone map fitted on held-out predictions.

An entity's raw confidence is the CRF's probability of its exact span and type (forward-
backward). A CRF trained to fit its training data is over-confident on new text: of the
entities it scores 0.8-0.9 on WNUT16 dev, about half are right. :func:`fit` learns a map
from raw confidence to the share of entities that are right, on predictions for sentences
the model did not train on (the training data's jackknife: :func:`crftag.training.train`).
Candidates are the identity, Platt scaling (a logistic curve on the raw logit) and isotonic
regression (a non-decreasing step-linear curve); the one with the lowest expected calibration
error (:func:`expected_calibration_error`) in a cross-validation over the held-out predictions
is kept, refitted on all of them. The map is monotone, so it never changes which entities a
model finds or their order, only the numbers that thresholds compare.

The map is stored in the model's metadata (``calibration``), validated on load like every field
(:meth:`Calibration.from_meta`), and applied wherever confidences are given out: ``Tagger.tag``
and friends, ``crftag tag`` (every output format), the server and the spaCy component.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

METHODS = ("none", "platt", "isotonic")
N_BINS = 10  # equal-width confidence bins of the reliability table and the calibration error
MAX_KNOTS = 1000  # isotonic knots a model file may hold (limit, checked on load)
CV_FOLDS = 5  # folds of the cross-validation that chooses the method
MIN_ENTITIES = 50  # fewer held-out entities than this: no map (its error could not be measured)
_EPS = 1e-6  # raw confidences are clipped to [eps, 1 - eps] before their logit


class CalibrationError(ValueError):
    """A stored calibration that is not well-formed (the model loader names the file)."""


@dataclass(frozen=True)
class Calibration:
    """A monotone map of entity confidences: ``none``, ``platt`` (``a``, ``b``) or ``isotonic``
    (knots ``x`` increasing in [0, 1], ``y`` non-decreasing in [0, 1], linear between them)."""

    method: str = "none"
    a: float = 1.0
    b: float = 0.0
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()
    fit_info: dict[str, Any] = field(default_factory=dict, compare=False)

    def apply(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated confidences of raw ones (NaN stays NaN)."""
        p = np.asarray(scores, dtype=np.float64)
        if self.method == "none":
            return p
        if self.method == "platt":
            z = _logit(p)
            return 1.0 / (1.0 + np.exp(-(self.a * z + self.b)))
        return np.interp(p, self.x, self.y)

    def __call__(self, score: float) -> float:
        return float(self.apply(np.array([score]))[0])

    def to_meta(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method}
        if self.method == "platt":
            out.update(a=self.a, b=self.b)
        elif self.method == "isotonic":
            out.update(x=list(self.x), y=list(self.y))
        if self.fit_info:
            out["fit"] = self.fit_info
        return out

    @classmethod
    def from_meta(cls, meta: Any) -> Calibration:
        """The calibration a model's metadata holds (absent: none); :class:`CalibrationError` for
        anything malformed: an unknown method, non-finite or out-of-range numbers, knots that
        are not monotone or too many."""
        if meta is None:
            return cls()
        if not isinstance(meta, Mapping) or meta.get("method") not in METHODS:
            raise CalibrationError(f"'calibration' must be an object with a method among "
                                   f"{', '.join(METHODS)}")
        method = meta["method"]
        info = meta.get("fit", {})
        if not isinstance(info, dict):
            raise CalibrationError("'calibration.fit' must be an object")
        if method == "none":
            return cls(fit_info=info)
        if method == "platt":
            a, b = meta.get("a"), meta.get("b")
            if not all(_finite(v) for v in (a, b)) or not 0 < a <= 100 or abs(b) > 100:
                raise CalibrationError("'calibration' (platt) needs a finite slope 0 < a <= 100 and "
                                       "an intercept |b| <= 100")
            return cls("platt", float(a), float(b), fit_info=info)
        x, y = meta.get("x"), meta.get("y")
        if not (isinstance(x, list) and isinstance(y, list) and 1 <= len(x) == len(y) <= MAX_KNOTS
                and all(_finite(v) and 0 <= v <= 1 for v in (*x, *y))):
            raise CalibrationError(f"'calibration' (isotonic) needs lists x and y of 1 to {MAX_KNOTS} "
                                   "numbers in [0, 1], as many of each")
        if any(b <= a for a, b in itertools.pairwise(x)) or any(b < a for a, b in itertools.pairwise(y)):
            raise CalibrationError("'calibration' (isotonic) needs x increasing and y non-decreasing")
        return cls("isotonic", x=tuple(map(float, x)), y=tuple(map(float, y)), fit_info=info)


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


# -- measuring -------------------------------------------------------------------------------------
def reliability(scores: Sequence[float], correct: Sequence[bool], bins: int = N_BINS) -> list[dict]:
    """Per equal-width confidence bin (the last one closed): entities, their mean confidence, the
    share of them that are right, and the gap between the two."""
    s = np.asarray(scores, dtype=np.float64)
    c = np.asarray(correct, dtype=np.float64)
    which = np.minimum((s * bins).astype(np.int64), bins - 1)
    rows = []
    for k in range(bins):
        m = which == k
        n = int(m.sum())
        conf = float(s[m].mean()) if n else None
        acc = float(c[m].mean()) if n else None
        rows.append({"low": k / bins, "high": (k + 1) / bins, "entities": n, "confidence": conf,
                     "accuracy": acc, "gap": None if n == 0 else acc - conf})
    return rows


def expected_calibration_error(scores: Sequence[float], correct: Sequence[bool], bins: int = N_BINS) -> float:
    """The sum over bins of (entities in the bin / all entities) * |accuracy - mean confidence|
    (0 with no entities)."""
    rows = reliability(scores, correct, bins)
    total = sum(r["entities"] for r in rows)
    return sum(r["entities"] * abs(r["gap"]) for r in rows if r["entities"]) / total if total else 0.0


def entity_outcomes(gold: Sequence[Sequence[str]], entities: Sequence[Sequence[Any]]) -> tuple[list, list]:
    """Raw confidences of predicted entities and whether each is right: a gold entity with the
    same tokens and type (as conlleval counts a correct chunk). ``entities`` per sentence are
    objects with ``token_start``, ``token_end``, ``type`` and ``score``."""
    from crftag.bio import chunks

    scores, correct = [], []
    for tags, ents in zip(gold, entities, strict=True):
        truth = set(chunks(tags))
        for e in ents:
            if e.score is None:
                continue
            scores.append(e.score)
            correct.append((e.type, e.token_start, e.token_end) in truth)
    return scores, correct


def calibration_report(gold: Sequence[Sequence[str]], raw: Sequence[Sequence[Any]],
                       calibration: Calibration, bins: int = N_BINS) -> dict[str, Any]:
    """``crftag eval --calibration``: for the entities a model found (``raw``: per sentence, with
    raw confidences), the calibration error before and after the model's map, and the reliability
    table of each."""
    scores, correct = entity_outcomes(gold, raw)
    mapped = calibration.apply(np.asarray(scores)).tolist() if scores else []
    return {"method": calibration.method, "entities": len(scores), "correct": int(sum(correct)), "bins": bins,
            "ece_raw": expected_calibration_error(scores, correct, bins),
            "ece": expected_calibration_error(mapped, correct, bins),
            "reliability_raw": reliability(scores, correct, bins),
            "reliability": reliability(mapped, correct, bins)}


# -- fitting ---------------------------------------------------------------------------------------
def _fit_one(method: str, s: np.ndarray, c: np.ndarray) -> Calibration:
    if method == "none" or len(s) == 0 or c.min() == c.max():
        return Calibration()
    if method == "platt":
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=1e4).fit(_logit(s)[:, None], c.astype(int))
        a, b = float(lr.coef_[0, 0]), float(lr.intercept_[0])
        if not (0 < a <= 100 and abs(b) <= 100):  # a degenerate fit (falling, or a step): keep raw
            return Calibration()
        return Calibration("platt", a, b)
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(s, c)
    x, y = np.asarray(iso.X_thresholds_, dtype=np.float64), np.asarray(iso.y_thresholds_, dtype=np.float64)
    if len(x) > MAX_KNOTS:  # keep the ends and evenly spaced knots between them
        keep = np.unique(np.linspace(0, len(x) - 1, MAX_KNOTS).round().astype(np.int64))
        x, y = x[keep], y[keep]
    return Calibration("isotonic", x=tuple(x.tolist()), y=tuple(y.tolist()))


def fit(scores: Sequence[float], correct: Sequence[bool], methods: Sequence[str] = METHODS,
        seed: int = 0) -> Calibration:
    """The method of ``methods`` whose held-out calibration error is lowest in a ``CV_FOLDS``-fold
    cross-validation over these predictions, refitted on all of them; ``fit_info`` records the
    cross-validated error of every candidate and the entities it was fitted on. With fewer than
    ``MIN_ENTITIES`` entities, none."""
    unknown = set(methods) - set(METHODS)
    if unknown or not methods:
        raise ValueError(f"calibration methods are {', '.join(METHODS)}, not {sorted(unknown) or 'none'}")
    s = np.asarray(scores, dtype=np.float64)
    c = np.asarray(correct, dtype=bool)
    if len(s) < MIN_ENTITIES:
        return Calibration(fit_info={"entities": len(s), "correct": int(c.sum()), "chosen": "none",
                                     "why": f"fewer than {MIN_ENTITIES} held-out entities"})
    fold = np.random.default_rng(seed).permutation(len(s)) % CV_FOLDS
    cv_error = {}
    for method in methods:
        held = np.empty(len(s))
        for k in range(CV_FOLDS):
            test = fold == k
            held[test] = _fit_one(method, s[~test], c[~test]).apply(s[test])
        cv_error[method] = expected_calibration_error(held, c)
    best = min(methods, key=lambda m: (cv_error[m], METHODS.index(m)))  # ties: the simpler
    chosen = _fit_one(best, s, c)
    info = {"entities": len(s), "correct": int(c.sum()), "raw_ece": expected_calibration_error(s, c),
            "cv_ece": cv_error, "chosen": best}
    return Calibration(chosen.method, chosen.a, chosen.b, chosen.x, chosen.y, fit_info=info)


# -- thresholds --------------------------------------------------------------------------------------
Thresholds = float | Mapping[str, float] | None


def parse_thresholds(text: str) -> float | dict[str, float]:
    """``0.8`` (every type), or ``person=0.9,geo-loc=0.6`` (per type), or both: ``0.8,person=0.9``
    (the bare number for the types not named, stored under ``"*"``). Each value in [0, 1]."""
    out: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        key, _, value = part.rpartition("=")
        key = key.strip() or "*"
        if key in out:
            raise ValueError(f"{key!r} given twice")
        out[key] = check_threshold(_number(value.strip()), key)
    return out["*"] if list(out) == ["*"] else out


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None


def check_threshold(value: Any, what: str = "min_confidence") -> float:
    """A confidence threshold: a finite number in [0, 1] (a bool is not one). The one rule for the
    API, the command line, the server and the spaCy component."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what} must be a number from 0 to 1, not {type(value).__name__} {value!r}")
    if not 0 <= value <= 1:  # NaN fails this too
        raise ValueError(f"{what} must be a number from 0 to 1, not {value!r}")
    return float(value)


def check_thresholds(value: Any, what: str = "min_confidence") -> Thresholds:
    """``None``, one threshold, or a mapping of entity type to threshold (``"*"``: the types not
    named), each checked by :func:`check_threshold`."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"{what} maps entity types (str) to thresholds, not {key!r}")
        return {key: check_threshold(v, f"{what}[{key!r}]") for key, v in value.items()}
    return check_threshold(value, what)


def threshold_for(thresholds: Thresholds, entity_type: str) -> float | None:
    """The threshold an entity of this type must reach (None: keep it)."""
    if thresholds is None or isinstance(thresholds, (int, float)):
        return thresholds
    value = thresholds.get(entity_type, thresholds.get("*"))
    return None if value is None else float(value)
