"""Model-file validation: every array and metadata field is checked before compiled code sees it.

A model file's checksums only show it was not damaged; they say nothing about who wrote
it. The tagging kernels index arrays with values read from the file (feature rows, label
columns, gazetteer list bits, window offsets) without bounds checks, so a file that is
well-formed but hostile must be refused here: every array's dtype, number of dimensions,
shape and value range against the metadata; sorted keys; indices in range; finite
weights; and the sizes of what the tagger will derive from the model (per-type score
rows, constant-atom tables) within fixed budgets. A model that passes tags every input
without reading out of bounds.

The limits are constants here (and, for meta.json, in :mod:`crftag.limits`), listed in the
README's Guarantees section.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from crftag.limits import MAX_META_DEPTH

#: labels of a model (a BIO scheme with 127 entity types), and the longest label
MAX_LABELS = 255
MAX_LABEL_CHARS = 100
#: feature sets stored in models: groups, window offsets within +-MAX_WINDOW, conjunctions,
#: affix lengths / Brown prefixes per group and their largest value
MAX_GROUPS = 64
MAX_WINDOW = 8
MAX_CONJUNCTIONS = 16
MAX_LENGTHS = 16
MAX_LENGTH_VALUE = 64
#: gazetteer lists (list membership is a 64-bit mask)
MAX_GAZ_LISTS = 64
#: weights: emission weights and biases at most this large in magnitude; transition and
#: start scores at most MAX_ABS_TRANSITION (or -inf: a forbidden move), so exp() stays finite
MAX_ABS_WEIGHT = 1e6
MAX_ABS_TRANSITION = 700.0
#: bytes of the tables the tagger derives from a model (constant-atom weight rows per
#: window offset) and of one cached token type's score rows
MAX_DERIVED_BYTES = 256 << 20
MAX_TYPE_ROW_BYTES = 64 << 10

LINEAR_ARRAYS = ("feature_keys", "row_ptr", "cols", "vals", "transitions", "bias")
_LABEL_RE = re.compile(r"O|[BI]-[^\s\x00-\x1f\x7f]+")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_CLUSTER_KINDS = ("brown", "clark", "table")  # the kinds whose words live in lex_c<i>_ arrays


class Invalid(ValueError):
    """A model file's contents fail validation; the message says what is wrong."""


def _need(ok: bool, message: str) -> None:
    if not ok:
        raise Invalid(message)


def json_depth(value: Any) -> int:
    """How deeply lists and objects nest in a parsed JSON value (iteratively: no recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in item)
    return deepest


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _strings(value: Any, what: str, unique: bool = False, limit: int | None = None) -> list[str]:
    _need(isinstance(value, list) and all(isinstance(v, str) for v in value),
          f"{what} must be a list of strings")
    _need(not unique or len(set(value)) == len(value), f"{what} has duplicates")
    _need(limit is None or len(value) <= limit, f"{what} has {len(value)} entries (at most {limit})")
    return value


# -- metadata ----------------------------------------------------------------------------------

def _bio_labels(value: Any, what: str) -> list[str]:
    """A non-empty list of distinct BIO labels."""
    labels = _strings(value, what, unique=True, limit=MAX_LABELS)
    _need(len(labels) > 0, f"{what} is empty")
    for label in labels:
        _need(len(label) <= MAX_LABEL_CHARS and _LABEL_RE.fullmatch(label) is not None,
              f"label {label[:40]!r} is not a BIO tag (O, B-TYPE, I-TYPE)")
    return labels


def check_meta(meta: Any) -> None:
    """The metadata's schema: types of every field crftag reads, and its depth."""
    _need(isinstance(meta, dict), "meta.json must hold a JSON object")
    depth = json_depth(meta)
    _need(depth <= MAX_META_DEPTH, f"meta.json nests {depth} levels deep (at most {MAX_META_DEPTH})")
    checksums = meta.get("checksums")
    _need(isinstance(checksums, dict)
          and all(isinstance(k, str) and isinstance(v, str) and _HEX64.fullmatch(v)
                  for k, v in checksums.items()),
          "'checksums' must map member names to sha256 hex digests")
    _need(isinstance(meta.get("backend"), str) and meta["backend"], "'backend' must be a non-empty string")
    _need(isinstance(meta.get("feature_set"), dict), "'feature_set' must be an object")
    _bio_labels(meta.get("labels"), "'labels'")
    lexicon = meta.get("lexicon", {})
    _need(isinstance(lexicon, dict), "'lexicon' must be an object")
    _strings(lexicon.get("cluster_groups", []), "'lexicon.cluster_groups'", unique=True, limit=MAX_GROUPS)
    if lexicon.get("gazetteer_lists") is not None:
        _strings(lexicon["gazetteer_lists"], "'lexicon.gazetteer_lists'", limit=MAX_GAZ_LISTS)
    sources = lexicon.get("sources", {})
    _need(isinstance(sources, dict) and all(isinstance(v, dict) for v in sources.values()),
          "'lexicon.sources' must be an object of objects")
    licences = lexicon.get("licences", {})
    _need(isinstance(licences, dict) and all(isinstance(v, str) for v in licences.values()),
          "'lexicon.licences' must be an object of strings")
    _need(meta.get("crftag_version") is None or isinstance(meta["crftag_version"], str),
          "'crftag_version' must be a string")
    for key in ("backend_params", "fit_info", "training"):
        _need(meta.get(key) is None or isinstance(meta[key], dict), f"'{key}' must be an object")
    if meta.get("training") is not None:
        for key in ("sentences", "tokens"):
            value = meta["training"].get(key)
            _need(value is None or _is_int(value), f"'training.{key}' must be an integer")
    named = meta.get("named_model")
    _need(named is None or (isinstance(named, dict) and isinstance(named.get("name"), str)
                            and _is_int(named.get("version"))),
          "'named_model' must be an object with a name (string) and a version (integer)")
    if "calibration" in meta:
        from crftag.calibration import Calibration, CalibrationError

        try:
            Calibration.from_meta(meta["calibration"])
        except CalibrationError as exc:
            raise Invalid(str(exc)) from None
    if "dev_scores" in meta:
        scores = meta["dev_scores"]
        _need(isinstance(scores, dict) and isinstance(scores.get("overall"), dict)
              and all(_is_number(scores["overall"].get(k)) for k in ("precision", "recall", "f1")),
              "'dev_scores.overall' must hold numbers precision, recall and f1")


def check_feature_set(fs: Any) -> None:
    """Caps on a stored feature set (already validated by :meth:`FeatureSet.from_dict`)."""
    _need(len(fs.groups) <= MAX_GROUPS, f"the feature set has {len(fs.groups)} groups (at most {MAX_GROUPS})")
    _need(len(fs.conjunctions) <= MAX_CONJUNCTIONS,
          f"the feature set has {len(fs.conjunctions)} conjunctions (at most {MAX_CONJUNCTIONS})")
    for name, params in fs.groups.items():
        _need(all(-MAX_WINDOW <= o <= MAX_WINDOW for o in params["window"]),
              f"groups.{name}.window has offsets beyond +-{MAX_WINDOW}")
        for key in ("lengths", "prefixes"):
            if key in params:
                values = params[key]
                _need(len(values) <= MAX_LENGTHS and all(0 < v <= MAX_LENGTH_VALUE for v in values),
                      f"groups.{name}.{key} must be at most {MAX_LENGTHS} integers in 1..{MAX_LENGTH_VALUE}")
    for c in fs.conjunctions:
        _need(all(-MAX_WINDOW <= o <= MAX_WINDOW for o in c["offsets"]),
              f"conjunction offsets beyond +-{MAX_WINDOW}")


# -- arrays ------------------------------------------------------------------------------------

def _array(arrays: Mapping[str, np.ndarray], name: str, dtype: type, ndim: int) -> np.ndarray:
    _need(name in arrays, f"array {name!r} is missing")
    arr = arrays[name]
    _need(isinstance(arr, np.ndarray) and arr.dtype == np.dtype(dtype) and arr.dtype.isnative,
          f"array {name!r} must be {np.dtype(dtype).name}, not {getattr(arr, 'dtype', type(arr).__name__)}")
    _need(arr.ndim == ndim, f"array {name!r} must have {ndim} dimension{'s' * (ndim != 1)}, "
                            f"not shape {arr.shape}")
    return arr


def _strictly_increasing(arr: np.ndarray, name: str) -> None:
    _need(len(arr) < 2 or bool(np.all(arr[1:] > arr[:-1])), f"array {name!r} must be sorted and unique")


def _offsets(ptr: np.ndarray, n: int, name: str, end: int) -> None:
    """``ptr`` is n + 1 offsets from 0 to ``end``, never decreasing."""
    _need(len(ptr) == n + 1, f"array {name!r} has {len(ptr)} entries, expected {n + 1}")
    _need(ptr[0] == 0 and ptr[-1] == end and bool(np.all(ptr[1:] >= ptr[:-1])),
          f"array {name!r} must rise from 0 to {end}")


def _bounded(arr: np.ndarray, name: str, limit: float, minus_inf: bool = False) -> None:
    finite = np.isfinite(arr)
    ok = np.abs(np.where(finite, arr, 0.0)) <= limit
    allowed = finite | (arr == -np.inf) if minus_inf else finite
    _need(bool(np.all(allowed & ok)),
          f"array {name!r} holds {'NaN or +inf' if minus_inf else 'non-finite'} values or values "
          f"beyond +-{limit:g}")


def check_linear(labels: list[str], arrays: Mapping[str, np.ndarray], prefix: str = "") -> set[str]:
    """A linear-chain model's arrays (see :class:`crftag.linear.model.LinearChainModel`), named
    ``prefix`` + their usual names (a first pass's: ``stk0_feature_keys``...); their names."""
    n_lab = len(labels)
    p = prefix
    keys = _array(arrays, p + "feature_keys", np.uint64, 1)
    row_ptr = _array(arrays, p + "row_ptr", np.int64, 1)
    cols = _array(arrays, p + "cols", np.int32, 1)
    vals = _array(arrays, p + "vals", np.float64, 1)
    bias = _array(arrays, p + "bias", np.float64, 1)
    transitions = _array(arrays, p + "transitions", np.float64, 2)
    _strictly_increasing(keys, p + "feature_keys")
    _need(len(cols) == len(vals), f"arrays '{p}cols' and '{p}vals' differ in length")
    _offsets(row_ptr, len(keys), p + "row_ptr", len(vals))
    _need(len(cols) == 0 or (int(cols.min()) >= 0 and int(cols.max()) < n_lab),
          f"array '{p}cols' holds label indices outside 0..{n_lab - 1}")
    _bounded(vals, p + "vals", MAX_ABS_WEIGHT)
    _need(bias.shape == (n_lab,), f"array '{p}bias' has shape {bias.shape}, expected ({n_lab},)")
    _bounded(bias, p + "bias", MAX_ABS_WEIGHT)
    _need(transitions.shape == (n_lab, n_lab),
          f"array '{p}transitions' has shape {transitions.shape}, expected ({n_lab}, {n_lab})")
    _bounded(transitions, p + "transitions", MAX_ABS_TRANSITION, minus_inf=True)
    names = {p + name for name in LINEAR_ARRAYS}
    if p + "start" in arrays:
        start = _array(arrays, p + "start", np.float64, 1)
        _need(start.shape == (n_lab,), f"array '{p}start' has shape {start.shape}, expected ({n_lab},)")
        _bounded(start, p + "start", MAX_ABS_TRANSITION, minus_inf=True)
        _need(bool(np.isfinite(start).any()), f"array '{p}start' forbids every label")
        names.add(p + "start")
    return names


def stack_prefix(i: int) -> str:
    """The array-name prefix of the ``i``-th first pass in a model file (:mod:`crftag.stacking`)."""
    return f"stk{i}_"


def check_stack(fs: Any, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> set[str]:
    """The first passes of a model whose feature set has stack groups (:mod:`crftag.stacking`):
    one ``meta["stack"]["passes"]`` entry per group, in order, with BIO labels, and each one's
    linear-model arrays under ``stk<i>_``; the tables the tagging pass derives from them within
    budget. Their array names."""
    groups = fs.stacks()
    stack = meta.get("stack")
    if not groups:
        _need(stack is None, "'stack' is given but the feature set has no stack groups")
        return set()
    _need(isinstance(stack, dict) and isinstance(stack.get("passes"), list),
          "'stack.passes' must be a list (the feature set has stack groups)")
    passes = stack["passes"]
    _need(len(passes) == len(groups),
          f"'stack.passes' has {len(passes)} entries for {len(groups)} stack groups")
    names: set[str] = set()
    n_main = len(meta["labels"])
    widths = []
    for i, (entry, (group, params)) in enumerate(zip(passes, groups.items(), strict=True)):
        _need(isinstance(entry, dict) and entry.get("group") == group
              and isinstance(entry.get("record", {}), dict),
              f"'stack.passes[{i}]' is not the first pass of group {group!r}")
        labels = _bio_labels(entry.get("labels"), f"'stack.passes[{i}].labels'")
        _need(len(params["bins"]) <= MAX_LENGTHS, f"groups.{group}.bins has more than {MAX_LENGTHS} edges")
        names |= check_linear(labels, arrays, stack_prefix(i))
        widths.append(len(labels))
        derived = len(params["window"]) * len(labels) * (len(params["bins"]) + 2) * n_main * 8
        _need(derived <= MAX_DERIVED_BYTES, f"the first pass of group {group!r} would derive tables of "
                                            f"{derived:,} bytes (at most {MAX_DERIVED_BYTES:,})")
    n_off = max(len({o for p in fs.groups.values() for o in p["window"]}), 1)
    row = n_off * (n_main + sum(widths)) * 8
    _need(row <= MAX_TYPE_ROW_BYTES, f"the model and its first passes make a per-type score row of "
                                     f"{row:,} bytes (at most {MAX_TYPE_ROW_BYTES:,})")
    return names


def _packed_strings(arrays: Mapping[str, np.ndarray], blob_name: str, ptr_name: str) -> int:
    """A packed string array (:func:`crftag.io.modelfile.pack_strings`): bytes, offsets from 0 to their
    end, each string valid UTF-8 (surrogates allowed). Returns how many strings."""
    blob = _array(arrays, blob_name, np.uint8, 1)
    ptr = _array(arrays, ptr_name, np.int64, 1)
    _need(len(ptr) >= 1, f"array {ptr_name!r} is empty")
    _offsets(ptr, len(ptr) - 1, ptr_name, len(blob))
    try:
        blob.tobytes().decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        raise Invalid(f"array {blob_name!r} is not UTF-8") from None
    inner = ptr[1:-1]
    _need(len(inner) == 0 or not bool(np.any((blob[np.minimum(inner, len(blob) - 1)] & 0xC0) == 0x80)),
          f"array {ptr_name!r} cuts a character in two")
    return len(ptr) - 1


def check_lexicon_arrays(lexicon: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> set[str]:
    """The lexicon's arrays as its metadata describes them (cluster tables, gazetteer keys and
    list masks); their names. Raises :class:`Invalid`."""
    names: set[str] = set()
    groups = lexicon.get("cluster_groups", []) or []
    for i in range(len(groups)):
        p = f"lex_c{i}_"
        n_words = _packed_strings(arrays, p + "words", p + "wptr")
        n_names = _packed_strings(arrays, p + "names", p + "nptr")
        index = _array(arrays, p + "index", np.int32, 1)
        _need(len(index) == n_words, f"array {p + 'index'!r} has {len(index)} entries, expected {n_words}")
        _need(n_words == 0 or (int(index.min()) >= 0 and int(index.max()) < n_names),
              f"array {p + 'index'!r} holds cluster rows outside 0..{n_names - 1}")
        names.update(p + s for s in ("words", "wptr", "names", "nptr", "index"))
    lists = lexicon.get("gazetteer_lists")
    if lists is not None:
        _need(len(lists) <= MAX_GAZ_LISTS, f"{len(lists)} gazetteer lists (at most {MAX_GAZ_LISTS})")
        keys = _array(arrays, "lex_gaz_keys", np.uint64, 1)
        masks = _array(arrays, "lex_gaz_masks", np.uint64, 1)
        _need(len(masks) == len(keys), "arrays 'lex_gaz_keys' and 'lex_gaz_masks' differ in length")
        _strictly_increasing(keys, "lex_gaz_keys")
        if len(lists) < 64 and len(masks):
            _need(not bool(np.any(masks >> np.uint64(len(lists)))),
                  f"array 'lex_gaz_masks' names lists beyond the {len(lists)} the model has")
        names.update(("lex_gaz_keys", "lex_gaz_masks"))
    return names


def _derived_sizes(fs: Any, lexicon: Mapping[str, Any], arrays: Mapping[str, np.ndarray], n_lab: int) -> None:
    """What the tagger allocates for this model stays within budget."""
    offsets = {o for p in fs.groups.values() for o in p["window"]}
    n_off = max(len(offsets), 1)
    row = n_off * n_lab * 8
    _need(row <= MAX_TYPE_ROW_BYTES, f"{n_off} window offsets x {n_lab} labels make a per-type score row "
                                     f"of {row:,} bytes (at most {MAX_TYPE_ROW_BYTES:,})")
    groups = lexicon.get("cluster_groups", []) or []
    atoms = 16 * len(fs.groups)  # constant atoms of the surface kinds
    for name, params in fs.groups.items():
        if params["kind"] in _CLUSTER_KINDS and name in groups:
            n_names = len(arrays[f"lex_c{groups.index(name)}_nptr"]) - 1
            atoms += n_names * max(len(params.get("prefixes", [])), 1)
    size = atoms * row
    _need(size <= MAX_DERIVED_BYTES, f"the model's constant-atom tables would take {size:,} bytes "
                                     f"(at most {MAX_DERIVED_BYTES:,})")


def validate_model(meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray], source: str,
                   backend_for: Callable[[str], Any]) -> tuple[Any, Any]:
    """Check a loaded model's metadata and arrays; return its :class:`FeatureSet` and backend.

    ``backend_for`` finds the backend class a model names (:func:`crftag.backends.get_backend`;
    its :class:`~crftag.errors.CrftagError` for an unknown or unavailable backend passes through),
    asked once the metadata is known to be well-formed. The backend's ``check_arrays`` checks the
    model's own arrays and names them, and every other array (beyond the lexicon's) is then
    refused. Raises :class:`Invalid` naming the first problem found."""
    from crftag.errors import DataError
    from crftag.features.featureset import FeatureSet

    check_meta(meta)
    backend = backend_for(meta["backend"])
    try:
        fs = FeatureSet.from_dict(meta["feature_set"], source=source)
    except DataError as exc:
        raise Invalid(f"stored feature set: {exc.message}") from None
    except Exception as exc:
        raise Invalid(f"stored feature set is malformed ({type(exc).__name__}: {str(exc)[:200]})") from None
    check_feature_set(fs)
    labels = meta["labels"]
    lexicon = meta.get("lexicon", {})
    cluster_groups = {n for n, p in fs.groups.items() if p["kind"] in _CLUSTER_KINDS}
    for group in lexicon.get("cluster_groups", []) or []:
        _need(group in cluster_groups, f"lexicon cluster group {group!r} is not a cluster group of the "
                                       "feature set")
    used = check_lexicon_arrays(lexicon, arrays) | check_stack(fs, meta, arrays)
    _derived_sizes(fs, lexicon, arrays, len(labels))
    own = backend.check_arrays(list(labels), arrays)
    if own is not None:
        extra = sorted(set(arrays) - used - own)
        if extra:
            raise Invalid(f"unexpected array {extra[0]!r} for a {meta['backend']} model")
    return fs, backend


def check_prefixed(arrays: Mapping[str, np.ndarray], prefix: str) -> set[str]:
    """A neural model's arrays (named ``prefix...``): finite where they are floats; their names."""
    names = set()
    for name, arr in arrays.items():
        if name.startswith(prefix):
            if arr.dtype.kind == "f":
                _need(bool(np.all(np.isfinite(arr))), f"array {name!r} holds non-finite values")
            names.add(name)
    return names
