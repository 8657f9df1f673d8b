"""Token strings to the word and character ids of an ELMoForManyLangs model.

Their models look characters up in a dictionary (`char.dic`) instead of reading UTF-8
bytes, and words in a second one (`word.dic`). The rules below are those of their
reference package (`elmoformanylangs` 0.0.4), including its quirks, so that the ids,
and hence the vectors, are the same (docs/languages.md).
"""

from typing import Dict, List, Sequence, Tuple

import numpy as np

from ..errors import ElmoFormatError

BOS_TOKEN = "<bos>"
EOS_TOKEN = "<eos>"
OOV = "<oov>"
PAD = "<pad>"
BOW = "<bow>"
EOW = "<eow>"
# A dictionary line holding only an id stands for this character (their writer
# could not write it: `str.strip` removes it).
IDEOGRAPHIC_SPACE = "\u3000"
REQUIRED_WORDS = (OOV, PAD)
REQUIRED_CHARS = (OOV, PAD, BOW, EOW, BOS_TOKEN, EOS_TOKEN)


def parse_dictionary(text: str, source: str) -> Dict[str, int]:
    """Read a `char.dic` or `word.dic`: one `ENTRY<TAB>ID` per line.

    As in the reference package, each line is stripped of surrounding whitespace
    first, and a line left with only an id stands for U+3000. Empty lines are skipped;
    a later line for the same entry replaces the earlier one.

    text (str): The file's text.
    source (str): The file's name, for error messages.
    RETURNS (Dict[str, int]): Entry to id.
    """
    lexicon: Dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.strip().split("\t")
        if fields == [""]:
            continue
        if len(fields) == 1:
            fields.insert(0, IDEOGRAPHIC_SPACE)
        if len(fields) != 2 or not fields[1].lstrip("-").isdigit() or int(fields[1]) < 0:
            raise ElmoFormatError(
                f"{source}, line {number}: expected ENTRY<TAB>ID with a non-negative "
                f"integer id, found {line!r}"
            )
        lexicon[fields[0]] = int(fields[1])
    return lexicon


def format_dictionary(lexicon: Dict[str, int]) -> str:
    """Write a lexicon in the format `parse_dictionary` reads (U+3000 as a lone id)."""
    lines = []
    for entry, index in lexicon.items():
        lines.append(str(index) if entry == IDEOGRAPHIC_SPACE else f"{entry}\t{index}")
    return "".join(line + "\n" for line in lines)


class TokenDictionaries:
    """The word and character lexicons of an ELMoForManyLangs model and the
    reference package's rules for turning a token into ids.

    word_ids (Optional): None for a model without a word embedding.
    char_ids (Optional): None for a model without a character CNN.
    """

    def __init__(
        self,
        words: Dict[str, int],
        chars: Dict[str, int],
        max_chars: int,
        source: str = "model",
    ) -> None:
        """Check the lexicons hold the special entries the model needs.

        words (Dict[str, int]): word.dic, or {} for a model without word embeddings.
        chars (Dict[str, int]): char.dic, or {} for a model without a character CNN.
        max_chars (int): Character ids per token (max_characters_per_token).
        source (str): The model's name, for error messages.
        """
        checks = ((words, REQUIRED_WORDS, "word.dic"), (chars, REQUIRED_CHARS, "char.dic"))
        for lexicon, required, name in checks:
            missing = [entry for entry in required if lexicon and entry not in lexicon]
            if missing:
                raise ElmoFormatError(f"{source}: {name} lacks the entries {', '.join(missing)}")
        if max_chars < 3:
            raise ElmoFormatError(
                f"{source}: max_characters_per_token must be at least 3, got {max_chars}"
            )
        self.words = words
        self.chars = chars
        self.max_chars = max_chars

    def truncate(self, token: str) -> str:
        """Cut a token to max_chars - 2 characters, room for the word boundaries."""
        return token[: self.max_chars - 2]

    def encode(self, strings: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
        """The ids of distinct token strings (sentence boundaries as "<bos>"/"<eos>").

        Words missing from word.dic get <oov>'s id; so do characters missing from
        char.dic. The word is looked up after truncation. The boundary markers are
        swapped as in the reference package: a word's first slot holds <eow>'s id
        and the slot after its last character <bow>'s; the rest is <pad>.

        strings (Sequence[str]): Token strings.
        RETURNS (Tuple[numpy.ndarray, numpy.ndarray]): Word ids (n,) and character
            ids (n, max_chars), int64; empty arrays for a lexicon the model lacks.
        """
        tokens = [self.truncate(s) for s in strings]
        word_ids = np.zeros(len(tokens) if self.words else 0, dtype=np.int64)
        if self.words:
            oov = self.words[OOV]
            word_ids[:] = [self.words.get(t, oov) for t in tokens]
        if not self.chars:
            return word_ids, np.zeros((0, self.max_chars), dtype=np.int64)
        chars = self.chars
        char_ids = np.full((len(tokens), self.max_chars), chars[PAD], dtype=np.int64)
        char_ids[:, 0] = chars[EOW]
        oov = chars[OOV]
        for row, token in enumerate(tokens):
            ids: List[int]
            if token in (BOS_TOKEN, EOS_TOKEN):
                ids = [chars[token]]
            else:
                ids = [chars.get(c, oov) for c in token]
            char_ids[row, 1 : len(ids) + 1] = ids
            char_ids[row, len(ids) + 1] = chars[BOW]
        return word_ids, char_ids
