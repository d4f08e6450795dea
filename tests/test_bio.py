import random

import numpy as np

from crftag.bio import allowed_starts, allowed_transitions, chunks, from_bioes, is_valid_tag, to_bioes


def test_chunks_follow_conlleval():
    assert chunks(["B-per", "I-per", "O", "B-loc"]) == [("per", 0, 2), ("loc", 3, 4)]
    # I- without B- starts a chunk
    assert chunks(["O", "I-per", "I-per"]) == [("per", 1, 3)]
    # a type change inside a span splits it
    assert chunks(["B-per", "I-loc"]) == [("per", 0, 1), ("loc", 1, 2)]
    # B after B starts a new chunk; entity at the end is closed
    assert chunks(["B-per", "B-per"]) == [("per", 0, 1), ("per", 1, 2)]
    assert chunks([]) == []


def test_valid_tags():
    assert is_valid_tag("O") and is_valid_tag("B-geo-loc") and is_valid_tag("I-x")
    assert not is_valid_tag("B") and not is_valid_tag("X-per") and not is_valid_tag("B-")


def test_bio_constraints():
    labels = ["O", "B-a", "I-a", "B-b", "I-b"]
    allowed = allowed_transitions(labels)
    assert not allowed[0, 2] and allowed[1, 2] and allowed[2, 2] and not allowed[3, 2]
    assert allowed[0, 1] and allowed[2, 0]
    np.testing.assert_array_equal(allowed_starts(labels), [True, True, False, True, False])


def test_bioes_marks_chunk_ends_and_single_tokens():
    tags = ["O", "B-a", "I-a", "I-a", "O", "B-b", "I-a", "O", "I-c", "B-c", "B-c"]
    assert to_bioes(tags) == ["O", "B-a", "I-a", "E-a", "O", "S-b", "S-a", "O", "S-c", "S-c", "S-c"]
    back = ["O", "B-a", "I-a", "I-a", "O", "B-b", "B-a", "O", "B-c", "B-c", "B-c"]
    assert from_bioes(to_bioes(tags)) == back


def test_bioes_round_trip_keeps_conllevals_chunks():
    rng = random.Random(0)
    for _ in range(2000):
        tags = [rng.choice(["O", "B-a", "I-a", "B-b", "I-b"]) for _ in range(rng.randint(0, 9))]
        assert chunks(from_bioes(to_bioes(tags))) == chunks(tags)
        assert from_bioes(tags) == tags  # BIO stays BIO
