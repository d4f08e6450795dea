"""The plain-Python atoms of each kind (crftag.features.kinds): what the compiled atomiser must equal."""

from __future__ import annotations

import pytest

from crftag.features.kinds import make_atom_fn
from crftag.features.kinds.text import shape


@pytest.mark.parametrize("kind, params, token, atoms", [
    ("bias", {}, "Paris", ["1"]),
    ("word", {}, "Paris", ["Paris"]),
    ("lower", {}, "PaRiS", ["paris"]),
    ("prefix", {"lengths": [1, 3, 6]}, "Paris", ["1=p", "3=par"]),
    ("suffix", {"lengths": [2, 3]}, "LONDON", ["2=on", "3=don"]),
    ("casing", {}, "Paris", ["title", "initcap"]),
    ("casing", {}, "NYC", ["upper", "initcap"]),
    ("casing", {}, "iPhone", ["mixedcase"]),
    ("casing", {}, "lol", ["lower"]),
    ("shape", {}, "Paris2", ["Xxxxxd", "s=Xxd"]),
    ("shape", {}, "McDonald's", ["XxXxxxxx'x", "s=XxXx'x"]),
    ("chars", {}, "2016", ["alldigit", "len=4-7"]),
    ("chars", {}, "F-16", ["hasdigit", "haspunct", "hyphen", "len=4-7"]),
    ("chars", {}, "!!", ["allpunct", "len=2"]),
    ("chars", {}, "Massachusetts", ["len=8+"]),
    ("twitter", {}, "@jimmyfallon", ["<USR>"]),
    ("twitter", {}, "#GameOfThrones", ["<HASHTAG>", "body=gameofthrones"]),
    ("twitter", {}, "http://t.co/x", ["<URL>"]),
    ("twitter", {}, "bit.ly/abc", ["<URL>"]),
    ("twitter", {}, "RT", ["<RT>"]),
    ("twitter", {}, ":-)", ["<EMOTICON>"]),
    ("twitter", {}, "<3", ["<EMOTICON>"]),
    ("twitter", {}, "@", []),
    ("twitter", {}, "Paris", []),
])
def test_atoms_of_a_token(kind, params, token, atoms):
    assert make_atom_fn(kind, params)(token) == atoms


def test_shape_keeps_other_characters():
    assert shape("Ünïcode-42!") == "Xxxxxxx-dd!"
    assert shape("") == ""


def test_cluster_atoms_are_path_prefixes_or_none():
    table = {"paris": "0110101", "new": "11"}
    brown = make_atom_fn("brown", {"prefixes": [2, 4], "normalize": "lower"}, table)
    assert brown("Paris") == ["p2=01", "p4=0110"]
    assert brown("new") == ["p2=11", "p4=11"]  # a short path is its own prefix
    assert brown("Zzyzx") == ["none"]
    clark = make_atom_fn("clark", {"normalize": "lower"}, {"paris": "c7"})
    assert clark("PARIS") == ["c7"] and clark("x") == ["none"]


def test_group_kinds_that_are_not_token_level_are_refused():
    with pytest.raises(ValueError, match="not a token-level group kind"):
        make_atom_fn("gazetteer", {})
