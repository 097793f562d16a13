"""Tokeniser and vocabulary for the IMDB reviews.

Tokens are lower-cased words (letters and digits, with an inner apostrophe: ``don't``) and
the punctuation marks ``! ?`` that carry sentiment; the ``<br />`` tags of the raw reviews
are dropped. The vocabulary is built on training text only, so validation and test words
never leak into it: index 0 is padding, 1 the unknown token, then the most frequent words
(ties broken alphabetically, so the vocabulary is reproducible) that occur at least
``min_freq`` times, up to ``max_size`` entries in all.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rnnbench.validate import check_positive

PAD, UNK = "<pad>", "<unk>"
PAD_INDEX, UNK_INDEX = 0, 1

_TAG = re.compile(r"<[^>]*>")
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[!?]")


def tokenize(text: str) -> list[str]:
    """``"Great film!<br /><br />Don't miss it."`` -> ``['great', 'film', '!', "don't", ...]``."""
    return _TOKEN.findall(_TAG.sub(" ", text.lower()))


@dataclass(frozen=True)
class Vocabulary:
    """Token <-> index map; ``tokens[0]`` is :data:`PAD`, ``tokens[1]`` is :data:`UNK`."""

    tokens: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {t: i for i, t in enumerate(self.tokens)})

    def __len__(self) -> int:
        return len(self.tokens)

    @classmethod
    def build(cls, texts: Iterable[Sequence[str]], max_size: int, min_freq: int) -> Vocabulary:
        """The ``max_size - 2`` most frequent tokens seen ``min_freq`` times or more."""
        check_positive("min_freq", min_freq)
        if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 3:
            raise ValueError(
                f"vocab_size={max_size!r} is not accepted: expected an integer >= 3 "
                "(padding, unknown and at least one word)"
            )
        counts = Counter(token for tokens in texts for token in tokens)
        ranked = sorted(
            (item for item in counts.items() if item[1] >= min_freq), key=lambda i: (-i[1], i[0])
        )
        return cls((PAD, UNK, *(token for token, _ in ranked[: max_size - 2])))

    def encode(self, tokens: Sequence[str], max_len: int) -> list[int]:
        """The first ``max_len`` tokens as indices (unknown words -> :data:`UNK_INDEX`).

        An empty review becomes ``[UNK_INDEX]``: every sequence has at least one step.
        """
        index: dict[str, int] = self._index  # type: ignore[attr-defined]
        ids = [index.get(token, UNK_INDEX) for token in tokens[:max_len]]
        return ids or [UNK_INDEX]
