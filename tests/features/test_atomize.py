"""The compiled atomizer gives exactly the atoms the kinds' Python definitions give, on any token."""
# ruff: noqa: RUF001  (look-alike letters such as the dotless i are what these tests are about)

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crftag.features.featureset import FeatureSet
from crftag.features.featurize import Featurizer
from crftag.features.hashing import py_fnv1a
from crftag.features.kinds import KINDS, make_atom_fn
from crftag.features.lexicon import Lexicon, read_clusters
from crftag.text.chartable import code_point_table, code_points

ALL_KINDS = FeatureSet.from_dict({"name": "all", "groups": {
    "bias": {}, "lower": {"window": [-2, -1, 0, 1, 2]}, "word": {}, "prefix": {"lengths": [1, 3, 5]},
    "suffix": {"lengths": [2, 4]}, "casing": {}, "shape": {}, "chars": {}, "twitter": {},
    "brown": {"resource": "x", "prefixes": [2, 4, 12]},
    "brown2": {"kind": "brown", "resource": "x", "normalize": "twitterner", "prefixes": [1]},
    "clark": {"resource": "x"}, "clark2": {"kind": "clark", "resource": "x", "normalize": "lower"}}})

# pieces that exercise every rule of the kinds' Python atoms and crftag.features.kinds.clusters.cluster_keys
PIECES = [*"abcxXDPoO8:;=()[]<3@#_-'.,!?/$%&\n\t ", "http://", "https://", "www.", ".com", ".co", "2nd",
          "St", "İ", "ı", "ſ", "K", "Σ", "σ", "ǅ", "ß", "😂", "é", "\u0301", "\ud800", "£", "€", "١", "²",
          "Ⓐ", "ⓐ", "…", "Ⅻ", "NEW", "York", "nba", "#nba", "@", "__isMention__", "5", "1,000", "12th",
          "!!", "ΑΣ", "\u0345"]
EXPLICIT = ["", "a", "A", "Σ", "ΑΣ", "#NBA", "#nba", "nba", "new", "NEW", "@bob", ":)", ":-)", ":o", "xD",
            "x", "<3", "</3", "^_^", "^^", "-_-", "--", "(:", "D:", ":(\n", "\n", "RT", "rt", "Rt",
            "http://t.co", "HTTPS://x", "www.x", "a.com", "a.COM/", "a.co", "a.ly\n", "a.cox", "$5", "£5",
            "12th", "12ſt", "5s", "1.5", "+1", "!!!", "!!\n", "Ⓐⓐ", "ⓐⓐ", "..", "…", "İstanbul", "ǅemal",
            "ᾈ", "Ω", "123", "١٢٣", "²", "x-y", "-x", "a--", "\ud800\udc00", "ΣΑΣ", "a\u0345Σ"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lex")
    (tmp / "paths").write_text("0110\tnew\t5\n0111\tyork\t4\n10\tparis\t3\n110\t#nba\t9\n1110\tobama\t2\n"
                               "0\t__isMention__\t3\n111\tσς\t3\n1\tnba\t3\n", encoding="utf-8")
    (tmp / "clark.txt").write_text("new 3 0.5\n__isMention__ 7 0.9\nparis 12 0.4\n__isNumber__ 4 0.1\n"
                                   "__isURL__ 5 1\n__repeatedPunctuation__ 9 1\n__isHashtag__ 2 1\n"
                                   "__isMoney__ 1 1\n", encoding="utf-8")
    brown, clark = read_clusters(tmp / "paths", "brown"), read_clusters(tmp / "clark.txt", "clark")
    lexicon = Lexicon(clusters={"brown": brown, "brown2": brown, "clark": clark, "clark2": clark})
    reference = [(name, make_atom_fn(p["kind"], p, lexicon.clusters.get(name)))
                 for name, p in ALL_KINDS.groups.items() if KINDS[p["kind"]].token_level]
    return Featurizer(ALL_KINDS, lexicon), reference


def _check(setup, tokens):
    featurizer, reference = setup
    atoms = featurizer.atoms(tokens)
    for i, tok in enumerate(tokens):
        expected = [py_fnv1a(f"{name}|{a}") for name, fn in reference for a in fn(tok)]
        assert atoms.hash[atoms.ptr[i]:atoms.ptr[i + 1]].tolist() == expected, repr(tok)


def test_every_kind_has_a_compiled_twin():
    """Every kind the featuriser makes; stack kinds are made by crftag.stacking instead."""
    from crftag.features.atomize import KIND_CODES
    from crftag.features.kinds import featurized_kinds

    assert set(KIND_CODES) == set(featurized_kinds())
    assert set(KINDS) - set(featurized_kinds()) == {"stack"}


def test_each_kind_sits_with_its_atoms_and_its_own_branch():
    """Every token-level kind has Python atoms and a branch of the compiled atomiser; two kinds
    share a branch only where one reads like the other (a word table like Clark clusters), and
    every token-level kind is in the equivalence tests' feature set."""
    token_level = [k for k in KINDS.values() if k.token_level]
    assert all(k.atoms is not None and k.code >= 0 for k in token_level)
    codes = {k.name: k.code for k in KINDS.values() if k.code >= 0}
    shared = {c for c in codes.values() if list(codes.values()).count(c) > 1}
    assert {n for n, c in codes.items() if c in shared} == {"clark", "table"}
    assert {k.name for k in token_level} - {p["kind"] for p in ALL_KINDS.groups.values()} == {"table"}


def test_explicit_tokens(setup):
    _check(setup, EXPLICIT)


def test_random_tokens_from_tricky_pieces(setup):
    rng = random.Random(0)
    tokens = ["".join(rng.choice(PIECES) for _ in range(rng.randint(0, 8))) for _ in range(20000)]
    _check(setup, list(dict.fromkeys(tokens)))


def test_every_code_point_alone_and_in_context(setup):
    """Each code point (a stride through all of Unicode, every BMP one) as a token, after a
    capital, before a small letter and repeated: casing, shape and class rules per character."""
    cps = [*range(0x10000), *range(0x10000, 0x110000, 61)]
    chars = [chr(c) for c in cps]
    tokens = [*chars, *("A" + c for c in chars[::7]), *(c + "a" for c in chars[::7]),
              *(c * 2 for c in chars[::11])]
    _check(setup, tokens)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=12), min_size=1, max_size=20))
def test_any_text(setup, tokens):
    _check(setup, list(dict.fromkeys(tokens)))


def test_the_code_point_table_matches_python():
    """The tabulated predicates are Python's own, for every code point of the pages built."""
    from crftag.text.chartable import DECIMAL, DIGIT, LOWER, PUNCT, SPACE, TITLE, UPPER, WORD

    table = code_point_table()
    text = "".join(chr(c) for c in range(0x2000))
    cps, _ = code_points([text])
    snap = table.ensure(cps)
    for c in range(0x2000):
        ch = chr(c)
        flags = int(snap.flags[snap.index[c >> 8] * 256 + (c & 255)])
        assert bool(flags & UPPER) == ch.isupper() and bool(flags & LOWER) == ch.islower()
        assert bool(flags & DIGIT) == ch.isdigit() and bool(flags & DECIMAL) == ch.isdecimal()
        assert bool(flags & SPACE) == ch.isspace() and bool(flags & WORD) == (ch.isalnum() or ch == "_")
        assert bool(flags & (TITLE | UPPER)) == ch.istitle()
        import unicodedata

        assert bool(flags & PUNCT) == (unicodedata.category(ch)[0] in "PS")


@pytest.mark.data
def test_every_token_of_wnut16(setup, wnut16_train, wnut16_dev):
    from crftag.io.readers import read_conll

    tokens = {t for path in (wnut16_train, wnut16_dev) for s in read_conll(path) for t in s.tokens}
    _check(setup, sorted(tokens))
