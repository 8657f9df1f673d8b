"""Every config in configs/ trains on small hostile corpora (issue 26, item 2): gold
entities across what a sentencizer would split (`George N . Parks`), a long Doc without
sentence punctuation, Docs of several sentences, empty and one-token Docs, Docs without
entities. The ELMo configs read sentences the biLM layer finds itself
(spacy-elmo.ElmoBiLM.v3, sentences = "punct") and set none on the Doc, so NER trains
wherever its baseline does; the vectors are those of the sentencizer's sentences."""

import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import pytest
import spacy
import torch
from spacy.tokens import Doc, Span
from spacy.util import registry
from thinc.api import Config

from spacy_elmo import ElmoBiLM, save_weights_files
from spacy_elmo.pipeline.bilm_shim import set_bilm
from spacy_elmo.pipeline.segments import segment_docs

from .util import ner_docs, textcat_docs, tiny_options, write_corpus

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
TINY_WIDTH = 16  # tiny_options and the ELMoForManyLangs test model: 2 * projection_dim
LONG = 320  # tokens in the Doc without sentence punctuation (several 64-token windows)

# (words, entities as (start, end, label), sentiment); entities inside sentence-final
# punctuation, several sentences per Doc, one-token Docs, Docs without entities.
EN: List[Tuple[List[str], List[Tuple[int, int, str]], bool]] = [
    ("George N . Parks spoke in Boston .".split(), [(0, 4, "PER"), (6, 7, "LOC")], True),
    ("We met on St . Patty 's Day in Dublin .".split(), [(3, 8, "EVENT"), (9, 10, "LOC")], True),
    ("M . Night filmed it ! It was dull .".split(), [(0, 3, "PER")], False),
    (
        "Alice lives in Paris . Bob flew to Lima ! Was Olga in Oslo ?".split(),
        [
            (0, 1, "PER"),
            (3, 4, "LOC"),
            (5, 6, "PER"),
            (8, 9, "LOC"),
            (11, 12, "PER"),
            (13, 14, "LOC"),
        ],
        True,
    ),
    ('Did Dr . Who go ? " No . " said Amy .'.split(), [(1, 4, "PER"), (11, 12, "PER")], False),
    ("the weather was awful . nothing else happened .".split(), [], False),
    (["Alice"], [(0, 1, "PER")], True),
    (["hello"], [], True),
    ([], [], False),
]
ZH: List[Tuple[str, List[Tuple[int, int, str]], bool]] = [
    ("张。三去了北京。", [(0, 3, "PER"), (5, 7, "LOC")], True),
    ("我们喜欢银行！银行不好？是的。", [], False),
    ("北京", [(0, 2, "LOC")], True),
    ("好", [], True),
    ("", [], False),
]


def long_words(lang: str) -> Tuple[List[str], List[Tuple[int, int, str]]]:
    """A Doc of LONG tokens with no sentence punctuation and an entity."""
    if lang == "zh":
        words = list("我们喜欢银行" * (LONG // 6 + 1))[:LONG]
        words[100:102] = ["北", "京"]
        return words, [(100, 102, "LOC")]
    words = [("the", "bank", "raised", "rates", "and")[i % 5] for i in range(LONG)]
    words[150:152] = ["Maria", "Lopez"]
    return words, [(150, 152, "PER")]


def many_sentences(lang: str) -> Tuple[List[str], List[Tuple[int, int, str]]]:
    """A Doc of 50 sentences, then one with an entity across a sentence-final token.
    NER cuts a Doc this long (more than update_with_oracle_cut_size tokens) by its
    oracle, which fails (E024) when a sentence starts inside a gold entity."""
    if lang == "zh":
        words = list("我们喜欢银行。" * 50 + "张。三去了北京。")
        return words, [(350, 353, "PER"), (355, 357, "LOC")]
    words = "Alice lives in Paris .".split() * 50 + EN[0][0]
    return words, [(250, 254, "PER"), (256, 257, "LOC")]


def hostile_docs(nlp, task: str) -> List[Doc]:
    """The hostile Docs of a language, with NER or textcat gold, plus a few ordinary ones."""
    lang = nlp.lang
    rows = EN if lang == "en" else [(list(text), ents, pos) for text, ents, pos in ZH]
    rows = [*rows, (*long_words(lang), False), (*many_sentences(lang), True)]
    docs = []
    for words, ents, positive in rows:
        doc = Doc(nlp.vocab, words=words, spaces=[lang == "en"] * len(words))
        if task == "ner":
            doc.ents = [Span(doc, start, end, label=label) for start, end, label in ents]
        else:
            doc.cats = {"POS": float(positive), "NEG": float(not positive)}
        docs.append(doc)
    if lang == "en":
        docs += ner_docs(nlp, 8) if task == "ner" else textcat_docs(nlp, 8)
    return docs


def config_kind(path: Path) -> Tuple[str, str, bool]:
    """(language, task, whether it runs ELMo) of a config."""
    config = Config().from_disk(path, interpolate=False)
    pipeline = config["nlp"]["pipeline"]
    task = "ner" if "ner" in pipeline else "textcat"
    return config["nlp"]["lang"], task, "elmo" in pipeline


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> Dict[Tuple[str, str], str]:
    path = tmp_path_factory.mktemp("hostile")
    return {
        (lang, task): write_corpus(
            hostile_docs(spacy.blank(lang), task), path / f"{lang}_{task}.spacy"
        )
        for lang in ("en", "zh")
        for task in ("ner", "textcat")
    }


@pytest.fixture(scope="module")
def en_weights(tmp_path_factory) -> str:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("bilm") / "bilm"
    save_weights_files(ElmoBiLM(tiny_options()), path)
    return str(path)


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.cfg")), ids=lambda p: p.stem)
def test_every_config_trains_on_hostile_corpora(tmp_path, monkeypatch, corpora, en_weights, path):
    """A few steps of `spacy train` on the hostile corpus of the config's language and
    task (train and dev), the ELMo configs on a tiny random biLM."""
    lang, task, elmo = config_kind(path)
    corpus = corpora[(lang, task)]
    cmd = [sys.executable, "-m", "spacy", "train", str(path), "--output", str(tmp_path / "out")]
    cmd += ["--paths.train", corpus, "--paths.dev", corpus]
    cmd += ["--training.max_steps=4", "--training.eval_frequency=2"]
    if elmo:
        weights: Optional[str] = en_weights
        if lang == "zh":  # the ELMoForManyLangs path, one token per character
            from .test_manylangs import write_reference_model

            weights = str(write_reference_model(tmp_path / "zh-elmo", monkeypatch))
        cmd += ["--paths.elmo_weights", str(weights), f"--variables.elmo_width={TINY_WIDTH}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    trained = spacy.load(tmp_path / "out" / "model-last")
    assert "sentencizer" not in trained.pipe_names  # nothing sets sentences for ELMo
    doc = trained("George N . Parks" if lang == "en" else "张。三去了北京。")
    if elmo:
        assert doc._.elmo.vectors.shape == (len(doc), TINY_WIDTH)


def bilm_layer(name: str, bilm: ElmoBiLM, **settings):
    model = registry.architectures.get(name)(**settings)
    set_bilm(model, bilm)
    return model


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_punct_sentences_give_the_sentencizer_vectors(tiny_bilm, lang):
    """v3 with sentences = "punct" on a Doc without boundaries gives exactly the layers
    v2 gives on the same Doc after spaCy's sentencizer, and sets nothing on the Doc."""
    nlp = spacy.blank(lang)
    text = (
        'George N . Parks spoke. "Did Dr. Who go?" she asked!! No . Then she left'
        if lang == "en"
        else "张。三去了北京。我们喜欢银行！银行不好？是的"
    )
    with_sents = nlp.make_doc(text)
    nlp.add_pipe("sentencizer")(with_sents)
    plain = nlp.make_doc(text)
    assert len(list(with_sents.sents)) >= 4
    v2 = bilm_layer("spacy-elmo.ElmoBiLM.v2", tiny_bilm, window=6)
    v3 = bilm_layer("spacy-elmo.ElmoBiLM.v3", tiny_bilm, window=6, sentences="punct")
    expected = v2.predict([with_sents])[0]
    np.testing.assert_array_equal(v3.predict([plain])[0], expected)
    assert not plain.has_annotation("SENT_START")
    # "punct" reads its own sentences whatever the Doc's; "none" reads none.
    np.testing.assert_array_equal(v3.predict([with_sents])[0], expected)
    none = bilm_layer("spacy-elmo.ElmoBiLM.v3", tiny_bilm, window=6, sentences="none")
    v2_plain = bilm_layer("spacy-elmo.ElmoBiLM.v2", tiny_bilm, window=6).predict([plain])[0]
    np.testing.assert_array_equal(none.predict([with_sents])[0], v2_plain)
    assert not np.array_equal(v2_plain, expected)


def test_segments_of_hostile_docs():
    """Windows cap every sentence; empty Docs give no segment; "doc" without
    boundaries, and "none", read windows of the whole Doc."""
    nlp = spacy.blank("en")
    docs = hostile_docs(nlp, "ner")
    by_doc: Dict[int, List[List[str]]] = {}
    for i, _, words in segment_docs(docs, 64, "punct"):
        by_doc.setdefault(i, []).append(words)
    assert all(0 < len(words) <= 64 for parts in by_doc.values() for words in parts)
    assert by_doc[0] == [["George", "N", "."], ["Parks", "spoke", "in", "Boston", "."]]
    # Closing punctuation stays with its sentence.
    assert by_doc[4] == [["Did", "Dr", "."], ["Who", "go", "?", '"'], ["No", ".", '"'],
                         ["said", "Amy", "."]]  # fmt: skip
    assert 8 not in by_doc  # the empty Doc
    assert [len(words) for words in by_doc[9]] == [64] * 5  # LONG tokens, no punctuation
    for mode in ("doc", "none"):
        assert [len(w) for i, _, w in segment_docs(docs, 64, mode) if i == 0] == [8]
    custom = segment_docs(docs[:1], 64, "punct", frozenset({"spoke"}))
    assert [words for _, _, words in custom][0] == ["George", "N", ".", "Parks", "spoke"]


def test_v3_refuses_an_unknown_sentence_mode():
    with pytest.raises(ValueError, match="sentences must be one of"):
        registry.architectures.get("spacy-elmo.ElmoBiLM.v3")(sentences="sentencizer")
