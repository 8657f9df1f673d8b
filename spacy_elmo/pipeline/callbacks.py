"""Registered training callbacks (versioned names; a released one is never changed)."""

from pathlib import Path
from typing import TYPE_CHECKING, Callable, List, Optional, Sequence, Union

from spacy.training import Corpus, Example
from spacy.util import registry

from .config_errors import ElmoConfigError
from .textcat_fusion import WEIGHTS, choose_neural_weight

if TYPE_CHECKING:
    from spacy.language import Language


@registry.callbacks("spacy-elmo.choose_fusion_weight.v1")
def choose_fusion_weight_v1(
    dev_path: Optional[Union[str, Path]],
    component: str = "textcat",
    weights: Sequence[float] = WEIGHTS,
) -> Callable[["Language"], "Language"]:
    """A `[training.before_to_disk]` callback: before each checkpoint is saved, set the
    neural_weight of a spacy-elmo.TextCatFusion.v1 component to the one that scores
    best on the dev data (the smallest on a tie), so the saved model mixes ELMo in only
    as far as dev data says it helps. Training is unchanged (each fused model learns
    from its own loss); the evaluations after a checkpoint score the chosen weight.

    Example (configs/textcat_fusion.cfg):

        [training.before_to_disk]
        @callbacks = "spacy-elmo.choose_fusion_weight.v1"
        dev_path = ${paths.dev}
        component = "textcat"

    dev_path (Optional[Union[str, Path]]): The dev .spacy file (usually ${paths.dev}).
    component (str): The fusion textcat or textcat_multilabel component.
    weights (Sequence[float]): The weights to try, each in [0, 1].
    RETURNS (Callable[[Language], Language]): The callback.
    """
    if dev_path is None or not Path(dev_path).exists():
        raise ElmoConfigError(
            f"spacy-elmo.choose_fusion_weight.v1: no dev data at {dev_path} (set --paths.dev)"
        )
    path = Path(dev_path)
    examples: List[Example] = []

    def choose(nlp: "Language") -> "Language":
        if not examples:
            examples.extend(Corpus(path)(nlp))
        choose_neural_weight(nlp, examples, component, weights)
        return nlp

    return choose
