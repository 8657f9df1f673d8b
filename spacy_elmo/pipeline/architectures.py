"""Registered model architectures (versioned names; a released one is never changed)."""

from typing import List, Optional, Union

from spacy.tokens import Doc
from spacy.util import SimpleFrozenDict, registry
from thinc.api import Model, NumpyOps, chain, concatenate, get_current_ops
from thinc.shims.pytorch_grad_scaler import PyTorchGradScaler
from thinc.types import Floats2d, Floats3d

from .bilm_layer import ElmoBiLMModel
from .embedded import ElmoEmbedded
from .features import ElmoFeatures
from .listener import ElmoListener
from .textcat_fusion import TextCatFusion


@registry.architectures("spacy-elmo.ElmoBiLM.v1")
def ElmoBiLM_v1(
    max_batch_tokens: int = 1024, window: int = 64, mixed_precision: bool = False
) -> Model[List[Doc], List[Floats3d]]:
    """The ELMo biLM over Docs: every layer of every token, per Doc.

    max_batch_tokens (int): Most padded tokens per forward pass (bounds memory).
    window (int): Most tokens the biLM reads at once: sentences (from the Doc's
        sentence boundaries, when set) longer than this, and Docs without sentence
        boundaries, are cut into windows of this size.
    mixed_precision (bool): float16 autocast on GPU.
    RETURNS (Model[List[Doc], List[Floats3d]]): Per Doc, (n_layers + 1, n_tokens, dim).
    """
    return ElmoBiLMModel(
        max_batch_tokens=max_batch_tokens,
        window=window,
        mixed_precision=mixed_precision,
        grad_scaler=PyTorchGradScaler(enabled=False),  # v1 never scaled gradients
    )


def _on_gpu() -> bool:
    return not isinstance(get_current_ops(), NumpyOps)


@registry.architectures("spacy-elmo.ElmoBiLM.v2")
def ElmoBiLM_v2(
    max_batch_tokens: int = 1024,
    window: int = 64,
    mixed_precision: bool = False,
    grad_scaler_config: dict = SimpleFrozenDict(),
    cache_mb: float = 0.0,
) -> Model[List[Doc], List[Floats3d]]:
    """The ELMo biLM over Docs (as v1), plus gradient scaling and a segment cache.

    Example (the `elmo` component's model; ElmoTok2Vec's `bilm`):

        [components.elmo.model]
        @architectures = "spacy-elmo.ElmoBiLM.v2"
        max_batch_tokens = 1024
        window = 64
        mixed_precision = false
        grad_scaler_config = {}
        cache_mb = 1024

    max_batch_tokens (int): Most padded tokens per forward pass (bounds memory).
    window (int): Most tokens the biLM reads at once.
    mixed_precision (bool): float16 autocast on GPU.
    grad_scaler_config (dict): Arguments of thinc's PyTorchGradScaler (init_scale,
        growth_factor, backoff_factor, growth_interval); scaling is on when
        mixed_precision is and thinc runs on a GPU, unless "enabled" says otherwise.
        Matters only when the biLM is fine-tuned.
    cache_mb (float): MiB of biLM layers kept across batches, keyed by each segment's
        token strings, reused whenever the biLM runs without gradients (frozen
        training, evaluation, inference). With a frozen biLM, epoch 2 onward then
        costs only the task model for the cached segments. 0: no cache.
    RETURNS (Model[List[Doc], List[Floats3d]]): Per Doc, (n_layers + 1, n_tokens, dim).
    """
    return ElmoBiLMModel(
        max_batch_tokens=max_batch_tokens,
        window=window,
        mixed_precision=mixed_precision,
        grad_scaler=_grad_scaler(grad_scaler_config, mixed_precision),
        cache_mb=cache_mb,
    )


@registry.architectures("spacy-elmo.ElmoBiLM.v3")
def ElmoBiLM_v3(
    max_batch_tokens: int = 1024,
    window: int = 64,
    mixed_precision: bool = False,
    grad_scaler_config: dict = SimpleFrozenDict(),
    cache_mb: float = 0.0,
    sentences: str = "doc",
    punct_chars: Optional[List[str]] = None,
) -> Model[List[Doc], List[Floats3d]]:
    """The ELMo biLM over Docs (as v2), reading sentences that need not be the Doc's.

    With sentences = "punct" the layer finds sentences itself, after sentence-final
    punctuation, and sets nothing on the Doc: no sentencizer is needed before `elmo`,
    and the sentence boundaries other components train with (NER cannot learn an
    entity across one) stay as the data has them. The vectors are those the same
    sentences give with sentences = "doc" after spaCy's sentencizer.

    Example (the `elmo` component's model in configs/ner.cfg):

        [components.elmo.model]
        @architectures = "spacy-elmo.ElmoBiLM.v3"
        max_batch_tokens = 1024
        window = 64
        mixed_precision = false
        grad_scaler_config = {}
        cache_mb = 1024
        sentences = "punct"
        punct_chars = null

    max_batch_tokens (int): Most padded tokens per forward pass (bounds memory).
    window (int): Most tokens the biLM reads at once: longer sentences, and Docs
        without sentences, are cut into windows of this size.
    mixed_precision (bool): float16 autocast on GPU.
    grad_scaler_config (dict): Arguments of thinc's PyTorchGradScaler (see v2).
    cache_mb (float): MiB of biLM layers kept across batches (see v2). 0: no cache.
    sentences (str): Where sentences come from. "doc": the Doc's sentence boundaries
        when it has them (v2's behaviour); "punct": a sentence ends after a token in
        `punct_chars` and the punctuation tokens right after it (spaCy's sentencizer's
        rule), whatever the Doc's boundaries; "none": no sentences, windows only.
    punct_chars (Optional[List[str]]): Sentence-final tokens for "punct"; None: those
        of spaCy's sentencizer (".", "!", "?", "。", "！", "？" and other scripts').
    RETURNS (Model[List[Doc], List[Floats3d]]): Per Doc, (n_layers + 1, n_tokens, dim).
    """
    return ElmoBiLMModel(
        max_batch_tokens=max_batch_tokens,
        window=window,
        mixed_precision=mixed_precision,
        grad_scaler=_grad_scaler(grad_scaler_config, mixed_precision),
        cache_mb=cache_mb,
        sentences=sentences,
        punct_chars=punct_chars,
    )


def _grad_scaler(config: dict, mixed_precision: bool) -> PyTorchGradScaler:
    """thinc's gradient scaler from its arguments; thinc's scaler works on CUDA only,
    so it is on by default with mixed precision on a GPU."""
    args = dict(config)
    args.setdefault("enabled", mixed_precision and _on_gpu())
    return PyTorchGradScaler(**args)


@registry.architectures("spacy-elmo.ElmoListener.v1")
def ElmoListener_v1(
    width: int,
    upstream: str = "*",
    grad_factor: float = 0.0,
    layer_norm: bool = False,
    l2_coef: float = 0.0,
    mix_dropout: float = 0.0,
    mix_weights: Optional[List[float]] = None,
    trainable_mix: bool = True,
    projection: Optional[int] = None,
) -> Model[List[Doc], List[Floats2d]]:
    """A task's own ELMo: its learned mix of the layers of the upstream `elmo` component.

    Each component that uses a listener learns its own scalar mix
    `gamma * sum_j softmax(w)_j * h_j` (w = 0, gamma = 1 at the start) over the biLM
    layers computed once per batch by `elmo`.

    Example:

        [components.ner.model.tok2vec]
        @architectures = "spacy-elmo.ElmoListener.v1"
        width = 256               # the biLM's width (2 * projection_dim): 256 for small
        upstream = "*"
        grad_factor = 0.0         # 0: frozen biLM; e.g. 1.0 fine-tunes it
        layer_norm = false
        l2_coef = 0.0             # e.g. 0.001: the paper's small penalty on w
        mix_dropout = 0.0         # dropout after mixing (AllenNLP uses 0.5)
        mix_weights = null        # initial w, one per layer
        trainable_mix = true      # false: keep w (and gamma = 1) fixed
        projection = null         # or a width: a linear projection after the mix

    width (int): Width of the biLM layers; must match the upstream biLM.
    upstream (str): Name of the `elmo` component to listen to, or "*" for any.
    grad_factor (float): Multiplies the gradient sent to the biLM; 0 keeps it frozen.
    layer_norm (bool): Normalise each layer (one mean and variance per layer over the
        batch) before mixing.
    l2_coef (float): L2 penalty on w.
    mix_dropout (float): Dropout on the mixed vectors (its own rate, not
        [training] dropout).
    mix_weights (Optional[List[float]]): Initial w before the softmax.
    trainable_mix (bool): Learn w and gamma.
    projection (Optional[int]): Output width of a linear projection; none by default.
    RETURNS (Model[List[Doc], List[Floats2d]]): Per Doc (n_tokens, projection or width).
    """
    return ElmoFeatures(
        ElmoListener(upstream, width, grad_factor),
        width=width,
        layer_norm=layer_norm,
        l2_coef=l2_coef,
        mix_dropout=mix_dropout,
        mix_weights=mix_weights,
        trainable_mix=trainable_mix,
        projection=projection,
    )


@registry.architectures("spacy-elmo.ElmoTok2Vec.v1")
def ElmoTok2Vec_v1(
    bilm: Model[List[Doc], List[Floats3d]],
    width: int,
    weights: Optional[Union[str, List[str]]] = None,
    grad_factor: float = 0.0,
    layer_norm: bool = False,
    l2_coef: float = 0.0,
    mix_dropout: float = 0.0,
    mix_weights: Optional[List[float]] = None,
    trainable_mix: bool = True,
    projection: Optional[int] = None,
) -> Model[List[Doc], List[Floats2d]]:
    """ELMo inside one task component (no `elmo` component, no listener): the biLM,
    then the component's own mix (see ElmoListener.v1 for the mix settings).

    The weights are read at initialize and saved with the component, so a trained
    pipeline loads without the weight files.

    Example:

        [components.ner.model.tok2vec]
        @architectures = "spacy-elmo.ElmoTok2Vec.v1"
        width = 256
        weights = ${paths.elmo_weights}
        grad_factor = 0.0

        [components.ner.model.tok2vec.bilm]
        @architectures = "spacy-elmo.ElmoBiLM.v2"
        cache_mb = 1024

    bilm (Model[List[Doc], List[Floats3d]]): The biLM layer.
    width (int): Width of the biLM layers (checked at initialize).
    weights (Optional[Union[str, List[str]]]): Any weights reference, read when the
        biLM is initialized without weights; None: the biLM shipped in the package.
        A saved pipeline carries the weights and never reads this again.
    grad_factor (float): 0 keeps the biLM frozen; otherwise it is fine-tuned with the
        gradient multiplied by this.
    RETURNS (Model[List[Doc], List[Floats2d]]): Per Doc (n_tokens, projection or width).
    """
    return ElmoFeatures(
        ElmoEmbedded(bilm, weights=weights, grad_factor=grad_factor),
        width=width,
        layer_norm=layer_norm,
        l2_coef=l2_coef,
        mix_dropout=mix_dropout,
        mix_weights=mix_weights,
        trainable_mix=trainable_mix,
        projection=projection,
    )


@registry.architectures("spacy-elmo.ElmoConcatTok2Vec.v1")
def ElmoConcatTok2Vec_v1(
    elmo: Model[List[Doc], List[Floats2d]], features: Model[List[Doc], List[Floats2d]]
) -> Model[List[Doc], List[Floats2d]]:
    """[ELMo; the task model's own token features] per token, as in the paper.

    Example (ELMo from a listener next to spaCy's hash embeddings and CNN):

        [components.ner.model.tok2vec]
        @architectures = "spacy-elmo.ElmoConcatTok2Vec.v1"

        [components.ner.model.tok2vec.elmo]
        @architectures = "spacy-elmo.ElmoListener.v1"
        width = 256

        [components.ner.model.tok2vec.features]
        @architectures = "spacy.Tok2Vec.v2"
        # [...features.embed] spacy.MultiHashEmbed.v2, [...features.encode]
        # spacy.MaxoutWindowEncoder.v2

    `replace_listeners` takes the path of the listener: ["model.tok2vec.elmo"].

    elmo (Model[List[Doc], List[Floats2d]]): ElmoListener.v1 or ElmoTok2Vec.v1.
    features (Model[List[Doc], List[Floats2d]]): Any spaCy tok2vec model.
    RETURNS (Model[List[Doc], List[Floats2d]]): Per Doc (n_tokens, sum of the widths).
    """
    model: Model[List[Doc], List[Floats2d]] = concatenate(elmo, features)
    if elmo.has_dim("nO") and features.has_dim("nO"):
        model.set_dim("nO", elmo.get_dim("nO") + features.get_dim("nO"))
    return model


@registry.architectures("spacy-elmo.ElmoBiLSTMTok2Vec.v1")
def ElmoBiLSTMTok2Vec_v1(
    elmo: Model[List[Doc], List[Floats2d]],
    features: Model[List[Doc], List[Floats2d]],
    depth: int = 2,
    dropout: float = 0.2,
) -> Model[List[Doc], List[Floats2d]]:
    """The paper's task encoder: [ELMo; word features] per token, then a bidirectional
    LSTM (PyTorch) as wide as that concatenation, so no width has to be repeated.

    Example (the recipe of configs/ner.cfg):

        [components.ner.model.tok2vec]
        @architectures = "spacy-elmo.ElmoBiLSTMTok2Vec.v1"
        depth = 2
        dropout = 0.2

        [components.ner.model.tok2vec.elmo]
        @architectures = "spacy-elmo.ElmoListener.v1"
        width = 256

        [components.ner.model.tok2vec.features]
        @architectures = "spacy.MultiHashEmbed.v2"
        # width, attrs, rows, include_static_vectors

    `replace_listeners` takes the path of the listener: ["model.tok2vec.elmo"].

    elmo (Model[List[Doc], List[Floats2d]]): ElmoListener.v1 or ElmoTok2Vec.v1.
    features (Model[List[Doc], List[Floats2d]]): Word features with a known output width,
        e.g. spacy.MultiHashEmbed.v2.
    depth (int): BiLSTM layers.
    dropout (float): Dropout between the BiLSTM layers.
    RETURNS (Model[List[Doc], List[Floats2d]]): Per Doc (n_tokens, sum of the widths).
    """
    from spacy.ml.models.tok2vec import BiLSTMEncoder

    widths = [_output_width(part) for part in (elmo, features)]
    if None in widths:
        raise ValueError(
            "spacy-elmo.ElmoBiLSTMTok2Vec.v1 needs the output width of `elmo` and of "
            f"`features` when it is built (got {widths[0]} and {widths[1]}): use "
            "spacy.MultiHashEmbed.v2 or another layer with a set width as `features`"
        )
    width = sum(w for w in widths if w is not None)
    model: Model[List[Doc], List[Floats2d]] = chain(
        concatenate(elmo, features), BiLSTMEncoder(width=width, depth=depth, dropout=dropout)
    )
    model.set_dim("nO", width)
    return model


@registry.architectures("spacy-elmo.ElmoEmbed.v1")
def ElmoEmbed_v1(
    features: Model[List[Doc], List[Floats2d]],
    elmo: Model[List[Doc], List[Floats2d]],
    width: int,
    maxout_pieces: int = 3,
) -> Model[List[Doc], List[Floats2d]]:
    """ELMo added to spaCy's own embedding: [word features; ELMo] per token, mixed back
    to `width` by a Maxout layer (as spaCy's MultiHashEmbed mixes its attributes), so
    it takes the place of `embed` in any spaCy tok2vec and the encoder after it is
    unchanged (e.g. the accuracy preset's 256-wide, 8-deep CNN).

    Example (configs/ner_cnn_elmo.cfg: the accuracy preset plus ELMo):

        [components.tok2vec.model]
        @architectures = "spacy.Tok2Vec.v2"

        [components.tok2vec.model.embed]
        @architectures = "spacy-elmo.ElmoEmbed.v1"
        width = ${components.tok2vec.model.encode.width}

        [components.tok2vec.model.embed.features]
        @architectures = "spacy.MultiHashEmbed.v2"
        # width, attrs, rows, include_static_vectors as in the preset

        [components.tok2vec.model.embed.elmo]
        @architectures = "spacy-elmo.ElmoListener.v1"
        width = 256

        [components.tok2vec.model.encode]
        @architectures = "spacy.MaxoutWindowEncoder.v2"

    features (Model[List[Doc], List[Floats2d]]): The word features, with a known
        output width (e.g. spacy.MultiHashEmbed.v2).
    elmo (Model[List[Doc], List[Floats2d]]): ElmoListener.v1 or ElmoTok2Vec.v1.
    width (int): The output width (the encoder's).
    maxout_pieces (int): Pieces of the Maxout layer that mixes the two.
    RETURNS (Model[List[Doc], List[Floats2d]]): Per Doc (n_tokens, width).
    """
    from thinc.api import Maxout, with_array

    widths = [_output_width(part) for part in (features, elmo)]
    if None in widths:
        raise ValueError(
            "spacy-elmo.ElmoEmbed.v1 needs the output width of `features` and of `elmo` "
            f"when it is built (got {widths[0]} and {widths[1]}): use "
            "spacy.MultiHashEmbed.v2 or another layer with a set width as `features`"
        )
    n_in = sum(w for w in widths if w is not None)
    mix = Maxout(nO=width, nI=n_in, nP=maxout_pieces, normalize=True, dropout=0.0)
    model: Model[List[Doc], List[Floats2d]] = chain(concatenate(features, elmo), with_array(mix))
    model.set_dim("nO", width)
    return model


@registry.architectures("spacy-elmo.TextCatFusion.v1")
def TextCatFusion_v1(
    linear_model: Model[List[Doc], Floats2d],
    neural_model: Model[List[Doc], Floats2d],
    neural_weight: float = 0.15,
) -> Model[List[Doc], Floats2d]:
    """A lexical text classifier plus one that reads ELMo, each trained on its own loss
    and mixed late: p = (1 - neural_weight) * p_linear + neural_weight * p_neural.

    The linear model trains exactly as it would alone, so its lexical signal is kept
    whatever the neural side does; neural_weight (chosen on dev) says how much the
    ELMo model moves its predictions. For spaCy's textcat and textcat_multilabel,
    whose losses are squared errors on the probabilities (documents with missing
    labels aside).

    Example (configs/textcat_fusion.cfg):

        [components.textcat.model]
        @architectures = "spacy-elmo.TextCatFusion.v1"
        neural_weight = 0.15

        [components.textcat.model.linear_model]
        @architectures = "spacy.TextCatBOW.v3"
        # exclusive_classes, ngram_size, ... as in the baseline

        [components.textcat.model.neural_model]
        @architectures = "spacy.TextCatReduce.v1"
        # a tok2vec with ELMo: ElmoConcatTok2Vec.v1 over an ElmoListener.v1

    linear_model (Model[List[Doc], Floats2d]): E.g. spacy.TextCatBOW.v3.
    neural_model (Model[List[Doc], Floats2d]): E.g. spacy.TextCatReduce.v1 over ELMo.
    neural_weight (float): In [0, 1]; 0 gives the linear model alone.
    RETURNS (Model[List[Doc], Floats2d]): Per Doc, the class probabilities.
    """
    return TextCatFusion(linear_model, neural_model, neural_weight)


def _output_width(model: Model) -> Optional[int]:
    """The output width of a model: its own nO, else that of the last layer of a chain
    that declares one (spacy.MultiHashEmbed.v2 ends in width-free list conversions), of
    the layer inside a one-layer wrapper, or the sum over a concatenation."""
    if model.has_dim("nO") is True:
        return model.get_dim("nO")
    kind = model._func.__module__  # which thinc combinator built it
    if kind == "thinc.layers.concatenate":
        widths = [_output_width(layer) for layer in model.layers]
        return None if None in widths else sum(w for w in widths if w is not None)
    if kind == "thinc.layers.chain" or len(model.layers) == 1:
        for layer in reversed(model.layers):
            width = _output_width(layer)
            if width is not None:
                return width
    return None
