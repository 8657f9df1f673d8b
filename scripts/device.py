"""Where a step computes: its PyTorch CPU threads and its GPU."""


def use_device(threads: int, gpu_id: int = -1) -> None:
    """Use `threads` PyTorch CPU threads (0: PyTorch's default) and, for a GPU id of 0
    or more, that GPU for spaCy's models.

    threads (int): CPU threads for PyTorch (and OpenMP, unless OMP_NUM_THREADS is set).
    gpu_id (int): the GPU (-1: CPU).
    """
    if threads > 0:
        import os

        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
        import torch

        torch.set_num_threads(threads)
    if gpu_id >= 0:
        import spacy

        spacy.require_gpu(gpu_id)
