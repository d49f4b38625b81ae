"""``torchrun --standalone --nproc-per-node=N -m cnnedu.distributed COMMAND ...``

Commands: ``train`` (the lesson's ResNet with DDP), ``by-hand`` (gradients averaged with an
explicit all_reduce, then with DDP) and ``allreduce-bench`` (all-reduce time by message size).
``python -m cnnedu.distributed train --help`` lists the options.
"""

from __future__ import annotations

import argparse
import sys

from cnnedu.distributed import demo, group, worker
from cnnedu.train.precision import PRECISIONS


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m cnnedu.distributed", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train the lesson's ResNet data-parallel")
    defaults = worker.TrainConfig()
    t.add_argument("--model", choices=worker.MODELS, default=defaults.model)
    t.add_argument("--epochs", type=int, default=defaults.epochs)
    t.add_argument("--global-batch", type=int, default=defaults.global_batch,
                   help="images per step over all ranks (each rank gets global / N)")
    t.add_argument("--lr", type=float, default=defaults.lr)
    t.add_argument("--optimizer", default=defaults.optimizer)
    t.add_argument("--weight-decay", type=float, default=defaults.weight_decay)
    t.add_argument("--label-smoothing", type=float, default=defaults.label_smoothing)
    t.add_argument("--scheduler", default=defaults.scheduler)
    t.add_argument("--max-steps-per-epoch", type=int, default=None)
    t.add_argument("--train-limit", type=int, default=None, help="use a balanced subset")
    t.add_argument("--no-augment", dest="augment", action="store_false")
    t.add_argument("--sync-bn", action="store_true",
                   help="synchronised BatchNorm: nn.SyncBatchNorm on CUDA, ours on CPU")
    t.add_argument("--seed", type=int, default=defaults.seed)
    t.add_argument("--checkpoint", default=None, help="file to resume from and write to")
    t.add_argument("--checkpoint-every", type=int, default=0, help="steps between checkpoints")
    t.add_argument("--out", default=None, help="folder for result.json and state.pt (rank 0)")
    t.add_argument("--evaluate", action="store_true", help="test accuracy at the end")
    t.add_argument("--log-every", type=int, default=defaults.log_every)
    t.add_argument("--float64", action="store_true",
                   help="train in double precision (to tell rounding from real differences)")
    t.add_argument("--precision", choices=PRECISIONS, default=defaults.precision,
                   help="fp32 (default, so runs compare exactly), or bf16 autocast around "
                        "forward and loss")
    b = sub.add_parser("by-hand", help="all_reduce of gradients by hand, then DDP")
    b.add_argument("--global-batch", type=int, default=8)
    sub.add_parser("bn-check", help="synchronised BatchNorm vs one process on the whole batch")
    a = sub.add_parser("allreduce-bench", help="time all_reduce by message size")
    a.add_argument("--out", default=None)
    a.add_argument("--repeats", type=int, default=20)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    ctx = group.setup()
    try:
        if args.command == "train":
            options = {k: v for k, v in vars(args).items() if k != "command"}
            worker.train(worker.TrainConfig(**options), ctx)
        elif args.command == "by-hand":
            if not ctx.distributed:
                raise SystemExit("by-hand needs torchrun: torchrun --nproc-per-node=2 -m "
                                 "cnnedu.distributed by-hand")
            demo.by_hand(ctx, args.global_batch)
        elif not ctx.distributed:
            raise SystemExit(f"{args.command} needs torchrun: torchrun --nproc-per-node=2 -m "
                             f"cnnedu.distributed {args.command}")
        elif args.command == "bn-check":
            demo.bn_check(ctx)
        else:
            demo.allreduce_bench(ctx, args.out, args.repeats)
    except BaseException:
        sys.stdout.flush()
        raise
    group.teardown(ctx)
    return 0


if __name__ == "__main__":
    sys.exit(main())
