"""Data and metrics: standard datasets (Pythia 8 + Level-1 emulation), the HDF5 formats and loaders, trigger metrics.

``load_dataset(path)`` opens a dataset directory (ours) or one sample file (ours or a public ADC2021 file).
"""

from l1ad.benchmark.datasets.dataset import Dataset, load_dataset
from l1ad.benchmark.datasets.samples import Sample, load_sample

__all__ = ["Dataset", "Sample", "load_dataset", "load_sample"]
