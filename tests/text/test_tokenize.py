import re
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crftag.io.readers import read_conll
from crftag.text.tokenize import tokenize, tokenize_batch, tokenize_regex


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@jimmy_fallon hi", ["@jimmy_fallon", "hi"]),
        ("love #NewYork !!!", ["love", "#NewYork", "!!!"]),
        ("see http://t.co/abc123, now", ["see", "http://t.co/abc123", ",", "now"]),
        ("www.google.com/x?y=1.", ["www.google.com/x?y=1", "."]),
        ("don't I'm y'all", ["don't", "I'm", "y'all"]),
        ("so happy :) :-( <3 ;D", ["so", "happy", ":)", ":-(", "<3", ";D"]),
        ("in the U.S. at 10:30pm for $5.99", ["in", "the", "U.S.", "at", "10:30pm", "for", "$5.99"]),
        ("Tom &amp; Jerry", ["Tom", "&amp;", "Jerry"]),
        ("mail a.b@c.com", ["mail", "a.b@c.com"]),
        ("wait...what", ["wait", "...", "what"]),
        ("😂😂 ok", ["😂", "😂", "ok"]),
    ],
)
def test_twitter_tokens_kept_whole(text, expected):
    assert tokenize(text)[0] == expected


@pytest.mark.parametrize("text", ["", "   ", "a\u200db", "\x00x\x00", "مرحبا بالعالم", "e\u0301t\u00e9",
                                  "x" * 5000, "\ud800 lone"])
def test_offsets_slice_the_input_and_cover_every_non_space(text):
    tokens, spans = tokenize(text)
    assert [text[s:e] for s, e in spans] == tokens
    covered = "".join(tokens)
    assert covered == "".join(ch for ch in text if not ch.isspace())


def test_fast_tokenizer_equals_the_regex_definition():
    """The compiled tokenizer gives the regex's tokens and spans on random mixes."""
    import random

    alphabet = [*"abcxXDPo8:;=()[]<3@#_-'.,!?/$%&", "http://t.co/a", " ", "  ", "\t", "é", "ß",
                "😂", "\u200d", "www.", ".com", "2nd"]
    rng = random.Random(0)
    samples = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(3000)]
    samples += ["xoxo XOXO xDxD Xbox xbox", "I'm at the U.S. embassy w/ @bob :-) #yay http://x.co/y."]
    for text in samples:
        assert tokenize(text) == tokenize_regex(text), text


# --- the compiled tokenizer is exactly the regex -------------------------------------------------

# What the pattern cares about: URL prefixes, mentions, hashtags, entities, emoticon parts, numbers with
# separators and suffixes, abbreviations, joiners inside words, e-mail and domain shapes (every TLD),
# \b after a TLD, non-ASCII letters and digits (\w, \d), combining marks, emoji, ZWJ, lone surrogates
SPACES = [" ", "  ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\u00a0", "\u1680", "\u2009",
          "\u2028", "\u2029", "\u202f", "\u3000"]
PIECES = [
    "http://", "https://", "http:/", "https", "www.", "www", "t.co/a", "x.co/y.", "<", ">", '"', "'", ")",
    "]", "}", "?!", ".,", "@", "#", "@a", "#b", "&", "&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#39;",
    "&#", "&amp", ";", ":", "=", "8", "x", "X", "-", "o", "O", "*", "^", "(", "[", "d", "D", "p", "P", "/",
    "\\", "|", "3", "{", "$", "_", "<3", "</3", "^_^", "-_-", "o_O", "T_T", ";_;", ":-)", ":o", ":o)", "xD",
    "D:", ">:(", "0", "1", "12", "1.5", "10:30", "1,000", "1/2", "%", "st", "nd", "rd", "th", "am", "pm",
    "k", "s", "\u00a3", "\u20ac", "U.S.", "e.g.", "a.", "b", "I", "don't", "y\u2019all", "x-ray", "a--b",
    "\u2019", "\u2026", "...", "!!", "->", "<-", "=>", "--", "*bold*", "+", "a.b@c.com", "a@b.c", "@c.",
    "u_s.er+1@", "-.", ".-",
    *(f".{tld}" for tld in ("com", "org", "net", "edu", "gov", "co", "io", "ly", "me", "tv", "uk", "de", "fr",
                            "us", "info", "biz")),
    ".COM", ".com/", "/path", "\u00e9", "\u00df", "\u03a9", "\u0661", "\u0663", "\u00b2", "\u00bd",
    "\u0301", "\u0915\u094d", "\U0001f602", "\U0001f469\u200d\U0001f4bb", "\u200d", "\u200b", "\ud800",
    "\udfff", "\U00010400", "\U0001d7d8", *SPACES,
]
CHARS = sorted({ch for piece in PIECES for ch in piece} | set("acemnotuwzAT09"))
DIFF = settings(max_examples=1500, derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

mixed_pieces = st.lists(st.sampled_from(PIECES), max_size=14).map("".join)
# a few characters repeated: the runs and chains the regex backtracks over
small_alphabets = st.lists(st.sampled_from(CHARS), min_size=1, max_size=5, unique=True).flatmap(
    lambda alphabet: st.text(st.sampled_from(alphabet), max_size=40))
any_code_points = st.text(st.characters(codec=None, exclude_categories=()), max_size=30)


@DIFF
@given(mixed_pieces)
def test_equals_the_regex_on_mixed_pieces(text):
    assert tokenize(text) == tokenize_regex(text)


@DIFF
@given(small_alphabets)
def test_equals_the_regex_on_small_alphabets(text):
    assert tokenize(text) == tokenize_regex(text)


@settings(max_examples=500, derandomize=True, deadline=None)
@given(st.lists(st.one_of(mixed_pieces, any_code_points), max_size=3).map("".join))
def test_equals_the_regex_on_any_code_points(text):
    assert tokenize(text) == tokenize_regex(text)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.lists(st.one_of(mixed_pieces, small_alphabets), max_size=8))
def test_batch_equals_one_text_at_a_time(texts):
    assert tokenize_batch(texts) == [tokenize(t) for t in texts]


def test_batch_tokens_never_span_texts():
    texts = ["a.co", "m x", "http://x", "y", "a@b.c", "de", "1.5", "x", "U.", "S.", "<3", "3", "", "", ":",
             ")", "&amp", ";", "a", "\u00e9"]
    assert tokenize_batch(texts) == [tokenize_regex(t) for t in texts]
    assert tokenize_batch([]) == []
    assert tokenize_batch([""]) == [([], [])]


# Every subtle point of the regex's semantics, with what `re` returns (the test also checks it does).
SUBTLE = [
    # URL: the greedy body gives back characters to end on a _UE; without one the whole body is kept
    ("http://x.co/y.", ["http://x.co/y", "."]),
    ("http://a'b'", ["http://a'b", "'"]),
    ("(see http://x.com/a)", ["(", "see", "http://x.com/a", ")"]),
    ("www.a...", ["www.a..."]),
    ("http://...", ["http://..."]),
    ("www.)", ["www.)"]),
    ("http://a<b", ["http://a", "<", "b"]),
    ("www.ab.?!", ["www.ab", ".", "?!"]),
    # https? : with the "s" the rest must follow it, without it ":" must be where the "s" is
    ("https:/x", ["https", ":/", "x"]),
    ("httpsx://a", ["httpsx", "://", "a"]),
    # e-mail: [\w.-]+\w needs two characters after the ".", ending on a \w; "." and "-" may lead
    ("a@b.c", ["a", "@b", ".", "c"]),
    ("a@b.c.", ["a", "@b", ".", "c", "."]),
    ("a@b.cd.", ["a@b.cd", "."]),
    ("a@b..c", ["a@b..c"]),
    ("a@-.x-y", ["a@-.x-y"]),
    (".-a@b.cd", [".-a@b.cd"]),
    ("+@a.bc", ["+@a.bc"]),
    ("a@b.c_", ["a@b.c_"]),
    ("1@2.34", ["1@2.34"]),
    ("a.b@c", ["a", ".", "b", "@c"]),
    # domain: the deepest label node with a TLD followed by \b wins; "com" is tried before "co"
    ("google.co.uk", ["google.co.uk"]),
    ("a.com.au", ["a.com", ".", "au"]),
    ("a.com.b", ["a.com", ".", "b"]),
    ("a.co.m", ["a.co", ".", "m"]),
    ("x.y.z.info.", ["x.y.z.info", "."]),
    ("a.com/path?x=1", ["a.com/path?x=1"]),
    ("a.comb", ["a", ".", "comb"]),
    ("a.co_", ["a", ".", "co_"]),
    ("a.COM", ["a", ".", "COM"]),
    ("-.com", ["-.com"]),
    # \b and (?!\w) with non-ASCII \w: letters, decimal and non-decimal digits
    ("a.comé", ["a", ".", "comé"]),
    ("a.com\u0661", ["a", ".", "com\u0661"]),
    ("a.com²", ["a", ".", "com²"]),
    ("12²", ["12²"]),
    ("\u0661\u0662", ["\u0661\u0662"]),
    ("²", ["²"]),
    # number: every \d+ is maximal; without a suffix or (?!\w) it ends at the last separator
    ("1.5x", ["1", ".", "5x"]),
    ("1.5.7x", ["1.5", ".", "7x"]),
    ("10:30pm", ["10:30pm"]),
    ("3:30:", ["3:30", ":"]),
    ("5st", ["5st"]),
    ("5stx", ["5stx"]),
    ("1st.", ["1st", "."]),
    ("50%off", ["50", "%", "off"]),
    ("1,000,000 1/2/2016 5k 5am 5s £5 €5", ["1,000,000", "1/2/2016", "5k", "5am", "5s", "£5", "€5"]),
    # emoticons come before numbers: "$" is a mouth and "8" an eye
    ("$8.50", ["$8", ".", "50"]),
    ("$x", ["$x"]),
    ("$5", ["$5"]),
    ("28)", ["28", ")"]),
    # emoticons: "o" and "*" are both nose and mouth; (?!\w) after a reversed face
    (":o", [":o"]),
    (":o)", [":o)"]),
    (":**", [":**"]),
    (":-", [":", "-"]),
    (">:(", [">:("]),
    ("D:", ["D:"]),
    ("D:x", ["D", ":", "x"]),
    ("@:", ["@:"]),
    ("xoxo", ["xo", "xo"]),
    ("<333 </3 ^_____^ ^^ -__- o_O T_T ;_; 8-)", ["<333", "</3", "^_____^", "^^", "-__-", "o_O", "T_T", ";_;",
                                                  "8-)"]),
    # abbreviations: ASCII letters only, two pairs at least
    ("U.S", ["U", ".", "S"]),
    ("a.b.c", ["a.b.", "c"]),
    ("e.g.,", ["e.g.", ","]),
    ("é.g.", ["é", ".", "g", "."]),
    # words and punctuation
    ("rock\u2019n\u2019roll a-b-c a'b'c", ["rock\u2019n\u2019roll", "a-b-c", "a'b'c"]),
    ("a--b a''b a' 'a", ["a", "--", "b", "a", "'", "'", "b", "a", "'", "'", "a"]),
    ("--> <- => ... .. …… !?! ** *bold*", ["--", ">", "<-", "=>", "...", "..", "……", "!?!", "*", "*",
                                         "*bold*"]),
    ("&#; &amp &AMP; &#39;", ["&", "#", ";", "&", "amp", "&", "AMP", ";", "&#39;"]),
    ("@ @_", ["@", "@_"]),
    # Unicode whitespace separates; other invisible characters are tokens
    ("a\u00a0b\u2028c\x1cd\x85e", ["a", "b", "c", "d", "e"]),
    ("a\u200bb \u200d", ["a", "\u200b", "b", "\u200d"]),
    ("e\u0301 \U0001f468\u200d\U0001f469 \U00010400x \ud800\udfff", ["e", "\u0301", "\U0001f468", "\u200d",
                                                                     "\U0001f469", "\U00010400x", "\ud800",
                                                                     "\udfff"]),
]


@pytest.mark.parametrize(("text", "expected"), SUBTLE)
def test_subtle_regex_semantics(text, expected):
    assert tokenize_regex(text)[0] == expected
    assert tokenize(text) == tokenize_regex(text)
    assert tokenize_batch([text, text]) == [tokenize_regex(text)] * 2


def test_character_classes_agree_with_re():
    """The kernel's classes (Python's predicates through the code-point table) are re's, on the whole
    BMP and on every astral page that holds a digit (building all 4,352 pages takes seconds)."""
    from crftag.text.chartable import code_point_table
    from crftag.text.tokenize import _D, _DERIVED, _S, _W, _classify

    pages = {c >> 8 for c in range(0x10000, 0x110000) if chr(c).isdigit()} | {0x104, 0x1F6, 0xE00, 0x10FF}
    cps = np.concatenate([np.arange(0x10000), *(np.arange(p << 8, (p + 1) << 8) for p in sorted(pages))])
    cps = cps.astype(np.uint32)
    cls = np.empty(len(cps) + 1, dtype=np.int32)
    _classify(cps, len(cps), code_point_table().ensure(cps), cls)
    text = "".join(map(chr, cps.tolist()))
    for bit, pattern in [(_W, r"\w"), (_D, r"\d"), (_S, r"\s"), *_DERIVED]:
        expected = np.zeros(len(cps), dtype=bool)
        expected[[m.start() for m in re.finditer(pattern, text)]] = True
        assert np.array_equal(cls[:-1] & bit != 0, expected), pattern


CORPORA = ["wnut16:train", "wnut16:dev", "wnut17:train", "wnut17:dev", "btc:a", "btc:b", "btc:e", "btc:g",
           "btc:h", "twitter2015:train", "twitter2015:valid", "twitter2017:train", "twitter2017:valid"]


@pytest.mark.data
@pytest.mark.parametrize("name", CORPORA)
def test_equals_the_regex_on_real_tweets(name):
    """Every sentence of the corpus, its tokens joined by spaces."""
    from conftest import registry_file

    texts = [" ".join(s.tokens) for s in read_conll(registry_file(name), labelled=False)]
    expected = [tokenize_regex(t) for t in texts]
    batch = tokenize_batch(texts)
    assert [t for t, got, want in zip(texts, batch, expected, strict=True) if got != want] == []
    assert [t for t, want in zip(texts, expected, strict=True) if tokenize(t) != want] == []


# Inputs on which the regex is quadratic (it rescans a long run at every start position)
QUADRATIC = {
    "dot-dash": lambda k: ".-" * k,
    "a-plus": lambda k: "a+" * k,
    "a-dot": lambda k: "a." * k,
    "dash-dot": lambda k: "-." * k,
    "number-chain": lambda k: "1.1" * k + "x",
    "a-at": lambda k: "a@" * k,
    "mail-host": lambda k: ".-" * k + "@" + "b" * k,
    "mail-tail": lambda k: "a@b." + ".-" * k,
    "www": lambda k: "www." * k,
    "http": lambda k: "http://" * k,
    "http-dots": lambda k: "http://" + "a." * k,
    "labels": lambda k: "co." * k + "x",
    "underscores": lambda k: "a" + "_" * k + "b",
    "apostrophes": lambda k: "a" + "'" * k + "b",
    "hyphens": lambda k: "a" + "-" * k + "b",
    "word-joiners": lambda k: "a-" * k,
    "currency": lambda k: "$1" * k + "a",
    "stars": lambda k: "*a" * k,
    "carets": lambda k: "^" + "_" * k,
}


@pytest.mark.parametrize("name", list(QUADRATIC))
def test_linear_time_on_the_regex_worst_cases(name):
    make = QUADRATIC[name]
    small = make(1000)
    assert tokenize(small) == tokenize_regex(small)
    text = make(1_000_000)[:1_000_000]
    start = time.perf_counter()
    tokens = tokenize(text)[0]
    assert time.perf_counter() - start < 5.0  # about 0.01-0.5 s; the regex needs hours on some
    assert "".join(tokens) == "".join(text.split())
