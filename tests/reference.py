"""A deliberately plain ELMo biLM, written from docs/how-it-works.md (sections 1-3 and 5)
over the hdf5 file's own layout, one sentence and one step at a time: what the fast model is
checked against. tests/test_parity.py checks it against the original implementation's vectors
in tests/fixtures/elmo."""

import json

import h5py
import numpy as np

from spacy_elmo.bilm.chars import token_to_ids


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class ReferenceBiLM:
    def __init__(self, options_path, weights_path):
        self.options = json.loads(open(options_path).read())
        with h5py.File(weights_path, "r") as f:
            self.w = {}
            f.visititems(
                lambda n, o: (
                    self.w.__setitem__(n, o[()].astype(np.float64))
                    if isinstance(o, h5py.Dataset)
                    else None
                )
            )

    def token_layer(self, token):
        cnn = self.options["char_cnn"]
        ids = token_to_ids(token, cnn["max_characters_per_token"])
        table = self.w["char_embed"]
        if table.shape[0] == 261:
            table = np.concatenate([np.zeros((1, table.shape[1])), table])
        chars = table[ids]  # (50, char_dim)
        pooled = []
        for i, (width, _) in enumerate(cnn["filters"]):
            kernel = self.w[f"CNN/W_cnn_{i}"][0]  # (width, char_dim, n)
            conv = (
                np.stack(
                    [
                        np.einsum("wc,wcn->n", chars[p : p + width], kernel)
                        for p in range(len(ids) - width + 1)
                    ]
                )
                + self.w[f"CNN/b_cnn_{i}"]
            )
            act = np.maximum(conv, 0) if cnn["activation"] == "relu" else np.tanh(conv)
            pooled.append(act.max(axis=0))
        x = np.concatenate(pooled)
        for k in range(cnn["n_highway"]):
            carry = sigmoid(x @ self.w[f"CNN_high_{k}/W_carry"] + self.w[f"CNN_high_{k}/b_carry"])
            transform = np.maximum(
                x @ self.w[f"CNN_high_{k}/W_transform"] + self.w[f"CNN_high_{k}/b_transform"], 0
            )
            x = carry * transform + (1 - carry) * x
        if "CNN_proj/W_proj" in self.w:
            x = x @ self.w["CNN_proj/W_proj"] + self.w["CNN_proj/b_proj"]
        return x

    def run_direction(self, d, xs, state=None):
        """xs: (T, P) inputs in reading order. Returns per-layer outputs and final states."""
        lstm = self.options["lstm"]
        n_layers, dim = lstm["n_layers"], lstm["dim"]
        outputs, finals = [], []
        layer_input = xs
        for layer in range(n_layers):
            prefix = f"RNN_{d}/RNN/MultiRNNCell/Cell{layer}/LSTMCell/"
            W, B = self.w[prefix + "W_0"], self.w[prefix + "B"]
            WP = self.w.get(prefix + "W_P_0")
            proj = WP.shape[1] if WP is not None else dim
            h, c = (np.zeros(proj), np.zeros(dim)) if state is None else state[layer]
            hs = []
            for x in layer_input:
                z = np.concatenate([x, h]) @ W + B
                i, j, f, o = np.split(z, 4)  # TensorFlow's gate order
                c = sigmoid(f + 1.0) * c + sigmoid(i) * np.tanh(j)
                if lstm.get("cell_clip") is not None:
                    c = np.clip(c, -lstm["cell_clip"], lstm["cell_clip"])
                m = sigmoid(o) * np.tanh(c)
                if WP is not None:
                    h = m @ WP
                    if lstm.get("proj_clip") is not None:
                        h = np.clip(h, -lstm["proj_clip"], lstm["proj_clip"])
                else:
                    h = m
                hs.append(h)
            out = np.stack(hs)
            finals.append((h, c))
            if layer > 0 and lstm.get("use_skip_connections"):
                out = out + layer_input
            outputs.append(out)
            layer_input = out
        return outputs, finals

    def embed(self, tokens, state=None):
        """Layers (n_layers + 1, n_tokens, 2P) of one sentence, and the final state."""
        seq = ["<S>", *tokens, "</S>"]
        xs = np.stack([self.token_layer(t) for t in seq])
        fwd, fwd_final = self.run_direction(0, xs, None if state is None else state[0])
        bwd, bwd_final = self.run_direction(1, xs[::-1], None if state is None else state[1])
        layers = [np.concatenate([xs, xs], axis=-1)[1:-1]]
        for f_out, b_out in zip(fwd, bwd):
            layers.append(np.concatenate([f_out, b_out[::-1]], axis=-1)[1:-1])
        return np.stack(layers), (fwd_final, bwd_final)
