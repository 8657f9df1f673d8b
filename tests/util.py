"""Helpers shared by the tests."""

from spacy_elmo import ElmoOptions, make_options


def tiny_options(**overrides) -> ElmoOptions:
    """A small random-weight configuration (like the fixture model)."""
    kwargs = dict(
        dim=32,
        projection_dim=8,
        n_layers=2,
        n_highway=1,
        filters=[[1, 4], [2, 8], [3, 8]],
        char_dim=4,
    )
    kwargs.update(overrides)
    return ElmoOptions.from_dict(make_options(**kwargs))
