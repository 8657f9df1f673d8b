"""thinc layers that give a task component ELMo: the listener (layers from the upstream
`elmo` component), the embedded biLM (its own copy), and the mix head both share."""

from typing import Any, Callable, Dict, List, Optional, Tuple, cast

from spacy.errors import Errors
from spacy.tokens import Doc
from thinc.api import Linear, Model, with_array
from thinc.types import Floats2d, Floats3d

from ..io.references import DEFAULT_WEIGHTS, load_bilm
from .extensions import LAYERS_EXTENSION
from .layers import get_bilm, has_bilm, set_bilm
from .mix import ElmoScalarMix

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
        raise ValueError(NO_UPSTREAM.format(upstream=model.upstream_name))
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
    return outputs, _no_backprop


def _no_backprop(d_layers: List[Floats3d]) -> List[Doc]:
    return []


def ElmoEmbedded(
    bilm: Model[List[Doc], List[Floats3d]],
    *,
    weights: Any = None,
    grad_factor: float = 0.0,
) -> Model[List[Doc], List[Floats3d]]:
    """The biLM inside a task component: every layer per Doc, loaded at initialize.

    bilm (Model[List[Doc], List[Floats3d]]): The biLM layer (spacy-elmo.ElmoBiLM.v*).
    weights: A weights reference, loaded at initialize if the biLM has none;
        None: the shipped biLM.
    grad_factor (float): 0: frozen (no gradient reaches the biLM, which then runs
        without autograd and may use its segment cache); otherwise the gradient is
        multiplied by this and the biLM is fine-tuned with the task.
    """
    model: Model[List[Doc], List[Floats3d]] = Model(
        "elmo-embedded",
        _embedded_forward,
        init=_embedded_init,
        layers=[bilm],
        dims={"nO": None, "nL": None},
        attrs={"grad_factor": grad_factor, "weights": weights},
    )
    if has_bilm(bilm):
        _set_bilm_dims(model)
    return model


def _set_bilm_dims(model: Model) -> None:
    bilm = get_bilm(model.layers[0])
    model.set_dim("nO", bilm.output_dim)
    model.set_dim("nL", bilm.n_output_layers)


def _embedded_init(model: Model, X: Any = None, Y: Any = None) -> None:
    bilm = model.layers[0]
    weights = model.attrs["weights"]
    if not has_bilm(bilm):
        set_bilm(bilm, load_bilm(weights or DEFAULT_WEIGHTS))
    _set_bilm_dims(model)


def _embedded_forward(
    model: Model[List[Doc], List[Floats3d]], docs: List[Doc], is_train: bool
) -> Tuple[List[Floats3d], Callable[[List[Floats3d]], List[Doc]]]:
    bilm = model.layers[0]
    factor = model.attrs["grad_factor"]
    if not (is_train and factor):
        return bilm.predict(docs), _no_backprop
    layers, bp_layers = bilm(docs, is_train)

    def backprop(d_layers: List[Floats3d]) -> List[Doc]:
        return bp_layers([d * factor for d in d_layers])

    return layers, backprop


def ElmoFeatures(
    source: Model[List[Doc], List[Floats3d]],
    *,
    width: int,
    layer_norm: bool,
    l2_coef: float,
    mix_dropout: float,
    mix_weights: Optional[List[float]],
    trainable_mix: bool,
    projection: Optional[int],
) -> Model[List[Doc], List[Floats2d]]:
    """The per-task mix (and optional projection) over a source of biLM layers
    (an ElmoListener or ElmoEmbedded): one vector per token.

    `replace_listeners` swaps the listener for an ElmoEmbedded copy of the upstream
    biLM; the mix and projection stay, so the two layouts are the same model.
    """
    mix = ElmoScalarMix(
        layer_norm=layer_norm,
        l2_coef=l2_coef,
        dropout=mix_dropout,
        initial_weights=mix_weights,
        trainable=trainable_mix,
    )
    layers: List[Model] = [source, mix]
    if projection:
        layers.append(with_array(Linear(nO=projection, nI=width)))
    return Model(
        "elmo-features",
        _features_forward,
        init=_features_init,
        layers=layers,
        dims={"nO": projection or width},
        attrs={"width": width},
    )


def _features_init(model: Model, X: Any = None, Y: Any = None) -> None:
    source, mix, *projection = model.layers
    source.initialize()
    width = model.attrs["width"]
    if source.get_dim("nO") != width:
        raise ValueError(
            f"The ELMo features are configured with width = {width}, but the biLM gives "
            f"{source.get_dim('nO')}-wide layers: set width = {source.get_dim('nO')} "
            f"(with the shipped configs, --variables.elmo_width {source.get_dim('nO')} on "
            "the spacy train command line)"
        )
    if source.has_dim("nL"):
        mix.set_dim("nL", source.get_dim("nL"))
    mix.set_dim("nI", width)
    mix.set_dim("nO", width)
    mix.initialize()
    for layer in projection:
        layer.initialize()


def _features_forward(
    model: Model[List[Doc], List[Floats2d]], docs: List[Doc], is_train: bool
) -> Tuple[List[Floats2d], Callable[[List[Floats2d]], List[Doc]]]:
    source, mix, *projection = model.layers
    layers, bp_source = source(docs, is_train)
    Y, bp_mix = mix(layers, is_train)
    bp_projection = None
    if projection:
        Y, bp_projection = projection[0](Y, is_train)

    def backprop(dY: List[Floats2d]) -> List[Doc]:
        if bp_projection is not None:
            dY = bp_projection(dY)
        return bp_source(bp_mix(dY))

    return Y, backprop


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
