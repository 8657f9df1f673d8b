"""The spaCy and thinc side: the `elmo` component, its Doc extensions and the thinc
layers and architectures that put ELMo into task models."""
