"""Pure PyTorch modules of the ELMo biLM (no spaCy or thinc imports)."""

from .char_encoder import CharacterEncoder
from .lstm import ProjectedBiLstm
from .model import BiLMOutput, ElmoBiLM
from .scalar_mix import ScalarMix

__all__ = ["BiLMOutput", "CharacterEncoder", "ElmoBiLM", "ProjectedBiLstm", "ScalarMix"]
