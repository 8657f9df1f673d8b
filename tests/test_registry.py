"""Every registered name resolves, through the decorators and the entry points."""

from importlib.metadata import entry_points

import pytest
import srsly
from spacy.language import Language
from spacy.util import registry

ARCHITECTURES = [
    "spacy-elmo.ElmoBiLM.v1",
    "spacy-elmo.ElmoBiLM.v2",
    "spacy-elmo.ElmoBiLM.v3",
    "spacy-elmo.ElmoListener.v1",
    "spacy-elmo.ElmoTok2Vec.v1",
    "spacy-elmo.ElmoConcatTok2Vec.v1",
    "spacy-elmo.ElmoBiLSTMTok2Vec.v1",
    "spacy-elmo.ElmoEmbed.v1",
    "spacy-elmo.TextCatFusion.v1",
]


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


def test_architectures_build_from_config():
    """Each name builds a thinc Model from a minimal config block."""
    from thinc.api import Config, Model

    config = Config().from_str(
        """
        [bilm]
        @architectures = "spacy-elmo.ElmoBiLM.v2"

        [bilm_v3]
        @architectures = "spacy-elmo.ElmoBiLM.v3"
        sentences = "punct"
        punct_chars = [".", "。"]

        [listener]
        @architectures = "spacy-elmo.ElmoListener.v1"
        width = 16

        [embedded]
        @architectures = "spacy-elmo.ElmoTok2Vec.v1"
        width = 16

        [embedded.bilm]
        @architectures = "spacy-elmo.ElmoBiLM.v1"

        [concat]
        @architectures = "spacy-elmo.ElmoConcatTok2Vec.v1"

        [concat.elmo]
        @architectures = "spacy-elmo.ElmoListener.v1"
        width = 16
        projection = 4

        [concat.features]
        @architectures = "spacy-elmo.ElmoListener.v1"
        width = 16

        [bilstm]
        @architectures = "spacy-elmo.ElmoBiLSTMTok2Vec.v1"
        depth = 1
        dropout = 0.0

        [bilstm.elmo]
        @architectures = "spacy-elmo.ElmoListener.v1"
        width = 16

        [bilstm.features]
        @architectures = "spacy.MultiHashEmbed.v2"
        width = 6
        attrs = ["NORM", "SHAPE"]
        rows = [100, 50]
        include_static_vectors = false

        [embed]
        @architectures = "spacy-elmo.ElmoEmbed.v1"
        width = 8

        [embed.features]
        @architectures = "spacy.MultiHashEmbed.v2"
        width = 6
        attrs = ["NORM", "SHAPE"]
        rows = [100, 50]
        include_static_vectors = false

        [embed.elmo]
        @architectures = "spacy-elmo.ElmoListener.v1"
        width = 16
        """
    )
    built = registry.resolve(config)
    assert all(isinstance(m, Model) for m in built.values())
    assert built["listener"].get_dim("nO") == 16 and built["concat"].get_dim("nO") == 20
    assert built["bilm"].attrs["sentences"] == "doc"  # v2 reads the Doc's sentences
    assert built["bilm_v3"].attrs["sentences"] == "punct"
    assert built["bilm_v3"].attrs["punct_chars"] == [".", "。"]
    # The BiLSTM is as wide as [ELMo; features], read from the features' last layer.
    assert built["bilstm"].get_dim("nO") == 22
    # ElmoEmbed mixes [features; ELMo] (6 + 16) back to its width.
    assert built["embed"].get_dim("nO") == 8


def test_bilstm_tok2vec_refuses_features_of_unknown_width():
    from thinc.api import Model, noop

    build = registry.architectures.get("spacy-elmo.ElmoBiLSTMTok2Vec.v1")
    listener = registry.architectures.get("spacy-elmo.ElmoListener.v1")(width=16)
    with pytest.raises(
        ValueError, match="output width of `elmo` and of `features`.*got 16 and None"
    ):
        build(listener, noop())
    assert isinstance(build(listener, listener, depth=0), Model)


def test_factory_default_is_the_newest_bilm_the_configs_use():
    import re
    from pathlib import Path

    configs = Path(__file__).resolve().parents[1] / "configs"
    used = set()
    for path in configs.glob("*.cfg"):
        used.update(re.findall(r'"spacy-elmo\.ElmoBiLM\.v(\d+)"', path.read_text("utf8")))
    assert used
    default = Language.get_factory_meta("elmo").default_config["model"]["@architectures"]
    assert default == f"spacy-elmo.ElmoBiLM.v{max(map(int, used))}"
