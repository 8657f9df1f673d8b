"""Refuse the HDF5 features that make reading one file read others.

A dataset can keep its data in other files (external storage, a virtual dataset) and
a link can point into another file (an external link) or elsewhere in the same one (a
soft link). Reading such a file would read those other files, and whatever spacy-elmo
then writes (a saved pipeline, converted weights, a merged embedding file) would carry
their bytes. Every reader of HDF5 in the package checks the file first.
"""

from typing import List, Type, Union

import h5py


def check_hdf5_features(f: h5py.File, source: str, error: Type[ValueError] = ValueError) -> None:
    """Raise `error`, naming the file and the object, if the file holds a soft or
    external link, a dataset with external storage, or a virtual dataset.

    f (h5py.File): The open file.
    source (str): The file's name (or what its bytes are), for the message.
    error (Type[ValueError]): The exception to raise (e.g. ElmoFormatError).
    """
    groups: List[h5py.Group] = [f]
    datasets: List[h5py.Dataset] = []

    def collect(_: str, obj: Union[h5py.Group, h5py.Dataset]) -> None:
        # visititems follows hard links only, each object once (so cycles end).
        if isinstance(obj, h5py.Group):
            groups.append(obj)
        elif isinstance(obj, h5py.Dataset):
            datasets.append(obj)

    f.visititems(collect)
    for group in groups:
        for name in group:
            try:
                link = group.get(name, getlink=True)
            except TypeError:  # h5py knows hard, soft and external links only
                link = None
            path = f"{group.name.rstrip('/')}/{name}".lstrip("/")
            if isinstance(link, h5py.ExternalLink):
                raise error(
                    f"{source}: {path} is an HDF5 external link (to {link.path} in "
                    f"{link.filename}); links are refused, write the data into the file itself"
                )
            if isinstance(link, h5py.SoftLink):
                raise error(
                    f"{source}: {path} is an HDF5 soft link (to {link.path}); links are "
                    "refused, write the data into the file itself"
                )
            if not isinstance(link, h5py.HardLink):
                raise error(
                    f"{source}: {path} is an HDF5 user-defined link; links are refused, "
                    "write the data into the file itself"
                )
    for dataset in datasets:
        plist = dataset.id.get_create_plist()
        name = dataset.name.lstrip("/")
        if plist.get_external_count():
            raise error(
                f"{source}: dataset {name} keeps its data in another file (HDF5 external "
                "storage); refused, write the data into the file itself"
            )
        if plist.get_layout() == h5py.h5d.VIRTUAL:
            raise error(
                f"{source}: dataset {name} is a virtual dataset (its data comes from "
                "other files); refused, write the data into the file itself"
            )
