"""The `elmo` pipeline component: ELMo vectors on every Doc."""

from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union, cast

import numpy as np
import srsly
import torch
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc
from spacy.training import Example
from spacy.vocab import Vocab
from thinc.api import Config, Model, Optimizer, set_dropout_rate
from thinc.types import Floats3d
from thinc.util import to_numpy, torch2xp, xp2torch

from ..bilm.model import ElmoBiLM
from ..errors import ElmoFormatError
from ..io.formats import files_in_folder, read_bilm, write_bilm
from ..io.references import WeightsRef
from .bilm_layer import ensure_weights, predict_reduced, read_weights, set_weights_ref
from .bilm_shim import get_bilm, has_bilm, set_bilm
from .config_errors import ElmoConfigError
from .doc_data import ElmoDocData
from .extensions import LAYERS_EXTENSION, install_extensions, set_vector_hooks
from .listener import ElmoListener, replace_listener, replace_listener_cfg

DEFAULT_CONFIG = """
[model]
@architectures = "spacy-elmo.ElmoBiLM.v3"
max_batch_tokens = 1024
window = 64
mixed_precision = false
grad_scaler_config = {}
cache_mb = 0
sentences = "doc"
punct_chars = null
"""
DEFAULT_MODEL = Config().from_str(DEFAULT_CONFIG)["model"]
LAYER_CHOICES = ("mix", "average", "top", "all")
DTYPES = ("float32", "float16")
WeightsSetting = Optional[Union[str, List[str]]]

install_extensions()


@Language.factory(
    "elmo",
    assigns=["doc._.elmo", "token._.elmo", "span._.elmo"],
    default_config={
        "model": DEFAULT_MODEL,
        "weights": None,
        "layers": "average",
        "mix_weights": None,
        "dtype": "float32",
        "vector_hooks": True,
        "doc_tensor": False,
    },
)
def make_elmo(
    nlp: Language,
    name: str,
    model: Model[List[Doc], List[Floats3d]],
    weights: WeightsSetting,
    layers: Union[str, int],
    mix_weights: Optional[List[float]],
    dtype: str,
    vector_hooks: bool,
    doc_tensor: bool,
) -> "ElmoComponent":
    """Create the `elmo` component.

    model (Model[List[Doc], List[Floats3d]]): The biLM layer (spacy-elmo.ElmoBiLM.v3).
    weights (Optional[Union[str, List[str]]]): The weights to read when the
        component is initialized or first used (any weights reference: a directory,
        an [options, weights] pair, a saved pipeline, a shipped or published model's
        name); null: the biLM shipped in the package ("en-open-3m"). Weights given
        to initialize take precedence. A saved component carries its weights and
        never reads this again.
    layers (Union[str, int]): What `doc._.elmo` keeps: "average" of the layers, "top",
        "mix" (softmax(mix_weights)-weighted sum), a layer index, or "all".
    mix_weights (Optional[List[float]]): Weights (before softmax) for "mix", one per layer.
    dtype (str): "float32" or "float16" for the stored layers.
    vector_hooks (bool): Make token/span/doc `.vector` and `.similarity` use ELMo.
    doc_tensor (bool): Also set `doc.tensor` to the token vectors.
    """
    return ElmoComponent(
        nlp.vocab,
        model,
        name,
        weights=weights,
        layers=layers,
        mix_weights=mix_weights,
        dtype=dtype,
        vector_hooks=vector_hooks,
        doc_tensor=doc_tensor,
    )


class ElmoComponent(TrainablePipe):
    """Compute ELMo layers for every Doc and store them in `doc._.elmo`.

    Other components can listen to it (spacy-elmo.ElmoListener.v1): it implements
    spaCy's ListenedToComponent protocol. `update` runs the biLM once per batch and
    hands every layer, with a backprop callback, to each listener; the biLM is
    fine-tuned only when a listener has a non-zero `grad_factor` (else it runs
    without gradients and changes no weights). `update` also annotates the training
    Docs, so later components see `doc._.elmo`. When listeners exist, every layer is
    also stored on each Doc (`doc._._elmo_layers`) for them to read at inference.
    """

    def __init__(
        self,
        vocab: Vocab,
        model: Model[List[Doc], List[Floats3d]],
        name: str = "elmo",
        *,
        weights: WeightsSetting = None,
        layers: Union[str, int] = "average",
        mix_weights: Optional[List[float]] = None,
        dtype: str = "float32",
        vector_hooks: bool = True,
        doc_tensor: bool = False,
    ) -> None:
        """See make_elmo."""
        if isinstance(layers, str) and layers not in LAYER_CHOICES:
            raise ValueError(
                f"elmo: layers must be one of {', '.join(LAYER_CHOICES)} or a layer index, "
                f"got {layers!r}"
            )
        if dtype not in DTYPES:
            raise ValueError(f"elmo: dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        if mix_weights is not None and layers != "mix":
            raise ValueError(f"elmo: mix_weights are only used with layers = 'mix', not {layers!r}")
        self.vocab = vocab
        self.model = model
        self.name = name
        self.model.attrs["name"] = name
        self.layers = layers
        self.mix_weights = mix_weights
        self.dtype = dtype
        self.vector_hooks = vector_hooks
        self.doc_tensor = doc_tensor
        self.cfg: Dict[str, Any] = {}
        self.listener_map: Dict[str, List[ElmoListener]] = {}
        # For nlp.replace_listeners: what replaces a listener, and its new config.
        self.model.attrs["replace_listener"] = replace_listener
        self.model.attrs["replace_listener_cfg"] = replace_listener_cfg
        install_extensions()
        set_weights_ref(self.model, weights)

    @property
    def bilm(self) -> ElmoBiLM:
        """The biLM (a torch module); its weights are read on first use."""
        self._ensure_bilm()
        return get_bilm(self.model)

    @property
    def listeners(self) -> List[ElmoListener]:
        """The listener layers of the downstream components (spaCy's protocol)."""
        return [m for c in self.listening_components for m in self.listener_map[c]]

    @property
    def listening_components(self) -> List[str]:
        """The names of the downstream components that listen to this one."""
        return list(self.listener_map.keys())

    def add_listener(self, listener: ElmoListener, component_name: str) -> None:
        """Register a listener of a downstream component (spaCy calls this)."""
        self.listener_map.setdefault(component_name, [])
        if listener not in self.listener_map[component_name]:
            self.listener_map[component_name].append(listener)
        listener.upstream_component = self.name
        listener.prepare_upstream = self._ensure_bilm
        if has_bilm(self.model):
            self._fit_listener(listener, component_name)

    def remove_listener(self, listener: ElmoListener, component_name: str) -> bool:
        """Remove a listener of a downstream component (spaCy calls this)."""
        listeners = self.listener_map.get(component_name, [])
        if listener not in listeners:
            return False
        listeners.remove(listener)
        if not listeners:
            del self.listener_map[component_name]
        return True

    def find_listeners(self, component: Any) -> None:
        """Register the ELMo listeners in a component's model whose upstream is this
        component's name or "*" (spaCy calls this when it links the pipeline)."""
        names = ("*", self.name)
        if isinstance(getattr(component, "model", None), Model):
            for node in component.model.walk():
                if isinstance(node, ElmoListener) and node.upstream_name in names:
                    self.add_listener(node, component.name)

    def _fit_listener(self, listener: ElmoListener, component_name: str) -> None:
        """Check a listener's width against the biLM and tell it the number of layers."""
        bilm = get_bilm(self.model)
        width = listener.get_dim("nO")
        if width != bilm.output_dim:
            raise ElmoConfigError(
                f"Component '{component_name}' listens to '{self.name}' with width = "
                f"{width}, but the biLM of '{self.name}' gives {bilm.output_dim}-wide "
                f"layers: set width = {bilm.output_dim} in the ELMo listener's config "
                f"([components.{component_name}.model...], "
                '@architectures = "spacy-elmo.ElmoListener.v1"; with the shipped configs, '
                f"--variables.elmo_width {bilm.output_dim} on the spacy train command line)"
            )
        if listener.has_dim("nL") and listener.get_dim("nL") != bilm.n_output_layers:
            raise ValueError(
                f"Component '{component_name}' was trained on a biLM with "
                f"{listener.get_dim('nL')} layers, but the biLM of '{self.name}' has "
                f"{bilm.n_output_layers}"
            )
        listener.set_dim("nL", bilm.n_output_layers)

    def _fit_listeners(self) -> None:
        for component_name, listeners in self.listener_map.items():
            for listener in listeners:
                self._fit_listener(listener, component_name)

    def load_weights(self, weights: WeightsRef) -> None:
        """Read the biLM's weights now from any weights reference, replacing any
        the component holds.

        weights: A directory with options.json + weights.hdf5, an [options, weights]
            pair, a saved pipeline, a shipped or published model's name, or an ElmoBiLM.
        """
        read_weights(self.model, weights)
        self._check_layers()
        self._fit_listeners()

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        weights: WeightsSetting = None,
    ) -> None:
        """Read the weights given here (from [initialize.components.NAME]); without
        any, keep the weights the component has, else read its `weights` setting
        (by default the shipped biLM).

        get_examples (Callable[[], Iterable[Example]]): Unused: the biLM is pretrained.
        nlp (Optional[Language]): The pipeline.
        weights (Optional[Union[str, List[str]]]): Any weights reference.
        """
        if weights is not None:
            self.load_weights(weights)
        self._ensure_bilm()
        self._fit_listeners()

    def _ensure_bilm(self) -> None:
        """Read the component's weights if it has none yet."""
        if not has_bilm(self.model):
            ensure_weights(self.model)
            self._check_layers()
            self._fit_listeners()

    def predict(self, docs: Iterable[Doc]) -> List[Floats3d]:
        """The biLM's layers of every token, per Doc (n, n_tokens, dim): every layer
        when listeners read them, else only those `doc._.elmo` keeps (reduced batch by
        batch, so that memory grows with a Doc's length only by what is stored)."""
        docs = list(docs)
        self._ensure_bilm()
        if self.listener_map:
            return self.model.predict(docs)
        return predict_reduced(self.model, docs, self._keep)

    def set_annotations(self, docs: Iterable[Doc], outputs: List[Floats3d]) -> None:
        """Store the chosen layers in doc._.elmo; set the vector hooks and doc.tensor;
        with listeners, keep every layer (on the model's device) in doc._._elmo_layers."""
        names = self.layer_names
        kept_names = self._kept_names(names)
        keep_all = bool(self.listener_map)
        for doc, layers in zip(docs, outputs):
            if keep_all:
                doc._.set(LAYERS_EXTENSION, layers)
            # predict gives every layer when listeners need them: keep what is stored
            stored = layers if len(layers) == len(kept_names) else self._keep_array(layers)
            data = ElmoDocData(np.ascontiguousarray(to_numpy(stored), dtype=self.dtype), kept_names)
            doc._.elmo = data
            if self.vector_hooks:
                set_vector_hooks(doc)
            if self.doc_tensor:
                doc.tensor = data.vectors

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """Run the biLM once on the batch, annotate the predicted Docs, and hand the
        layers to the listeners. With a listener whose grad_factor is not 0 the
        forward pass keeps gradients; the last listener's callback backpropagates
        the summed gradients into the biLM and, given `sgd`, updates it.

        examples (Iterable[Example]): The batch.
        drop (float): Dropout rate (the biLM has no dropout layers).
        sgd (Optional[Optimizer]): The optimizer, for a fine-tuned biLM.
        losses (Optional[Dict[str, float]]): Updated with the squared norm of the
            gradient received by a fine-tuned biLM (0 when frozen).
        RETURNS (Dict[str, float]): The losses.
        """
        docs = [eg.predicted for eg in examples]
        losses = {} if losses is None else losses
        losses.setdefault(self.name, 0.0)
        self._ensure_bilm()
        listeners = self.listeners
        fine_tune = any(listener.attrs["grad_factor"] for listener in listeners)
        outputs, bp_outputs = self._layers_for_update(docs, drop, fine_tune)
        self.set_annotations(docs, outputs)
        if listeners:
            gradients = _ListenerGradients(self, docs, outputs, bp_outputs, sgd, losses)
            _send_to_listeners(listeners, docs, outputs, gradients)
        return losses

    def _layers_for_update(
        self, docs: List[Doc], drop: float, fine_tune: bool
    ) -> Tuple[List[Floats3d], Optional[Callable[[List[Floats3d]], Any]]]:
        """The batch's layers, and a backprop callback only when fine-tuning."""
        if not fine_tune:
            return self.model.predict(docs), None
        set_dropout_rate(self.model, drop)
        return self.model.begin_update(docs)

    @property
    def layer_names(self) -> List[str]:
        """Names of the biLM's layers: "token", then "lstm1".. per LSTM layer."""
        n_layers = get_bilm(self.model).n_output_layers
        return ["token"] + [f"lstm{i}" for i in range(1, n_layers)]

    def _keep(self, layers: torch.Tensor) -> torch.Tensor:
        """What `doc._.elmo` stores of the layers: (n_layers, ...) -> (k, ...)."""
        choice = self.layers
        if choice == "all":
            return layers
        if choice == "average":
            return layers.mean(dim=0, keepdim=True)
        if choice == "top":
            return layers[-1:]
        if choice == "mix":
            weights = torch.tensor(self.mix_weights or [0.0] * len(layers), dtype=torch.float64)
            s = torch.softmax(weights, dim=0).to(layers.dtype).to(layers.device)
            return torch.tensordot(s, layers, dims=([0], [0]))[None]
        index = int(choice) % len(layers)
        return layers[index : index + 1]

    def _keep_array(self, layers: Floats3d) -> Floats3d:
        """`_keep` for numpy or cupy layers."""
        return cast(Floats3d, torch2xp(self._keep(xp2torch(layers))))

    def _kept_names(self, names: List[str]) -> List[str]:
        """The names of the layers `_keep` returns."""
        choice = self.layers
        if choice == "all":
            return names
        if choice in ("average", "top", "mix"):
            return [str(choice)]
        return [names[int(choice) % len(names)]]

    def _check_layers(self) -> None:
        """Fail clearly when the settings do not fit the loaded biLM."""
        n_layers = len(self.layer_names)
        if isinstance(self.layers, int) and not -n_layers <= self.layers < n_layers:
            raise ValueError(
                f"{self.name}: layers = {self.layers} but the biLM has {n_layers} layers "
                f"(0..{n_layers - 1})"
            )
        if self.mix_weights is not None and len(self.mix_weights) != n_layers:
            raise ValueError(
                f"{self.name}: {len(self.mix_weights)} mix_weights for a biLM with "
                f"{n_layers} layers"
            )

    def _shape_cfg(self) -> Dict[str, Any]:
        bilm = get_bilm(self.model)
        return {"n_output_layers": bilm.n_output_layers, "output_dim": bilm.output_dim}

    def _check_shape_cfg(self, cfg: Dict[str, Any], source: str) -> None:
        if cfg and has_bilm(self.model) and cfg != self._shape_cfg():
            raise ElmoFormatError(
                f"{source}: the saved component describes a biLM with {cfg}, but its "
                f"weights give {self._shape_cfg()}"
            )

    def to_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> None:
        """Write the component: `cfg`, and the biLM in its own files: bilm-tf's
        options.json + weights.hdf5 (AllenNLP-style tools read them, nothing is
        pickled), or an ELMoForManyLangs model directory. A component not used yet
        reads its weights first, so that the saved pipeline always carries them."""
        path = Path(path)
        self._ensure_bilm()
        path.mkdir(parents=True, exist_ok=True)
        srsly.write_json(path / "cfg", self._shape_cfg())
        write_bilm(get_bilm(self.model), path, overwrite=True)

    def from_disk(
        self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()
    ) -> "ElmoComponent":
        """Load what to_disk wrote."""
        path = Path(path)
        cfg = srsly.read_json(path / "cfg") if (path / "cfg").exists() else {}
        files = files_in_folder(path)
        if files is not None:
            set_bilm(self.model, read_bilm(files))
            self._check_layers()
        self._check_shape_cfg(cfg, str(path))
        return self

    def to_bytes(self, *, exclude: Iterable[str] = tuple()) -> bytes:
        """Serialize the component (the biLM's own files as bytes inside msgpack);
        a component not used yet reads its weights first."""
        self._ensure_bilm()
        return srsly.msgpack_dumps({"cfg": self._shape_cfg(), "model": self.model.to_bytes()})

    def from_bytes(self, bytes_data: bytes, *, exclude: Iterable[str] = tuple()) -> "ElmoComponent":
        """Load what to_bytes wrote."""
        msg = srsly.msgpack_loads(bytes_data)
        self.model.from_bytes(msg["model"])
        if has_bilm(self.model):
            self._check_layers()
        self._check_shape_cfg(msg["cfg"], f"{self.name} bytes")
        return self


class _ListenerGradients:
    """The gradients the listeners send back for one update's batch: summed, then
    backpropagated into the biLM once, by the last listener's callback."""

    def __init__(
        self,
        component: ElmoComponent,
        docs: List[Doc],
        outputs: List[Floats3d],
        bp_outputs: Optional[Callable[[List[Floats3d]], Any]],
        sgd: Optional[Optimizer],
        losses: Dict[str, float],
    ) -> None:
        self.component = component
        self.docs = docs
        self.outputs = outputs
        self.bp_outputs = bp_outputs
        self.sgd = sgd
        self.losses = losses
        self.total: List[Floats3d] = []

    def add(self, d_outputs: List[Floats3d]) -> List[Floats3d]:
        """Add one listener's gradient (a frozen listener sends none)."""
        if not d_outputs or self.bp_outputs is None:
            return []
        if not self.total:
            self.total = [self.component.model.ops.alloc3f(*o.shape) for o in self.outputs]
        for total, d in zip(self.total, d_outputs):
            total += d
            self.losses[self.component.name] += float(cast(Any, d**2).sum())
        return []

    def add_and_backprop(self, d_outputs: List[Floats3d]) -> List[Doc]:
        """Add the last listener's gradient, backpropagate the sum into the biLM and,
        given an optimizer, update it."""
        self.add(d_outputs)
        if self.bp_outputs is not None and self.total:
            self.bp_outputs(self.total)
            if self.sgd is not None:
                self.component.finish_update(self.sgd)
        return self.docs


def _send_to_listeners(
    listeners: List[ElmoListener],
    docs: List[Doc],
    outputs: List[Floats3d],
    gradients: _ListenerGradients,
) -> None:
    """Give every listener the layers; the last one's callback backpropagates."""
    batch_id = ElmoListener.get_batch_id(docs)
    for listener in listeners[:-1]:
        listener.receive(batch_id, outputs, gradients.add)
    listeners[-1].receive(batch_id, outputs, gradients.add_and_backprop)
