import pytest

from crftag.tokenize import tokenize


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
    """Whitespace chunking plus the alphabetic shortcut change nothing."""
    import random

    from crftag.tokenize import tokenize_regex

    alphabet = [*"abcxXDPo8:;=()[]<3@#_-'.,!?/$%&", "http://t.co/a", " ", "  ", "\t", "é", "ß",
                "😂", "\u200d", "www.", ".com", "2nd"]
    rng = random.Random(0)
    samples = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(3000)]
    samples += ["xoxo XOXO xDxD Xbox xbox", "I'm at the U.S. embassy w/ @bob :-) #yay http://x.co/y."]
    for text in samples:
        assert tokenize(text) == tokenize_regex(text), text
