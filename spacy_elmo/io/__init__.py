"""Files and references: the original weight files, weights references and published
models, the numpy embedder and embedding text files to hdf5."""
