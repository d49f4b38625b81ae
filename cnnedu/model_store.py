"""Trained models kept between lessons, so that a later lesson need not train the same one again.

Lesson 04 trains the lesson ResNet with its recipe on the 55,000 training images outside the
validation split, from seed 0, and keeps it here (:func:`keep_recipe_model`). Lesson 07 needs
exactly that model and asks for it with :func:`recipe_model`: it is loaded when a kept model
matches, and trained (and kept) otherwise. On this course's 2-core CPU that saves lesson 07
about two minutes.

A kept model is used only when everything that decides its weights matches (:func:`run_key`):
the recipe's settings and architecture, the precision training actually ran in, the training
images and labels, the seed, the step limit, the thread count, the CPU (instruction set; vendor,
family, model, stepping and model name, or on Arm implementer, architecture, variant, part and
revision), the PyTorch version and the source code of the ``cnnedu`` package (a changed training
loop is a different training). Training on a CPU is deterministic, so the same inputs give the
same weights (``tests/test_model_store.py`` trains twice and compares); anything else is trained
again rather than loaded. Only CPU training is kept: on a GPU, cuDNN's backward pass is not
deterministic by default, and training there is fast anyway. The store is a folder,
``CNNEDU_MODEL_STORE`` or ``~/.cache/cnnedu/models``, with one file per recipe, seed and step
limit, each overwritten by the next keep: it cannot grow without bound. A store that cannot be
written costs the time saving, never the lesson: keeping then warns.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from cnnedu import config
from cnnedu.data import FashionMNIST
from cnnedu.recipes import Recipe
from cnnedu.train import fit
from cnnedu.train.checkpoint import save_checkpoint
from cnnedu.train.precision import CPUINFO, first_cpu_fields, resolve_precision

STORE_ENV = "CNNEDU_MODEL_STORE"
DEFAULT_STORE = Path("~/.cache/cnnedu/models")
PACKAGE = Path(__file__).resolve().parent


def store_dir() -> Path:
    """The folder that holds kept models: ``CNNEDU_MODEL_STORE``, else ``~/.cache/cnnedu/models``."""
    return Path(os.environ.get(STORE_ENV) or DEFAULT_STORE).expanduser()


def uses_store(device: torch.device | str) -> bool:
    """Whether models trained on ``device`` are kept and loaded: on the CPU only (see above)."""
    return torch.device(device).type == "cpu"


def cpu_name() -> str:
    """The CPU as ``/proc/cpuinfo`` names it: vendor, family, model and stepping numbers and
    model name (x86), or implementer, architecture, variant, part and revision (Arm, which
    has no model name there), or ``""`` where there is none.

    Two CPUs that report the same instruction set to torch can still run different kernels
    (with and without AMX, for one), so their results may differ; and a cloud's model name can
    be as vague as "AMD EPYC" for two generations (families 25 and 26), so the numbers count too.
    """
    first = first_cpu_fields(CPUINFO)
    fields = ("vendor_id", "cpu family", "model", "stepping", "model name",
              "CPU implementer", "CPU architecture", "CPU variant", "CPU part", "CPU revision")
    return " | ".join(first[field] for field in fields if first.get(field))


def package_digest() -> str:
    """A digest of the ``cnnedu`` package's Python source (every ``.py`` file, path and text)."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(str(path.relative_to(PACKAGE)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def run_key(recipe: Recipe, train_set: FashionMNIST, *, seed: int, device: torch.device | str,
            max_batches: int | None = None) -> str:
    """A digest of everything that decides the weights ``recipe`` trains on ``train_set``.

    The recipe's fields (``build`` by the architecture it prints), the precision that ``"auto"``
    resolves to here, the images and labels, the seed (of torch and of the batch order),
    ``max_batches``, the device type, the thread count, the CPU (instruction set, and vendor,
    family, model, stepping and model name), the PyTorch version and the package's source.
    Building the model to print it does not move the caller's random state.
    """
    with torch.random.fork_rng(devices=[]):
        architecture = repr(recipe.build())
    settings = {field.name: getattr(recipe, field.name) for field in dataclasses.fields(recipe)
                if field.name != "build"}
    images = train_set.images.contiguous()
    labels = train_set.labels.contiguous()
    data = hashlib.sha256(images.numpy().tobytes())
    data.update(labels.numpy().tobytes())
    described = json.dumps({
        "settings": settings, "architecture": architecture,
        "precision": resolve_precision(recipe.precision, device), "data": data.hexdigest(),
        "images": list(images.shape), "seed": seed, "max_batches": max_batches,
        "device": torch.device(device).type, "threads": torch.get_num_threads(),
        "cpu": [torch.backends.cpu.get_cpu_capability(), cpu_name()], "torch": torch.__version__,
        "code": package_digest()}, sort_keys=True, default=str)
    return hashlib.sha256(described.encode()).hexdigest()


def _path(recipe: Recipe, seed: int, max_batches: int | None) -> Path:
    steps = "all-steps" if max_batches is None else f"{max_batches}-steps"
    return store_dir() / f"{recipe.name}-seed{seed}-{steps}.pt"


def shown_path(path: Path) -> str:
    """``path`` with the home folder written ``~`` (stored outputs name no one's home)."""
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)


@dataclass
class RecipeModel:
    """A recipe's trained model and where it came from (see :func:`recipe_model`)."""

    model: nn.Module
    loaded: bool            # True: read from the store; False: trained in this call
    precision: str          # what its training ran in ("bf16" or "fp32")
    epochs: int
    train_seconds: float    # the training's own time, wherever it ran
    path: Path | None       # where it is kept; None: not kept

    def __str__(self) -> str:
        how = (f"{self.epochs} epochs in {self.precision}, {self.train_seconds:.0f} s of "
               "training")
        if self.loaded:
            return f"loaded the kept model ({how} when it was kept) from {shown_path(self.path)}"
        if self.path is None:
            return f"trained now ({how}); not kept"
        return f"trained now ({how}), kept in {shown_path(self.path)}"


def keep_recipe_model(model: nn.Module, recipe: Recipe, train_set: FashionMNIST, *, seed: int,
                      device: torch.device | str, precision: str, epochs: int,
                      train_seconds: float, max_batches: int | None = None) -> Path | None:
    """Keep ``model``, trained by ``recipe`` on ``train_set`` from ``seed``, for later lessons.

    Call it with the arguments the training used: ``seed`` seeded torch
    (:func:`cnnedu.config.seed_everything`) before ``recipe.build()`` and the batch order
    (``recipe.train_loader(..., seed=seed)``), and ``fit`` ran ``recipe.fit_kwargs()`` with
    ``max_batches``. Returns the file, or None: on a device other than the CPU (nothing is
    kept there), when ``epochs`` or ``precision`` are not the recipe's (a warning: an edited
    training is not the recipe's model), or when the store cannot be written (a warning).
    """
    if not uses_store(device):
        return None
    expected = (recipe.epochs, resolve_precision(recipe.precision, device))
    if (epochs, precision) != expected:
        warnings.warn(f"not kept: trained {epochs} epochs in {precision}, but the recipe "
                      f"trains {expected[0]} in {expected[1]}, so it is not the recipe's model",
                      stacklevel=2)
        return None
    path = _path(recipe, seed, max_batches)
    key = run_key(recipe, train_set, seed=seed, device=device, max_batches=max_batches)
    try:
        save_checkpoint(path, model, key=key, precision=precision, epochs=epochs,
                        train_seconds=float(train_seconds))
    except (OSError, RuntimeError) as err:    # no folder, no permission, a full disk
        warnings.warn(f"could not keep the trained model in {path} ({err}); set "
                      f"{STORE_ENV} to a writable folder to keep it for later lessons",
                      stacklevel=2)
        return None
    return path


def load_recipe_model(recipe: Recipe, train_set: FashionMNIST, *, seed: int,
                      device: torch.device | str,
                      max_batches: int | None = None) -> RecipeModel | None:
    """The kept model for exactly these settings (on the CPU, in eval mode), else None.

    A file for other settings, or one that cannot be read, counts as not kept.
    """
    path = _path(recipe, seed, max_batches)
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        extra, weights = dict(state["extra"]), state["model"]
        kept_key = extra["key"]                    # a file without one is not ours
    except Exception as err:  # noqa: BLE001 (truncated, not a checkpoint, not ours: not kept)
        warnings.warn(f"ignoring {path}, which cannot be read: {err}", stacklevel=2)
        return None
    if kept_key != run_key(recipe, train_set, seed=seed, device=device,
                           max_batches=max_batches):
        return None   # kept for other settings: training would not give these weights
    with torch.random.fork_rng(devices=[]):
        model = recipe.build()
    model.load_state_dict(weights)
    return RecipeModel(model.eval(), True, str(extra["precision"]), int(extra["epochs"]),
                       float(extra["train_seconds"]), path)


def recipe_model(recipe: Recipe, train_set: FashionMNIST, device: torch.device | str, *,
                 seed: int = 0, max_batches: int | None = None,
                 progress: bool = True) -> RecipeModel:
    """``recipe``'s model trained on ``train_set`` from ``seed``: loaded when kept, else trained.

    Training here is what :func:`keep_recipe_model` expects of a kept model (seed torch, build,
    ``fit`` with ``recipe.fit_kwargs()``, batches in the order of ``seed``), so a loaded model
    has the weights this call would have trained. A model trained here is kept too. The model
    comes back on the CPU, contiguous, in eval mode.
    """
    kept = load_recipe_model(recipe, train_set, seed=seed, device=device,
                             max_batches=max_batches)
    if kept is not None:
        return kept
    config.seed_everything(seed)
    model = recipe.build()
    start = time.perf_counter()
    history = fit(model, recipe.train_loader(train_set, device, seed=seed), device=device,
                  max_batches=max_batches, progress=progress, **recipe.fit_kwargs())
    seconds = time.perf_counter() - start
    epochs = len(history.epoch)
    path = keep_recipe_model(model, recipe, train_set, seed=seed, device=device,
                             precision=history.precision, epochs=epochs, train_seconds=seconds,
                             max_batches=max_batches)
    model = model.to("cpu", memory_format=torch.contiguous_format).eval()
    return RecipeModel(model, False, history.precision, epochs, seconds, path)
