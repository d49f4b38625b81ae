"""Look inside a model: a per-layer table (output shape, parameters, FLOPs, receptive field).

FLOPs are PyTorch's own count (``torch.utils.flop_counter.FlopCounterMode``: a multiply-add is
2 FLOPs; only matrix products and convolutions are counted). The receptive field is computed
here, per tensor: every tensor that flows through the forward pass carries (size, jump), where
*size* is how many input pixels one of its units sees along a side and *jump* is the distance
in input pixels between neighbouring units. A convolution or pooling with kernel k, stride s and
dilation d maps (size, jump) to (size + d(k-1)·jump, jump·s); element-wise operations keep it;
operations that merge tensors (a residual ``+``, a ``cat``) take the largest field of their
inputs; global pooling, ``flatten`` and linear layers see the whole input.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode

from cnnedu.device import model_device

GLOBAL = -1  # receptive field size meaning "the whole input"


@dataclass(frozen=True)
class Field:
    """Receptive field of one unit: ``size`` input pixels per side (GLOBAL: all), ``jump``."""

    size: int
    jump: int

    def __str__(self) -> str:
        return "global" if self.size == GLOBAL else f"{self.size} (jump {self.jump})"


def _arg(args, kwargs, index: int, name: str, default):
    if name in kwargs:
        return kwargs[name]
    return args[index] if len(args) > index else default


def _first(value) -> int:
    if isinstance(value, (tuple, list)):
        return int(value[0]) if value else None
    return int(value)


_WINDOWED = {  # function name -> positions of (kernel, stride, dilation); kernel None: from weight
    "conv2d": (None, 3, 5), "max_pool2d": (1, 2, 4), "max_pool2d_with_indices": (1, 2, 4),
    "_max_pool2d": (1, 2, 4), "avg_pool2d": (1, 2, None),
}
_GLOBAL = {"adaptive_avg_pool2d", "adaptive_max_pool2d", "linear", "mean", "amax"}


class _FieldTracker(TorchFunctionMode):
    """Propagate :class:`Field` through every torch function call of a forward pass."""

    def __init__(self, x: torch.Tensor):
        super().__init__()
        self.fields: dict[int, Field] = {id(x): Field(1, 1)}
        self._alive = [x]          # keep tensors alive so ids stay unique during the pass

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        leaves, _ = tree_flatten((args, kwargs))
        known = [self.fields[id(t)] for t in leaves
                 if isinstance(t, torch.Tensor) and id(t) in self.fields]
        if not known:
            return out
        field = max(known, key=lambda f: (f.size == GLOBAL, f.size))
        name = getattr(func, "__name__", "")
        if field.size != GLOBAL and name in _WINDOWED:
            field = _windowed_field(field, name, args, kwargs)
        elif name in _GLOBAL:
            field = Field(GLOBAL, field.jump)
        for tensor in tree_flatten(out)[0]:
            if isinstance(tensor, torch.Tensor):
                self.fields[id(tensor)] = field
                self._alive.append(tensor)
        return out


def _windowed_field(field: Field, name: str, args, kwargs) -> Field:
    """Field after a convolution or pooling (along the height; kernels here are square)."""
    k_pos, s_pos, d_pos = _WINDOWED[name]
    stride = _first(_arg(args, kwargs, s_pos, "stride", None) or 0) or None
    if k_pos is None:                     # convolution: kernel from the weight, stride 1 default
        kernel = _arg(args, kwargs, 1, "weight", None).shape[-2]
        stride = stride or 1
    else:                                 # pooling: stride None or [] means "= kernel"
        kernel = _first(_arg(args, kwargs, k_pos, "kernel_size", 1))
        stride = stride or kernel
    dilation = 1 if d_pos is None else _first(_arg(args, kwargs, d_pos, "dilation", 1) or 1)
    return Field(field.size + dilation * (kernel - 1) * field.jump, field.jump * stride)


@dataclass
class LayerRow:
    """One leaf module's line in the table."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int
    flops: int
    field: Field


def _leaf_modules(model: nn.Module) -> dict[nn.Module, str]:
    """Leaf modules by name; a model that is itself one layer is its own leaf ("")."""
    return {module: name for name, module in model.named_modules()
            if not list(module.children()) and (name or module is model)}


def layer_table(model: nn.Module, input_shape: tuple[int, ...],
                device: torch.device | str = "cpu") -> list[LayerRow]:
    """Run one eval forward on zeros of ``input_shape`` and describe every leaf module, in order.

    A module called twice (e.g. a shared ReLU) gets one row per call.
    """
    if len(input_shape) != 4:
        raise ValueError(f"input_shape must be (N, C, H, W), got {input_shape!r}")
    names = _leaf_modules(model)
    records: list[tuple[nn.Module, torch.Tensor]] = []
    hooks = [m.register_forward_hook(lambda mod, inp, out: records.append((mod, out)))
             for m in names]
    x = torch.zeros(input_shape, device=device)
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    try:
        with torch.no_grad(), counter, _FieldTracker(x) as tracker:
            model(x)
            fields = dict(tracker.fields)
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    flop_counts = counter.get_flop_counts()
    prefix = type(model).__name__
    rows = []
    for module, out in records:
        name = names[module]
        key = f"{prefix}.{name}" if name else prefix
        flops = sum(flop_counts.get(key, {}).values())
        name = name or type(module).__name__
        field = fields.get(id(out), Field(GLOBAL, 0))
        rows.append(LayerRow(name, type(module).__name__, tuple(out.shape),
                             sum(p.numel() for p in module.parameters(recurse=False)),
                             int(flops), field))
    return rows


def total_flops(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """FLOPs of one eval forward of ``model`` on an input of ``input_shape``, as PyTorch counts."""
    counter = FlopCounterMode(display=False)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), counter:
            model(torch.zeros(input_shape, device=model_device(model)))
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())


def count_layers(model: nn.Module, kind: type[nn.Module] | tuple[type[nn.Module], ...]) -> int:
    """How many modules of ``kind`` the model contains."""
    return sum(isinstance(m, kind) for m in model.modules())


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (all, or only those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _fmt(n: int) -> str:
    if n >= 1e9:
        return f"{n / 1e9:.2f} G"
    if n >= 1e6:
        return f"{n / 1e6:.2f} M"
    if n >= 1e3:
        return f"{n / 1e3:.1f} k"
    return str(n)


def format_table(rows: list[LayerRow], skip_kinds: tuple[str, ...] = ()) -> str:
    """The table as fixed-width text, with totals (rows of ``skip_kinds`` are hidden)."""
    lines = [f"{'layer':22s} {'type':18s} {'output shape':20s} {'params':>9s} {'FLOPs':>10s} "
             f"{'receptive field':>18s}"]
    for r in rows:
        if r.kind in skip_kinds:
            continue
        lines.append(f"{r.name:22s} {r.kind:18s} {str(r.output_shape):20s} {_fmt(r.params):>9s} "
                     f"{_fmt(r.flops):>10s} {str(r.field):>18s}")
    lines.append(f"{'total':22s} {'':18s} {'':20s} {_fmt(sum(r.params for r in rows)):>9s} "
                 f"{_fmt(sum(r.flops for r in rows)):>10s}")
    return "\n".join(lines)


def table_html(rows: list[LayerRow]) -> str:
    """The table as HTML (for notebooks)."""
    cells = "".join(
        f"<tr><td>{html.escape(r.name)}</td><td>{r.kind}</td><td>{r.output_shape}</td>"
        f"<td>{r.params:,}</td><td>{r.flops:,}</td><td>{r.field}</td></tr>" for r in rows)
    return ("<table><tr><th>layer</th><th>type</th><th>output</th><th>params</th><th>FLOPs</th>"
            f"<th>receptive field</th></tr>{cells}</table>")


@dataclass
class Profile:
    """Costs of one model at one input shape (see :func:`profile`)."""

    conv2d_count: int
    params: int
    flops: int
    activation_bytes: int
    latency_ms: float


def saved_activation_bytes(model: nn.Module, input_shape: tuple[int, ...],
                           device: torch.device | str = "cpu") -> int:
    """Bytes of the tensors autograd saves for backward in one training-mode forward.

    That is the memory training needs besides weights, gradients and optimiser state. Tensors
    saved several times (e.g. a ReLU output read by the next convolution) are counted once, and
    parameters (saved by every convolution) are not activations, so they are left out. Runs on a
    copy of the model so BatchNorm's running statistics are not changed.
    """
    import copy

    probe = copy.deepcopy(model).to(device).train()
    parameter_storages = {p.untyped_storage().data_ptr() for p in probe.parameters()}
    seen: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in parameter_storages:
            seen[storage.data_ptr()] = storage.nbytes()
        return tensor

    x = torch.zeros(input_shape, device=device)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        probe(x)
    return sum(seen.values())


def median_latency_ms(model: nn.Module, input_shape: tuple[int, ...],
                      device: torch.device | str = "cpu", warmup: int = 2,
                      repeats: int = 5) -> float:
    """Median wall time of an eval-mode forward without gradients, after ``warmup`` runs."""
    import statistics
    import time

    device = torch.device(device)
    was_training = model.training
    model.eval().to(device)
    x = torch.zeros(input_shape, device=device)
    times = []
    try:
        with torch.no_grad():
            for i in range(warmup + repeats):
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                start = time.perf_counter()
                model(x)
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                if i >= warmup:
                    times.append((time.perf_counter() - start) * 1000)
    finally:
        model.train(was_training)
    return statistics.median(times)


def profile(model: nn.Module, input_shape: tuple[int, ...], device: torch.device | str = "cpu",
            repeats: int = 5) -> Profile:
    """Conv count, parameters, FLOPs (PyTorch's counter, one eval forward), saved activation
    bytes (one training forward) and median latency (eval forward on ``device``)."""
    model = model.to(device)
    return Profile(
        conv2d_count=count_layers(model, nn.Conv2d),
        params=count_params(model),
        flops=total_flops(model, input_shape),
        activation_bytes=saved_activation_bytes(model, input_shape, device),
        latency_ms=median_latency_ms(model, input_shape, device, repeats=repeats),
    )


def compare(models: dict[str, nn.Module], input_shape: tuple[int, ...] | dict[str, tuple],
            device: torch.device | str = "cpu", repeats: int = 5) -> dict[str, Profile]:
    """:func:`profile` of each model; ``input_shape`` may be one shape or a shape per model."""
    shapes = input_shape if isinstance(input_shape, dict) else dict.fromkeys(models, input_shape)
    return {name: profile(model, shapes[name], device, repeats) for name, model in models.items()}


def profiles_text(profiles: dict[str, Profile], extra: dict[str, dict[str, str]] | None = None) -> str:
    """The comparison as a fixed-width table; ``extra`` adds columns per model (name -> value)."""
    extra = extra or {}
    columns = sorted({key for values in extra.values() for key in values})
    header = (f"{'model':14s} {'conv':>5s} {'params':>9s} {'GFLOPs':>8s} {'activations':>12s} "
              f"{'latency':>10s}" + "".join(f" {c:>10s}" for c in columns))
    lines = [header]
    for name, p in profiles.items():
        lines.append(f"{name:14s} {p.conv2d_count:5d} {p.params / 1e6:8.1f}M {p.flops / 1e9:8.2f} "
                     f"{p.activation_bytes / 2**20:9.1f} MiB {p.latency_ms:7.1f} ms"
                     + "".join(f" {extra.get(name, {}).get(c, ''):>10s}" for c in columns))
    return "\n".join(lines)
