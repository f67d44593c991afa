"""Benchmark of a torchvision backbone in fast mode: for each --resolution, the frozen backbone's preparation
(from scratch here: no pretrained weights can be fetched on this machine), the cached stage features' memory
(per image and in all, float16) against the built-in CIFAR ResNet measured in the same run, and the time per
candidate (branch training and evaluation on the cached features) of --candidates sampled architectures.
Run: python benchmarks/bench_backbones.py --dataset fashion_mnist --max-train 10000"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from _environment import print_environment
from aebnas.datasets import load_dataset
from aebnas.engine.evaluation import FrozenBackbone, TrainConfig, train_candidate
from aebnas.engine.evaluation.backbone import SPLITS, feature_bytes
from aebnas.search_space import SearchSpace, stage_shapes


def measure(name: str, options: dict, data, args) -> None:
    """Prints one backbone's preparation time, feature memory, and median time per candidate."""
    space = SearchSpace.for_dataset(data.info, "extended", backbone=name, backbone_options=options)
    shapes = stage_shapes(name, space.backbone_options, data.info.input_shape)
    per_image = sum(feature_bytes(shapes))
    images = sum(len(getattr(data, split)) for split in SPLITS)
    start = time.perf_counter()
    frozen = FrozenBackbone.prepare(data, name, options, TrainConfig(epochs=args.backbone_epochs, device="cpu"))
    prepared = time.perf_counter() - start
    accuracy = (frozen.final_logits["val"].argmax(-1) == data.val.y).double().mean().item()
    times = []
    for arch in space.sample_many(args.candidates, args.seed):
        result = train_candidate(arch, data, TrainConfig(epochs=args.epochs, device="cpu"), "fast", frozen)
        times.append(result.train_seconds + result.eval_seconds)
    label = name + "".join(f" {k}={v}" for k, v in options.items())
    print(f"{label:<42}{space.backbone_cost / 1e6:>9.2f}{per_image / 1024:>12.1f}{per_image * images / 2**30:>10.2f}"
          f"{prepared:>10.1f}{100 * accuracy:>8.1f}{statistics.median(times):>9.1f} "
          f"[{min(times):.1f}, {max(times):.1f}]", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--model", default="torchvision:mobilenet_v3_small")
    parser.add_argument("--resolutions", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--max-train", type=int, default=10000)
    parser.add_argument("--backbone-epochs", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2, help="epochs per candidate's branches")
    parser.add_argument("--candidates", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print_environment(args)
    data = load_dataset(args.dataset, max_train=args.max_train, seed=args.seed)
    images = sum(len(getattr(data, split)) for split in SPLITS)
    print(f"{args.dataset}: {images} images (train {len(data.train)}, val {len(data.val)}, test {len(data.test)}); "
          f"backbone {args.backbone_epochs} epochs from scratch, branches {args.epochs} epochs\n")
    print(f"{'backbone':<42}{'MMACs':>9}{'KiB/image':>12}{'GiB all':>10}{'prep s':>10}{'val %':>8}"
          f"{'s/cand':>9} [min, max]")
    torch.manual_seed(args.seed)
    measure("resnet", {}, data, args)
    for resolution in args.resolutions:
        measure(args.model, {"resolution": resolution}, data, args)


if __name__ == "__main__":
    main()
