"""People's Daily tags as Chinese NER entities (scripts/zh_ner.py)."""

import pytest

from scripts.zh_ner import parse_tagged


@pytest.mark.parametrize(
    "line,text,entities",
    [
        # A surname and a given name tagged apart are one person.
        ("主席/n  江/nr  泽民/nr  讲话/n", "主席江泽民讲话", [("江泽民", "PER")]),
        # Two names apart are two people, however close.
        (
            "江/nr  泽民/nr  、/w  李/nr  鹏/nr",
            "江泽民、李鹏",
            [("江泽民", "PER"), ("李鹏", "PER")],
        ),
        # Places and organisations are one entity per word, even side by side.
        (
            "广东/ns  深圳/ns  新华社/nt",
            "广东深圳新华社",
            [("广东", "LOC"), ("深圳", "LOC"), ("新华社", "ORG")],
        ),
        # A bracketed compound is one entity of its tag, replacing its words' own.
        ("[中国/ns  政府/n]nt  代表团/n", "中国政府代表团", [("中国政府", "ORG")]),
        ("[香港/ns  特别/a  行政区/n]ns  。/w", "香港特别行政区。", [("香港特别行政区", "LOC")]),
        # A compound of another tag leaves its words' entities alone.
        ("[北京/ns  大学/n]nz", "北京大学", [("北京", "LOC")]),
        # Other proper nouns (nz, nx) and a word with a slash in it are no entity.
        ("奥运会/nz  ＷＴＯ/nx  １/２/m", "奥运会ＷＴＯ１/２", []),
        ("", "", []),
    ],
)
def test_tagged_words_become_entities(line, text, entities):
    plain, spans = parse_tagged(line)
    assert plain == text
    assert [(plain[start:end], label) for start, end, label in spans] == entities
