"""A model-file fuzzer: mutate a real model's arrays and metadata, re-make its checksums, load it.

Used by tests/test_model_fuzz.py (in a child process, so that a crash is a failed test, not a
dead test run) and by bench/reliability.py. Each mutated file must either be refused with a
one-line :class:`~crftag.errors.ModelError`, or load into a tagger that tags every probe
input without crashing, identically in two separate loads.

    python tests/modelfuzz.py MODEL N SEED [--out DIR]   # prints one JSON summary line
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import sys
import time
import warnings
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

PROBES = ["Obama visits Paris with Tim Cook", "", "   ", "@user #Paris http://t.co/x :-) RT",
          "New York New York New York", "\U0001f600 \u0645\u0631\u062d\u0628\u0627 e\u0301 \x00 \ud800",
          "a " * 300, "London" * 50, "Madison Square Garden in new york city tonight"]
TOKEN_PROBES = [["I", "love", "London"], ["x"] * 40, ["#NBA", "Knicks", "at", "MSG"], []]

_DTYPES = [np.bool_, np.int8, np.uint8, np.int32, np.int64, np.uint64, np.float32, np.float64]
_JSON_VALUES: list[Any] = [None, True, 0, -1, 1, 2**31, 2**63, 10**30, -10**30, 1e308, 0.5, "", "x",
                           "\n", [], [1], ["x"], {}, {"x": 1}, [[[[[]]]]], "O", ["O"], [-1, 0, 1]]


def read_members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def to_npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def from_npy(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)


def write_model(path: Path, meta: Any, arrays: dict[str, bytes], extra: list[tuple[str, bytes]] = (),
                meta_bytes: bytes | None = None, stored: bool = False) -> None:
    """A model file with checksums recomputed for whatever ``meta`` and ``arrays`` now hold."""
    if isinstance(meta, dict) and isinstance(meta.get("checksums"), dict):
        meta["checksums"] = {f"arrays/{n}.npy": hashlib.sha256(b).hexdigest() for n, b in arrays.items()}
    if meta_bytes is None:
        meta_bytes = json.dumps(meta).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("meta.json", meta_bytes)
        zf.writestr("meta.json.sha256", hashlib.sha256(meta_bytes).hexdigest())
        for name, data in arrays.items():
            zf.writestr(f"arrays/{name}.npy", data)
        for name, data in extra:
            zf.writestr(name, data)


def _random_values(rng: np.random.Generator, arr: np.ndarray, n: int) -> np.ndarray:
    if arr.dtype.kind == "f":
        pool = [0.0, -0.0, 1.0, -1.0, 1e6, -1e6, 1e300, -1e300, 700.0, -700.0, np.nan, np.inf, -np.inf,
                float(rng.normal() * 10)]
    elif arr.dtype.kind in "iu":
        info = np.iinfo(arr.dtype)
        pool = [0, 1, info.max, info.min, info.max // 2, int(rng.integers(0, 64)),
                *(v for v in (-1, 2**31, 2**32 + 3, 63, 64, 65) if info.min <= v <= info.max)]
    else:
        pool = [0, 1]
    with np.errstate(all="ignore"):
        return np.array([pool[i] for i in rng.integers(0, len(pool), n)]).astype(arr.dtype)


def mutate_array(rng: np.random.Generator, arr: np.ndarray) -> tuple[np.ndarray, str]:
    """One random change to an array: dtype, byte order, dimensions, length, values, order."""
    kind = int(rng.integers(0, 12))
    n = arr.size
    if kind == 0:
        dtype = _DTYPES[int(rng.integers(0, len(_DTYPES)))]
        with np.errstate(all="ignore"):
            return arr.astype(dtype), f"dtype {np.dtype(dtype).name}"
    if kind == 1:
        return arr.astype(arr.dtype.newbyteorder(">")), "big-endian"
    if kind == 2:
        return (arr.reshape(-1, 1) if n else arr.reshape(0, 1)), "2-d"
    if kind == 3:
        return (arr.reshape(-1)[:1].reshape(()) if n else np.zeros((), arr.dtype)), "0-d"
    if kind == 4 and n:
        return arr.reshape(-1)[:int(rng.integers(0, n))].copy(), "truncated"
    if kind == 5:
        more = _random_values(rng, arr, int(rng.integers(1, 5)))
        return np.concatenate([arr.reshape(-1), more]), "extended"
    if kind == 6:
        return arr.reshape(-1)[:0].copy(), "emptied"
    if kind in (7, 8) and n:
        out = arr.copy().reshape(-1)
        idx = rng.integers(0, n, int(rng.integers(1, 4)))
        out[idx] = _random_values(rng, out, len(idx))
        return out.reshape(arr.shape), "values"
    if kind == 9 and n > 1:
        out = arr.copy().reshape(-1)
        rng.shuffle(out)
        return out.reshape(arr.shape), "shuffled"
    if kind == 10 and n > 1:
        out = arr.copy().reshape(-1)
        i = int(rng.integers(1, n))
        out[i] = out[i - 1]
        return out.reshape(arr.shape), "duplicate entry"
    if kind == 11 and n:
        return np.full(arr.shape, _random_values(rng, arr, 1)[0]), "filled"
    return arr.copy(), "unchanged"


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value[:8]):
            out += _paths(v, (*prefix, i))
    return out


def _set(root: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    node = root
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return root


def mutate_meta(rng: np.random.Generator, meta: dict) -> tuple[Any, str]:
    """One random change to the metadata: a value replaced, deleted, or a targeted attack."""
    meta = copy.deepcopy(meta)
    kind = int(rng.integers(0, 14))
    fs = meta.get("feature_set", {})
    groups = list(fs.get("groups", {}))
    if kind == 0 and groups:
        g = groups[int(rng.integers(0, len(groups)))]
        choice = [list(range(-2500, 2500)), [2**70], [-(2**63)], [9], [-9, 0], list(range(-8, 9))]
        fs["groups"][g]["window"] = choice[int(rng.integers(0, len(choice)))]
        return meta, f"window of {g}"
    if kind == 1:
        choice = [[], [1, 2], ["O", "O"], ["B-x\n"], ["O"] * 300, ["X"], [f"B-t{i}" for i in range(300)],
                  meta["labels"][:-1], [*meta["labels"], "B-extra"], meta["labels"][::-1]]
        meta["labels"] = choice[int(rng.integers(0, len(choice)))]
        return meta, "labels"
    if kind == 2:
        lex = meta.setdefault("lexicon", {})
        choice = [["x"], [f"l{i}" for i in range(65)], [], None, [1], (lex.get("gazetteer_lists") or [])[:1]]
        lex["gazetteer_lists"] = choice[int(rng.integers(0, len(choice)))]
        return meta, "gazetteer_lists"
    if kind == 3:
        lex = meta.setdefault("lexicon", {})
        choice = [["lower"], ["brown", "brown"], [], ["nope"], [*lex.get("cluster_groups", []), "brown2"]]
        lex["cluster_groups"] = choice[int(rng.integers(0, len(choice)))]
        return meta, "cluster_groups"
    if kind == 4:
        deep: Any = 1
        for _ in range(int(rng.choice([30, 40, 500]))):
            deep = [deep]
        meta["fit_info"] = {"deep": deep}
        return meta, "deep nesting"
    if kind == 5 and groups:
        g = groups[int(rng.integers(0, len(groups)))]
        key = next((k for k in ("lengths", "prefixes") if k in fs["groups"][g]), None)
        if key:
            fs["groups"][g][key] = [[2**40], [0], list(range(1, 200)), [65]][int(rng.integers(0, 4))]
            return meta, f"{key} of {g}"
    if kind == 6:
        fs["conjunctions"] = [[{"group": groups[0], "offsets": [-100, 0]}],
                              [{"group": groups[0], "offsets": [0]}],
                              [{"group": groups[0], "offsets": [-1, 0]}] * 40, "x"][int(rng.integers(0, 4))]
        return meta, "conjunctions"
    if kind == 7:
        key = ["checksums", "labels", "feature_set", "lexicon", "backend", "format_version", "dev_scores",
               "training"][int(rng.integers(0, 8))]
        meta[key] = _JSON_VALUES[int(rng.integers(0, len(_JSON_VALUES)))]
        return meta, f"{key} replaced"
    if kind == 8:
        key = ["labels", "feature_set", "lexicon", "backend", "checksums"][int(rng.integers(0, 5))]
        meta.pop(key, None)
        return meta, f"{key} deleted"
    if kind == 9 and groups:
        g = groups[int(rng.integers(0, len(groups)))]
        fs["groups"][g]["kind"] = ["gazetteer", "brown", "bias", "nope", 1][int(rng.integers(0, 5))]
        return meta, f"kind of {g}"
    paths = _paths(meta)
    path = paths[int(rng.integers(0, len(paths)))]
    if path and rng.random() < 0.3:
        parent = meta
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(parent, dict):
            del parent[path[-1]]
            return meta, f"deleted {'.'.join(map(str, path))}"
    value = _JSON_VALUES[int(rng.integers(0, len(_JSON_VALUES)))]
    return _set(meta, path, value), f"set {'.'.join(map(str, path))}"


def mutate(rng: np.random.Generator, members: dict[str, bytes], out: Path) -> str:
    """Write one mutated copy of a model (``members``: its archive) to ``out``; describe it."""
    meta = json.loads(members["meta.json"])
    arrays = {n[len("arrays/"):-len(".npy")]: b for n, b in members.items() if n.startswith("arrays/")}
    names = sorted(arrays)
    what = rng.random()
    if what < 0.5:  # arrays
        steps = []
        for _ in range(int(rng.integers(1, 3))):
            name = names[int(rng.integers(0, len(names)))]
            arr, how = mutate_array(rng, from_npy(arrays[name]))
            arrays[name] = to_npy(arr)
            steps.append(f"{name}: {how}")
        write_model(out, meta, arrays)
        return "; ".join(steps)
    if what < 0.85:  # metadata
        meta, how = mutate_meta(rng, meta)
        write_model(out, meta, arrays)
        return f"meta: {how}"
    kind = int(rng.integers(0, 7))
    name = names[int(rng.integers(0, len(names)))]
    if kind == 0:  # swap two arrays
        other = names[int(rng.integers(0, len(names)))]
        arrays[name], arrays[other] = arrays[other], arrays[name]
        write_model(out, meta, arrays)
        return f"swapped {name} and {other}"
    if kind == 1:
        del arrays[name]
        write_model(out, meta, arrays)
        return f"deleted {name}"
    if kind == 2:
        arrays["zzz_unknown"] = to_npy(np.zeros(3))
        write_model(out, meta, arrays)
        return "unknown array"
    if kind == 3:  # garbage in the .npy header, checksum re-made
        data = bytearray(arrays[name])
        for pos in rng.integers(6, min(len(data), 128), 3):
            data[pos] = int(rng.integers(0, 256))
        arrays[name] = bytes(data)
        write_model(out, meta, arrays)
        return f"{name}: header bytes"
    if kind == 4:  # a name with a newline, or a duplicate member
        extra = [(f"arrays/{name}.npy\n", to_npy(np.zeros(1)))] if rng.random() < 0.5 else \
                [(f"arrays/{name}.npy", to_npy(np.zeros(1)))]
        write_model(out, meta, arrays, extra)
        return "loose or duplicate member name"
    if kind == 5:  # a header declaring a huge shape
        header = arrays[name]
        arrays[name] = header.replace(b"'shape': (", b"'shape': (1099511627776, ", 1)
        write_model(out, meta, arrays)
        return f"{name}: huge declared shape"
    raw = json.dumps(meta).encode()
    if rng.random() < 0.3:  # nested deeper than Python's json recursion allows
        k = int(rng.choice([2_000, 100_000]))
        write_model(out, meta, arrays, meta_bytes=raw[:-1] + b', "zz_deep": ' + b"[" * k + b"]" * k + b"}")
        return f"meta.json nested {k} deep"
    pos = int(rng.integers(0, len(raw)))
    write_model(out, meta, arrays, meta_bytes=raw[:pos] + bytes([int(rng.integers(0, 256))]) + raw[pos + 1:])
    return "meta.json byte"


def _same(a: Any, b: Any) -> bool:
    """Equality that treats NaN as equal to NaN (a NaN confidence is the same answer twice)."""
    return json.dumps(a, default=repr, sort_keys=True).replace("NaN", "nan") == \
        json.dumps(b, default=repr, sort_keys=True).replace("NaN", "nan")


def probe(tagger: Any) -> Any:
    """Everything the tagger answers on the probe inputs, as plain data."""
    out = []
    for text in PROBES:
        ents = tagger.tag(text)
        for e in ents:
            assert text[e.start:e.end] == e.text, (text, e)
        out.append([(e.text, e.type, e.start, e.end, e.score) for e in ents])
    out.append([[(e.text, e.type, e.score) for e in ents] for ents in tagger.tag_batch(PROBES)])
    out.append(tagger.tag_tokens_batch(TOKEN_PROBES))
    return out


def check(path: Path) -> str:
    """``refused`` (one-line ModelError) or ``tags`` (loads and tags alike twice); raises otherwise."""
    from crftag import Tagger
    from crftag.errors import ModelError

    try:
        first = Tagger.load(path, cache_types=64)
    except ModelError as exc:
        text = str(exc)
        assert text and "\n" not in text and "Traceback" not in text, text
        return "refused"
    answers = probe(first)
    second = Tagger.load(path, cache_types=64)
    assert _same(answers, probe(second)), "two loads of the same file tag differently"
    assert _same(answers, probe(first)), "the same tagger tags differently the second time"
    return "tags"


def run(model: Path, n: int, seed: int, workdir: Path) -> dict:
    warnings.filterwarnings("ignore", "Duplicate name", UserWarning)  # duplicates are one of the attacks
    members = read_members(model)
    rng = np.random.default_rng(seed)
    outcomes: Counter = Counter()
    kinds: Counter = Counter()
    t0 = time.perf_counter()
    target = workdir / "mutant.crftag"
    for i in range(n):
        how = mutate(rng, members, target)
        try:
            outcome = check(target)
        except Exception as exc:
            raise SystemExit(f"mutation {i} ({how}) was neither refused nor tagged safely: "
                             f"{type(exc).__name__}: {exc}") from None
        outcomes[outcome] += 1
        kinds[how.split(":")[0] if how.startswith("meta") else how.split(" ")[0]] += 1
    return {"mutations": n, "seed": seed, "refused": outcomes["refused"], "tagged": outcomes["tags"],
            "seconds": round(time.perf_counter() - t0, 1), "by_mutation": dict(sorted(kinds.items()))}


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("n", type=int)
    ap.add_argument("seed", type=int)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        summary = run(args.model, args.n, args.seed, Path(args.out or tmp))
    print(json.dumps(summary))
    sys.stdout.flush()
