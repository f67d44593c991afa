"""Commands for deployment: ``export`` (a run's network as segments and a manifest), ``predict`` (real early
exit on an export; an ONNX export loads no torch) and ``profile`` (a latency table of a search space's parts
on this machine)."""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import sys
from pathlib import Path

from aebnas.cli._common import (POSITIVE, add_rule_arg, check_data_dir, dataset_info, int_arg, key_values, macs_arg,
                                parse_macs, print_table)
from aebnas.exceptions import AebnasError

IMAGE_FILES = ".npy (a NumPy array) or .pt (a torch tensor)"


def add_export_args(p: argparse.ArgumentParser) -> None:
    from aebnas.runtime import list_formats

    p.add_argument("run_dir", help="run directory of `aebnas search`")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--confirmed", default=None, metavar="best|ID",
                       help="a confirmed candidate: best (default: highest validation accuracy) or its architecture id")
    which.add_argument("--arch", default=None, metavar="ID", help="a searched trial's architecture id instead")
    p.add_argument("--format", default="onnx", choices=list_formats(), help="model files (default: onnx)")
    p.add_argument("--out", required=True, help="a new or empty directory for the segments and manifest.json")
    p.add_argument("--target-macs", type=macs_arg(relative=False), default=None,
                   help="re-tune the thresholds on validation for this average MACs, e.g. 50k (default: as tuned)")
    p.add_argument("--latency-table", default=None, metavar="FILE",
                   help="a latency table of the run's space (`aebnas profile`): the manifest then holds path latency")
    p.add_argument("--data-dir", default=None, help="folder with the dataset files, if not the default")


def run_export(args) -> int:
    from aebnas.engine.export import check_export_dir, export_run

    check_data_dir(args.data_dir)
    check_export_dir(args.out)
    target = parse_macs(args.target_macs) if args.target_macs else None
    m = export_run(args.run_dir, args.format, args.out, args.arch, args.confirmed, target, args.data_dir,
                   args.latency_table)
    print(f"exported {m.source} to {args.out} ({m.format}, {len(m.segments)} segments and {Path(args.out).name}/"
          "manifest.json):")
    print_table([[s.file, s.kind, f"{s.macs:,}"] for s in m.segments], ["file", "segment", "MACs"])
    print(f"exits after stages {list(m.positions)}, thresholds {[round(t, 6) for t in m.thresholds]} ({m.rule} rule), "
          f"path MACs {list(m.path_macs)}")
    if m.latency is not None:
        print(f"path latency {[round(ms, 4) for ms in m.latency.paths_ms]} ms (eager PyTorch parts on "
              f"{m.latency.device}, batch {m.latency.batch}, summed)")
    t = m.test
    print(f"on the test split: accuracy {100 * t.accuracy:.2f}%, average MACs {t.avg_macs:,.0f}, exit fractions "
          f"{' '.join(f'{f:.2f}' for f in t.exit_fractions)}; predictions and exits equal EarlyExitNet.infer: "
          f"{'yes' if t.agrees else 'NO'}")
    if not t.agrees:
        print(f"the {m.format} backend rounds floats differently from PyTorch: a few test images near a threshold "
              "leave at another exit", file=sys.stderr)
    return 0


def add_predict_args(p: argparse.ArgumentParser) -> None:
    from aebnas.runtime import DEVICES

    p.add_argument("dir", help="directory written by `aebnas export`")
    p.add_argument("images", help=f"images, n x C x H x W, in a {IMAGE_FILES} file")
    p.add_argument("--normalised", action="store_true",
                   help="the images are already normalised (default: raw pixels, normalised as in training)")
    p.add_argument("--batch-size", type=POSITIVE, default=256)
    p.add_argument("--device", default="cpu", choices=DEVICES)
    p.add_argument("--threads", type=POSITIVE, default=None, help="intra-op threads (default: the backend's)")
    p.add_argument("--out", default=None, help="CSV file for the predictions (default: standard output)")


def read_images(path: str | Path):
    """The array stored in a .npy or .pt file (a .pt file needs torch)."""
    import numpy as np

    path = Path(path)
    if path.suffix not in (".npy", ".pt"):
        raise AebnasError(f"images file {path} must be {IMAGE_FILES}; got a {path.suffix or 'suffix-less'} file")
    if not path.is_file():
        raise AebnasError(f"no such images file: {path}")
    try:
        if path.suffix == ".npy":
            return np.load(path, allow_pickle=False)
        import torch  # noqa: PLC0415  (only for .pt files)

        tensor = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001  (np.load and torch.load raise many kinds on a damaged file)
        raise AebnasError(f"{path} cannot be read as {IMAGE_FILES} ({type(err).__name__}: {err})") from None
    if not isinstance(tensor, torch.Tensor):
        raise AebnasError(f"{path} holds a {type(tensor).__name__}, not a tensor of images")
    return tensor.numpy()


def run_predict(args) -> int:
    from aebnas.checks import check_output_dir
    from aebnas.runtime import load_runtime

    if args.out is not None:
        if Path(args.out).is_dir():
            raise AebnasError(f"--out {args.out} is a directory; give the CSV file's path, e.g. "
                              f"{args.out}/predictions.csv")
        check_output_dir(Path(args.out).parent, "the folder of --out")
    runtime = load_runtime(args.dir, args.device, args.threads)
    images = runtime.check_inputs(read_images(args.images))
    result = runtime.run(images, normalised=args.normalised, batch_size=args.batch_size)
    latency = result.latency_ms
    header = ["index", "prediction", "exit", "macs"] + ([] if latency is None else ["latency_ms"])
    columns = [range(len(images)), result.predictions, result.exits, result.macs]
    columns += [] if latency is None else [latency.round(6)]
    try:
        with open(args.out, "w", newline="") if args.out else contextlib.nullcontext(sys.stdout) as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(zip(*columns))
    except BrokenPipeError:  # the reader of standard output (e.g. `head`) stopped early: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    m = runtime.manifest
    summary = f"{len(images)} images: exit fractions {' '.join(f'{f:.2f}' for f in result.exit_fractions(m.num_exits))}"
    if len(images):
        summary += f", average MACs {result.macs.mean():,.0f} (the full path: {m.path_macs[-1]:,})"
    if len(images) and latency is not None:
        summary += f", average path latency {latency.mean():.4f} ms (the full path: {m.latency.paths_ms[-1]:.4f})"
    print(summary + (f"; predictions in {args.out}" if args.out else ""), file=sys.stdout if args.out else sys.stderr)
    return 0


def add_profile_args(p: argparse.ArgumentParser) -> None:
    from aebnas.search_space import list_backbones, list_presets

    p.add_argument("--dataset", default="digits", help="the input shape and classes to profile for")
    p.add_argument("--space", default="extended", help=f"one of: {', '.join(list_presets())}")
    p.add_argument("--backbone", default=None, help=f"one of: {', '.join(list_backbones())} (default: by input size)")
    p.add_argument("--backbone-option", action="append", metavar="KEY=VALUE", help="e.g. depth=1 (repeatable)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--batch", type=POSITIVE, default=1, help="images per call (default 1)")
    p.add_argument("--runtime", default="eager", choices=["eager", "torchscript"],
                   help="how the parts run while timed: eager PyTorch, or traced to TorchScript as `aebnas export "
                        "--format torchscript` deploys them (default: %(default)s)")
    add_rule_arg(p)
    p.add_argument("--check-paths", type=int_arg(0), default=10,
                   help="sampled architectures whose exit paths are timed whole against the summed parts (default 10)")
    p.add_argument("--out", required=True, help="the latency table's JSON file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run_profile(args) -> int:
    import dataclasses
    import time

    from aebnas.checks import check_output_dir
    from aebnas.device import resolve_device
    from aebnas.engine.profile import Timer, check_composition, profile_space
    from aebnas.exit_rules import EXIT_RULES
    from aebnas.search_space import SearchSpace

    if Path(args.out).is_dir():
        raise AebnasError(f"--out {args.out} is a directory; give the table's file path, e.g. {args.out}/latency.json")
    check_output_dir(Path(args.out).parent, "the folder of --out")
    EXIT_RULES.get(args.rule)
    space = SearchSpace.for_dataset(dataset_info(args.dataset), args.space, backbone=args.backbone,
                                    backbone_options=key_values(args.backbone_option) or None)
    timer = Timer(resolve_device(args.device), args.batch, runtime=args.runtime)
    start = time.perf_counter()
    table = profile_space(space, args.device, args.batch, args.rule, timer, progress=not args.quiet)
    if args.check_paths:
        table = dataclasses.replace(table, composition=check_composition(table, space, args.check_paths, timer=timer))
    table.save(args.out)
    print(f"latency table of the {space.name} space on {args.dataset} ({space.backbone}, {table.runtime} on "
          f"{table.device}, batch "
          f"{table.batch}): {len(table.stages)} stages, {len(table.layers)} branch layers, {len(table.classifiers)} "
          f"classifiers, the head and the {table.rule} exit check, in {time.perf_counter() - start:.0f} s; saved to "
          f"{args.out}")
    print_table([[f"stage {s + 1}", f"{t.median_ms:.4f}", f"{t.iqr_ms:.4f}"] for s, t in enumerate(table.stages)]
                + [["head", f"{table.head.median_ms:.4f}", f"{table.head.iqr_ms:.4f}"],
                   ["exit check", f"{table.exit_check.median_ms:.4f}", f"{table.exit_check.iqr_ms:.4f}"]],
                ["part", "median ms", "IQR ms"])
    c = table.composition
    if c is not None:
        print(f"summed parts vs {c.paths} whole exit paths ({args.check_paths} sampled architectures): mean |error| "
              f"{100 * c.mean_abs_error:.1f}%, max {100 * c.max_abs_error:.1f}%")
    return 0
