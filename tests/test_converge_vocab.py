"""Tokeniser and vocabulary: reproducible, built on training text only, capped, padded."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnbench.converge.vocab import PAD, PAD_INDEX, UNK, UNK_INDEX, Vocabulary, tokenize


def test_tokenize_lowercases_drops_tags_keeps_contractions_and_sentiment_marks() -> None:
    text = "Great film!<br /><br />Don't miss it... 10/10?"
    assert tokenize(text) == ["great", "film", "!", "don't", "miss", "it", "10", "10", "?"]


def test_build_counts_only_given_texts_ranks_by_frequency_then_alphabet() -> None:
    texts = [["b", "a", "c", "a"], ["c", "b", "d"], ["e"]]
    vocab = Vocabulary.build(texts, max_size=10, min_freq=2)
    assert vocab.tokens == (PAD, UNK, "a", "b", "c")  # a, b, c twice (tie: alphabetical)
    assert vocab.tokens[PAD_INDEX] == PAD and vocab.tokens[UNK_INDEX] == UNK


def test_max_size_counts_the_special_tokens() -> None:
    texts = [["x"] * 5 + ["y"] * 4 + ["z"] * 3]
    assert Vocabulary.build(texts, max_size=4, min_freq=1).tokens == (PAD, UNK, "x", "y")


def test_encode_truncates_and_maps_unknown_words() -> None:
    vocab = Vocabulary.build([["good", "good", "bad"]], max_size=10, min_freq=1)
    assert vocab.encode(["good", "ugly", "bad", "good"], max_len=3) == [2, UNK_INDEX, 3]
    assert vocab.encode([], max_len=5) == [UNK_INDEX]  # every sequence has a step


@given(st.lists(st.lists(st.sampled_from("abcdefgh"), max_size=12), max_size=8),
       st.integers(3, 12), st.integers(1, 3))
def test_vocabulary_invariants(texts, max_size, min_freq) -> None:
    vocab = Vocabulary.build(texts, max_size=max_size, min_freq=min_freq)
    assert len(vocab) <= max_size and len(set(vocab.tokens)) == len(vocab)
    counts = {t: sum(text.count(t) for text in texts) for t in vocab.tokens[2:]}
    assert all(c >= min_freq for c in counts.values())
    ranked = list(counts.values())
    assert ranked == sorted(ranked, reverse=True)
    for text in texts:
        ids = vocab.encode(text, max_len=100)
        assert all(0 < i < len(vocab) for i in ids)  # never padding


@pytest.mark.parametrize(("max_size", "min_freq", "message"), [
    (2, 1, "vocab_size=2 is not accepted"), (10, 0, "min_freq=0 is not accepted"),
])
def test_bad_arguments_are_named(max_size, min_freq, message) -> None:
    with pytest.raises(ValueError, match=message):
        Vocabulary.build([["a"]], max_size=max_size, min_freq=min_freq)
