"""benchmarks/ema.py: the weight average against torch's own and a hand-computed truth (its
recomputed BatchNorm statistics come from cnnedu.experiments.reestimate_batchnorm, tested in
test_experiments.py)."""

import importlib.util
from pathlib import Path

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "ema.py"
spec = importlib.util.spec_from_file_location("ema_benchmark", SCRIPT)
ema = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ema)


def test_ema_update_equals_torchs_averaged_model_and_the_formula():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3))
    ours = AveragedModel(model).module          # a deep copy, as the script's starting point
    theirs = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.9), use_buffers=True)
    theirs.update_parameters(model)             # its first call copies the model
    for _ in range(3):
        model(torch.randn(4, 1, 8, 8))          # moves BatchNorm's buffers
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
        ema.ema_update(ours, model, 0.9)
        theirs.update_parameters(model)
    theirs_state = theirs.module.state_dict()
    for name, value in ours.state_dict().items():
        if value.dtype.is_floating_point:
            torch.testing.assert_close(value, theirs_state[name])
    # the batch count: copied here (torch's AveragedModel leaves it at its first copy)
    assert ours[1].num_batches_tracked.item() == model[1].num_batches_tracked.item() == 3
    one, zero = nn.Linear(1, 1, bias=False), nn.Linear(1, 1, bias=False)
    nn.init.ones_(one.weight)
    nn.init.zeros_(zero.weight)
    ema.ema_update(zero, one, 0.9)
    assert zero.weight.item() == torch.tensor(0.1).item()       # 0.9 * 0 + 0.1 * 1
