"""Every registered name resolves, through the decorators and the entry points."""

from importlib.metadata import entry_points

import pytest
import srsly
from spacy.language import Language
from spacy.util import registry

ARCHITECTURES = ["spacy-elmo.ElmoBiLM.v1"]


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_architectures_resolve(name):
    assert callable(registry.architectures.get(name))


def test_entry_points_name_real_objects():
    groups = {
        "spacy_factories": ["elmo"],
        "spacy_architectures": ARCHITECTURES,
        "srsly_msgpack_encoders": ["spacy_elmo.doc_data"],
        "srsly_msgpack_decoders": ["spacy_elmo.doc_data"],
    }
    for group, names in groups.items():
        found = {ep.name: ep for ep in entry_points(group=group)}
        for name in names:
            assert name in found, (group, name)
            assert callable(found[name].load())


def test_factory_and_msgpack_codecs_registered():
    assert Language.has_factory("elmo")
    assert "spacy_elmo.doc_data" in srsly.msgpack_encoders.get_all()
    assert "spacy_elmo.doc_data" in srsly.msgpack_decoders.get_all()
