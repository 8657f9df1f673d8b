"""The ELMo listener: a task component's link to the upstream `elmo` component,
which hands it every biLM layer of a batch (spaCy's listener protocol), and what
`nlp.replace_listeners` puts in its place."""

from typing import Any, Callable, Dict, List, Optional, Tuple, cast

from spacy.errors import Errors
from spacy.tokens import Doc
from thinc.api import Model
from thinc.types import Floats3d

from .config_errors import ElmoConfigError
from .embedded import ElmoEmbedded, no_backprop
from .extensions import LAYERS_EXTENSION

LISTENER_ARCH = "spacy-elmo.ElmoListener.v1"
EMBEDDED_ARCH = "spacy-elmo.ElmoTok2Vec.v1"
NO_UPSTREAM = (
    "An ELMo listener (upstream = '{upstream}') found no 'elmo' component to listen to. "
    "Add an 'elmo' component before the component that uses the listener (pipeline = "
    '["elmo", ...]), or give that component its own biLM with '
    f'@architectures = "{EMBEDDED_ARCH}".'
)
NO_LAYERS = (
    "The ELMo listener found no ELMo layers on a Doc: the upstream '{upstream}' "
    "component did not run on it. In a pipeline, do not disable '{upstream}' while the "
    "components that listen to it run. In training: " + Errors.E203.format(name="elmo")
)


class ElmoListener(Model):
    """Receives every biLM layer of a batch from the upstream `elmo` component.

    During `nlp.update`, the `elmo` component runs the biLM once per batch and hands
    the layers and a backprop callback to each listener (spaCy's Tok2Vec protocol). At
    inference, and during training when `elmo` is frozen and in
    `annotating_components`, the listener reads the layers that `elmo` stored on the
    Docs. The gradient sent upstream is multiplied by `grad_factor`: 0 (the default)
    keeps the biLM frozen.
    """

    name = "elmo-listener"

    def __init__(self, upstream_name: str, width: int, grad_factor: float) -> None:
        """upstream_name (str): The `elmo` component's name, or "*" for any.
        width (int): Width of the biLM's layers (2 * projection_dim).
        grad_factor (float): Multiplies the gradient sent to the biLM.
        """
        Model.__init__(
            self,
            name=self.name,
            forward=_listener_forward,
            init=_listener_init,
            dims={"nO": width, "nL": None},
            attrs={"grad_factor": grad_factor, "upstream_name": upstream_name},
        )
        self.upstream_name = upstream_name
        self.upstream_component: Optional[str] = None
        # Between initialize and the first training step, a Doc without ELMo layers
        # gets zeros (the task model's initialization predicts on unannotated Docs).
        self.initializing = False
        self._batch_id: Optional[int] = None
        self._outputs: Optional[List[Floats3d]] = None
        self._backprop: Optional[Callable[[List[Floats3d]], Any]] = None
        # Set by the upstream component: reads its weights if it has none yet, so that
        # the listener knows the biLM's layers when its own component is initialized
        # (spaCy skips initializing a frozen upstream component). Not copied.
        self.prepare_upstream: Optional[Callable[[], None]] = None

    def __getstate__(self) -> Dict[str, Any]:
        """Copies and pickles leave the upstream component's callback behind."""
        state = self.__dict__.copy()
        state["prepare_upstream"] = None
        return state

    @classmethod
    def get_batch_id(cls, inputs: List[Doc]) -> int:
        """A content hash of a batch, to catch a batch the layers were not made for."""
        return sum(sum(token.orth for token in doc) for doc in inputs)

    def receive(
        self, batch_id: int, outputs: List[Floats3d], backprop: Callable[[List[Floats3d]], Any]
    ) -> None:
        """Store the layers of a training batch and the callback for its gradient."""
        self._batch_id = batch_id
        self._outputs = outputs
        self._backprop = backprop

    def clear(self) -> None:
        """Drop the stored batch (after its gradient was sent)."""
        self._batch_id = None
        self._outputs = None
        self._backprop = None

    def verify_inputs(self, inputs: List[Doc]) -> None:
        batch_id = self.get_batch_id(inputs)
        if batch_id != self._batch_id:
            raise ValueError(Errors.E953.format(id1=batch_id, id2=self._batch_id))


def _listener_init(model: ElmoListener, X: Any = None, Y: Any = None) -> None:
    if model.upstream_component is None:
        raise ElmoConfigError(NO_UPSTREAM.format(upstream=model.upstream_name))
    if isinstance(model, ElmoListener) and model.prepare_upstream is not None:
        model.prepare_upstream()
    # The chains around the task model predict on the (unannotated) sample during
    # initialization, to infer shapes: give zeros until training starts.
    if isinstance(model, ElmoListener):
        model.initializing = True


def _listener_forward(
    model: ElmoListener, docs: List[Doc], is_train: bool
) -> Tuple[List[Floats3d], Callable[[List[Floats3d]], List[Doc]]]:
    if is_train:
        model.initializing = False
    if is_train and model._batch_id is not None:
        model.verify_inputs(docs)
        outputs = cast(List[Floats3d], model._outputs)
        callback = cast(Callable[[List[Floats3d]], Any], model._backprop)
        factor = model.attrs["grad_factor"]

        def backprop(d_layers: List[Floats3d]) -> List[Doc]:
            model.clear()
            callback([d * factor for d in d_layers] if factor else [])
            return docs

        return outputs, backprop
    upstream = model.upstream_component or model.upstream_name
    outputs = []
    for doc in docs:
        layers = doc._.get(LAYERS_EXTENSION)
        if layers is None:
            if len(doc) and (is_train or not model.initializing):
                raise ValueError(NO_LAYERS.format(upstream=upstream))
            layers = model.ops.alloc3f(model.get_dim("nL"), len(doc), model.get_dim("nO"))
        outputs.append(model.ops.asarray3f(layers))
    return outputs, no_backprop


def replace_listener(
    bilm_copy: Model[List[Doc], List[Floats3d]], listener: Model, upstream: Any
) -> Model[List[Doc], List[Floats3d]]:
    """For `nlp.replace_listeners`: the copy of the upstream biLM, wrapped the way
    ElmoTok2Vec wraps it (frozen unless the listener fine-tuned it)."""
    return ElmoEmbedded(bilm_copy, grad_factor=listener.attrs["grad_factor"])


def replace_listener_cfg(bilm_cfg: Dict[str, Any], listener_cfg: Dict[str, Any]) -> Dict[str, Any]:
    """For `nlp.replace_listeners`: the ElmoTok2Vec config that takes the listener's
    place. spaCy passes the config at `model.tok2vec`: the listener's, or one holding
    it (e.g. ElmoConcatTok2Vec's), where it is looked up."""
    found = _find_listener_cfg(listener_cfg)
    if found is None:
        raise ValueError(
            f"replace_listeners: no {LISTENER_ARCH} config found in {dict(listener_cfg)}"
        )
    return {
        "@architectures": EMBEDDED_ARCH,
        "bilm": dict(bilm_cfg),
        "weights": None,  # the copy already holds them
        **{k: v for k, v in found.items() if k not in ("@architectures", "upstream")},
    }


def _find_listener_cfg(cfg: Any) -> Optional[Dict[str, Any]]:
    if not isinstance(cfg, dict):
        return None
    if cfg.get("@architectures") == LISTENER_ARCH:
        return cfg
    for value in cfg.values():
        found = _find_listener_cfg(value)
        if found is not None:
            return found
    return None
