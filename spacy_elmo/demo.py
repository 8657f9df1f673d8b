"""The demo: ambiguous words whose ELMo vectors group by sense.

Each word comes in several sentences per sense. A biLM that uses context gives an
occurrence a vector closer to the other occurrences of the same sense (within) than
to those of the other sense (across); a context-free embedding gives every
occurrence the same vector, so the two are equal.
"""

from dataclasses import dataclass
from itertools import combinations
from typing import Dict, List, Union

import numpy as np

from .io.embedder import ElmoEmbedder

# word -> sense -> whitespace-tokenized sentences, each holding the word once
SENSES: Dict[str, Dict[str, List[str]]] = {
    "bank": {
        "money": [
            "The bank raised its interest rates again .",
            "Deposits at the bank grew by ten percent last year .",
            "He borrowed money from the bank to buy a house .",
            "The bank refused to lend him any more money .",
        ],
        "river": [
            "She sat on the river bank and watched the boats .",
            "Fish gathered near the muddy bank of the stream .",
            "They walked along the bank of the river at sunset .",
            "The boat drifted slowly toward the grassy bank .",
        ],
    },
    "bass": {
        "fish": [
            "He caught a large bass in the lake this morning .",
            "We had grilled bass and potatoes for dinner .",
            "The fisherman sold bass and trout at the market .",
            "A bass swam slowly under the boat .",
        ],
        "music": [
            "He plays the bass in a jazz band .",
            "The bass and the drums kept the rhythm steady .",
            "She sang the bass part in the choir .",
            "The deep notes of the bass filled the concert hall .",
        ],
    },
    "bat": {
        "animal": [
            "A bat flew out of the cave at night .",
            "The bat hung upside down from the branch .",
            "Every evening a bat hunted insects over the pond .",
            "The little bat spread its wings and flew away .",
        ],
        "sport": [
            "He swung the bat and hit the ball over the fence .",
            "The player dropped his bat and ran to first base .",
            "She bought a new cricket bat for the match .",
            "He gripped the bat and waited for the next pitch .",
        ],
    },
    "plant": {
        "factory": [
            "The car plant employs two thousand workers .",
            "The power plant was closed after the accident .",
            "Workers at the steel plant went on strike .",
            "The company built a new chemical plant near the city .",
        ],
        "vegetation": [
            "She watered the plant on the window sill .",
            "This plant grows best in the shade .",
            "The plant had green leaves and small white flowers .",
            "He dug up the plant and moved it to the garden .",
        ],
    },
}


@dataclass
class SenseScore:
    """The mean cosine similarity of a word's occurrences: between pairs of the same
    sense (within) and of different senses (across)."""

    word: str
    within: float
    across: float

    @property
    def separates(self) -> bool:
        """Whether occurrences of one sense are closer to each other than to the other's."""
        return self.within > self.across


def sense_scores(
    embedder: ElmoEmbedder,
    senses: Dict[str, Dict[str, List[str]]] = SENSES,
    layer: Union[str, int] = 1,
) -> List[SenseScore]:
    """Embed every sentence and compare each word's vectors within and across senses.

    embedder (ElmoEmbedder): The biLM to show.
    senses (Dict[str, Dict[str, List[str]]]): word -> sense -> sentences.
    layer (Union[str, int]): A layer index (default 1: the first LSTM layer),
        "top" or "average" of all layers.
    RETURNS (List[SenseScore]): One per word, in the order of `senses`.
    """
    scores = []
    for word, by_sense in senses.items():
        labels = [sense for sense, sentences in by_sense.items() for _ in sentences]
        token_lists = [s.split() for sentences in by_sense.values() for s in sentences]
        for tokens in token_lists:
            if tokens.count(word) != 1:
                raise ValueError(f"Demo sentence {' '.join(tokens)!r} must hold {word!r} once")
        layers = embedder.embed_sentences(token_lists)
        vectors = np.stack(
            [_pick(lay, layer)[tokens.index(word)] for lay, tokens in zip(layers, token_lists)]
        )
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        within: List[float] = []
        across: List[float] = []
        for i, j in combinations(range(len(unit)), 2):
            (within if labels[i] == labels[j] else across).append(float(unit[i] @ unit[j]))
        scores.append(SenseScore(word, float(np.mean(within)), float(np.mean(across))))
    return scores


def _pick(layers: np.ndarray, layer: Union[str, int]) -> np.ndarray:
    """(n_layers, n_tokens, dim) -> (n_tokens, dim)."""
    if layer == "top":
        return layers[-1]
    if layer == "average":
        return layers.mean(axis=0)
    if isinstance(layer, int) and -len(layers) <= layer < len(layers):
        return layers[layer]
    raise ValueError(
        f"--layer must be top, average or a layer index below {len(layers)}, got {layer!r}"
    )
