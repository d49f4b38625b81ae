"""What the lessons' full runs found, quoted by their quick-mode runs.

A quick-mode run (a few batches, or a second of training) is too short to judge anything, and
must not print a verdict under prose that describes the full run. So a quick run prints "too
short to judge" and quotes what the committed full run printed, from this table. Each entry is a
verdict line copied from the full-run outputs of the lesson's committed notebook, and
``tests/test_findings.py`` checks that every entry still appears there word for word: when a
rebuild changes the verdict, the test fails until this table is updated.
"""

from __future__ import annotations

NOT_RECORDED = ("not recorded yet: run this lesson in full mode (QUICK = False) to see it, or "
                "read the committed notebook's output here")

FULL_RUN: dict[str, dict[str, str]] = {
    "02": {
        'without label smoothing vs recipe':
            'Not separated in this short budget (2 epochs, 12,000 images): validation accuracy, without label smoothing minus recipe, over 5 seed(s): -0.010 ± 0.013 (mean ± sd), min -0.024, max +0.006; recipe ahead in 4 of 5 seeds (paired t-test, two-sided, assuming roughly normal differences: p = 0.156). More seeds could tell.',
        'without flips vs recipe':
            'without flips beat recipe in this short budget (2 epochs, 12,000 images): validation accuracy, without flips minus recipe, over 5 seed(s): +0.006 ± 0.004 (mean ± sd), min +0.003, max +0.010; without flips ahead in 5 of 5 seeds (paired t-test, two-sided, assuming roughly normal differences: p = 0.016).',
        'constant learning rate (no one-cycle) vs recipe':
            'recipe beat constant learning rate (no one-cycle) in this short budget (2 epochs, 12,000 images): validation accuracy, constant learning rate (no one-cycle) minus recipe, over 5 seed(s): -0.020 ± 0.011 (mean ± sd), min -0.033, max -0.011; recipe ahead in 5 of 5 seeds (paired t-test, two-sided, assuming roughly normal differences: p = 0.014).',
        'SGD + Nesterov, one-cycle to 0.05 vs recipe':
            'recipe beat SGD + Nesterov, one-cycle to 0.05 in this short budget (2 epochs, 12,000 images): validation accuracy, SGD + Nesterov, one-cycle to 0.05 minus recipe, over 5 seed(s): -0.445 ± 0.145 (mean ± sd), min -0.614, max -0.293; recipe ahead in 5 of 5 seeds (paired t-test, two-sided, assuming roughly normal differences: p = 0.002).',
        'pytorch init, SGD: +8 vs +0':
            '+0 beat +8 with pytorch init and SGD, in this budget: final training loss, +8 minus +0, over 5 seed(s): +0.775 ± 0.307 (mean ± sd), min +0.371, max +1.130; +0 ahead in 5 of 5 seeds (paired t-test, two-sided, assuming roughly normal differences: p = 0.005).',
        'pytorch init, AdamW: +8 vs +0':
            '+0 beat +8 with pytorch init and AdamW, in this budget: final training loss, +8 minus +0, over 5 seed(s): +1.297 ± 0.102 (mean ± sd), min +1.169, max +1.423; +0 ahead in 5 of 5 seeds (paired t-test, two-sided, assuming roughly normal differences: p < 0.001).',
        'he init, SGD: +8 vs +0':
            'Not separated with he init and SGD, in this budget: final training loss, +8 minus +0, over 5 seed(s): +0.049 ± 0.483 (mean ± sd), min -0.551, max +0.706; +0 ahead in 2 of 5 seeds (paired t-test, two-sided, assuming roughly normal differences: p = 0.833). More seeds could tell.',
        'he init, AdamW: +8 vs +0':
            '+0 beat +8 with he init and AdamW, in this budget: final training loss, +8 minus +0, over 5 seed(s): +0.737 ± 0.235 (mean ± sd), min +0.430, max +1.016; +0 ahead in 5 of 5 seeds (paired t-test, two-sided, assuming roughly normal differences: p = 0.002).',
    },
    "03": {
        'with BN vs without BN at lr 0.003':
            'with BN beat without BN at lr 0.003, in this budget (79 steps of SGD): final training loss, with BN minus without BN, over 5 seed(s): -0.138 ± 0.059 (mean ± sd), min -0.196, max -0.058; with BN ahead in 5 of 5 seeds (paired t-test, two-sided, assuming roughly normal differences: p = 0.006).',
        'with BN vs without BN at lr 0.01':
            'with BN beat without BN at lr 0.01, in this budget (79 steps of SGD): final training loss, with BN minus without BN, over 5 seed(s): -0.422 ± 0.110 (mean ± sd), min -0.582, max -0.311; with BN ahead in 5 of 5 seeds (paired t-test, two-sided, assuming roughly normal differences: p = 0.001).',
        'with BN vs without BN at lr 0.03':
            'with BN beat without BN at lr 0.03, in this budget (79 steps of SGD): final training loss, with BN minus without BN, over 5 seed(s): -1.188 ± 0.058 (mean ± sd), min -1.282, max -1.130; with BN ahead in 5 of 5 seeds (paired t-test, two-sided, assuming roughly normal differences: p < 0.001).',
        'with BN vs without BN at lr 0.1':
            'with BN beat without BN at lr 0.1, in this budget (79 steps of SGD): final training loss, with BN minus without BN, over 5 seed(s): -1.549 ± 0.086 (mean ± sd), min -1.629, max -1.408; with BN ahead in 5 of 5 seeds (paired t-test, two-sided, assuming roughly normal differences: p < 0.001).',
        'with BN vs without BN at lr 0.3':
            'with BN beat without BN at lr 0.3, in this budget (79 steps of SGD): final training loss, with BN minus without BN, over 5 seed(s): -1.533 ± 0.087 (mean ± sd), min -1.659, max -1.433; with BN ahead in 5 of 5 seeds (paired t-test, two-sided, assuming roughly normal differences: p < 0.001).',
        'with BN vs without BN at lr 1':
            'with BN beat without BN at lr 1, in this budget (79 steps of SGD): final training loss, with BN minus without BN, over 5 seed(s): -1.424 ± 0.117 (mean ± sd), min -1.553, max -1.281; with BN ahead in 5 of 5 seeds (paired t-test, two-sided, assuming roughly normal differences: p < 0.001).',
    },
    "04": {
        'plain-20 vs plain-8':
            'plain-20 beat plain-8 in this budget (94 steps), on Fashion-MNIST: final training loss, plain-20 minus plain-8, over 5 seed(s): -0.121 ± 0.081 (mean ± sd), min -0.204, max +0.002; plain-20 ahead in 4 of 5 seeds (paired t-test, two-sided, assuming roughly normal differences: p = 0.029).',
        'plain-32 vs plain-20':
            'plain-20 beat plain-32 in this budget (94 steps), on Fashion-MNIST: final training loss, plain-32 minus plain-20, over 5 seed(s): +0.300 ± 0.104 (mean ± sd), min +0.187, max +0.467; plain-20 ahead in 5 of 5 seeds (paired t-test, two-sided, assuming roughly normal differences: p = 0.003).',
        'residual-20 vs residual-8':
            'residual-20 beat residual-8 in this budget (94 steps), on Fashion-MNIST: final training loss, residual-20 minus residual-8, over 5 seed(s): -0.218 ± 0.054 (mean ± sd), min -0.283, max -0.141; residual-20 ahead in 5 of 5 seeds (paired t-test, two-sided, assuming roughly normal differences: p < 0.001).',
        'residual-32 vs residual-20':
            'Not separated in this budget (94 steps), on Fashion-MNIST: final training loss, residual-32 minus residual-20, over 5 seed(s): -0.006 ± 0.031 (mean ± sd), min -0.035, max +0.040; residual-32 ahead in 3 of 5 seeds (paired t-test, two-sided, assuming roughly normal differences: p = 0.679). More seeds could tell.',
        'residual-32 vs plain-32':
            'residual-32 beat plain-32 in this budget (94 steps), on Fashion-MNIST: final training loss, residual-32 minus plain-32, over 5 seed(s): -0.460 ± 0.069 (mean ± sd), min -0.576, max -0.404; residual-32 ahead in 5 of 5 seeds (paired t-test, two-sided, assuming roughly normal differences: p < 0.001).',
        'residual + BN vs plain + BN':
            'residual + BN beat plain + BN in this budget (94 steps), on Fashion-MNIST: final training loss, residual + BN minus plain + BN, over 5 seed(s): -0.604 ± 0.087 (mean ± sd), min -0.700, max -0.517; residual + BN ahead in 5 of 5 seeds (paired t-test, two-sided, assuming roughly normal differences: p < 0.001).',
        'residual, no BN, zero-init vs plain + BN':
            'plain + BN beat residual, no BN, zero-init in this budget (94 steps), on Fashion-MNIST: final training loss, residual, no BN, zero-init minus plain + BN, over 5 seed(s): +0.930 ± 0.194 (mean ± sd), min +0.599, max +1.087; plain + BN ahead in 5 of 5 seeds (paired t-test, two-sided, assuming roughly normal differences: p < 0.001).',
        'residual, no BN vs plain + BN':
            'plain + BN beat residual, no BN in this budget (94 steps), on Fashion-MNIST: final training loss, residual, no BN minus plain + BN, over 5 seed(s): +0.990 ± 0.104 (mean ± sd), min +0.854, max +1.106; plain + BN ahead in 5 of 5 seeds (paired t-test, two-sided, assuming roughly normal differences: p < 0.001).',
    },
    "05": {
        'AlexNet vs ResNet-8 mini':
            "Not separated in this time budget, on Fashion-MNIST's validation split: validation accuracy, AlexNet minus ResNet-8 mini, over 5 seed(s): -0.0103 ± 0.0212 (mean ± sd), min -0.0396, max +0.0166; ResNet-8 mini ahead in 3 of 5 seeds (paired t-test, two-sided, assuming roughly normal differences: p = 0.339). More seeds could tell.",
        'VGG-style vs ResNet-8 mini':
            "VGG-style beat ResNet-8 mini in this time budget, on Fashion-MNIST's validation split: validation accuracy, VGG-style minus ResNet-8 mini, over 5 seed(s): +0.0535 ± 0.0129 (mean ± sd), min +0.0314, max +0.0652; VGG-style ahead in 5 of 5 seeds (paired t-test, two-sided, assuming roughly normal differences: p < 0.001).",
        'Inception-style vs ResNet-8 mini':
            "Inception-style beat ResNet-8 mini in this time budget, on Fashion-MNIST's validation split: validation accuracy, Inception-style minus ResNet-8 mini, over 5 seed(s): +0.0276 ± 0.0103 (mean ± sd), min +0.0160, max +0.0416; Inception-style ahead in 5 of 5 seeds (paired t-test, two-sided, assuming roughly normal differences: p = 0.004).",
        'DenseNet-style vs ResNet-8 mini':
            "ResNet-8 mini beat DenseNet-style in this time budget, on Fashion-MNIST's validation split: validation accuracy, DenseNet-style minus ResNet-8 mini, over 5 seed(s): -0.1714 ± 0.0529 (mean ± sd), min -0.2576, max -0.1198; ResNet-8 mini ahead in 5 of 5 seeds (paired t-test, two-sided, assuming roughly normal differences: p = 0.002).",
    },
    "07": {
        'label smoothing 0.1 vs none (ECE)':
            'no smoothing beat label smoothing 0.1 after one epoch on 6,000 images, on Fashion-MNIST: ECE, label smoothing 0.1 minus no smoothing, over 5 seed(s): +0.083 ± 0.014 (mean ± sd), min +0.063, max +0.098; no smoothing ahead in 5 of 5 seeds (paired t-test, two-sided, assuming roughly normal differences: p < 0.001).',
    },
    "08": {
        'MobileNetV2-style vs ResNet-8 mini':
            "ResNet-8 mini beat MobileNetV2-style in this time budget, on Fashion-MNIST's validation split: validation accuracy, MobileNetV2-style minus ResNet-8 mini, over 5 seed(s): -0.0708 ± 0.0043 (mean ± sd), min -0.0752, max -0.0640; ResNet-8 mini ahead in 5 of 5 seeds (paired t-test, two-sided, assuming roughly normal differences: p < 0.001).",
        'ConvNeXt-style vs ResNet-8 mini':
            "ResNet-8 mini beat ConvNeXt-style in this time budget, on Fashion-MNIST's validation split: validation accuracy, ConvNeXt-style minus ResNet-8 mini, over 5 seed(s): -0.0458 ± 0.0091 (mean ± sd), min -0.0570, max -0.0324; ResNet-8 mini ahead in 5 of 5 seeds (paired t-test, two-sided, assuming roughly normal differences: p < 0.001).",
        'MobileNetV2-style vs ConvNeXt-style':
            "ConvNeXt-style beat MobileNetV2-style in this time budget, on Fashion-MNIST's validation split: validation accuracy, MobileNetV2-style minus ConvNeXt-style, over 5 seed(s): -0.0250 ± 0.0060 (mean ± sd), min -0.0316, max -0.0162; ConvNeXt-style ahead in 5 of 5 seeds (paired t-test, two-sided, assuming roughly normal differences: p < 0.001).",
    },
}


def full_run_found(lesson: str, key: str) -> str:
    """The full run's verdict for ``key`` in ``lesson`` (e.g. ``"05"``, ``"ResNet-8 mini vs
    AlexNet"``), or a note that it is not recorded yet."""
    if lesson not in FULL_RUN:
        raise ValueError(f"lesson must be one of {sorted(FULL_RUN)}, got {lesson!r}")
    return FULL_RUN[lesson].get(key, NOT_RECORDED)
