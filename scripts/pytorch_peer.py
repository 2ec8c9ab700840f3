"""PyTorch eager's training step on InfoPro's CIFAR ResNet-32, the peer of
`bench-classify measure --net resnet32`, for scripts/pytorch-peer.sh.

`step` times PyTorch's step and prints one JSON object with the median step time;
`summary RUNS.jsonl` turns the runs of scripts/pytorch-peer.sh into a Markdown summary.

The network is the one of glcan-core/src/models/resnet_cifar.rs (He et al. 2016, Sec. 4.2,
as InfoPro's code builds it): conv3x3(16)+BN+ReLU, three stages of 5 BasicBlocks at widths
16/32/64 (stride 2 entering stages 2 and 3), a 1x1 conv + BN projection where the shape
changes, global average pooling, one linear layer. The optimizer is InfoPro's: SGD, lr 0.1,
Nesterov momentum 0.9, weight decay 1e-4, the multi-tensor (foreach) implementation, and
gradients set to None between steps. Only the venv's torch is needed.
"""

import argparse
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = None
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)), inplace=True)
        y = self.bn2(self.conv2(y))
        y += x if self.shortcut is None else self.shortcut(x)
        return F.relu(y, inplace=True)


class ResNetCifar(nn.Module):
    def __init__(self, depth=32, channels=3, classes=10):
        super().__init__()
        assert (depth - 2) % 6 == 0, "a CIFAR ResNet has 6m + 2 layers"
        blocks = (depth - 2) // 6
        self.conv = nn.Conv2d(channels, 16, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        units, c_in = [], 16
        for stage, width in enumerate([16, 32, 64]):
            for index in range(blocks):
                units.append(BasicBlock(c_in, width, 2 if stage > 0 and index == 0 else 1))
                c_in = width
        self.units = nn.Sequential(*units)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = self.units(F.relu(self.bn(self.conv(x)), inplace=True))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def step_command(argv):
    parser = argparse.ArgumentParser(prog="pytorch_peer.py step", description="time PyTorch eager's training step")
    parser.add_argument("--layout", choices=["contiguous", "channels_last"], default="contiguous")
    parser.add_argument("--depth", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10, help="measured steps")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured steps first")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be at least 1")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = ResNetCifar(args.depth)
    images = torch.randn(args.batch_size, 3, 32, 32)
    labels = torch.randint(10, (args.batch_size,))
    if args.layout == "channels_last":
        model = model.to(memory_format=torch.channels_last)
        images = images.contiguous(memory_format=torch.channels_last)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4, foreach=True)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        return loss.item()

    for _ in range(args.warmup):
        step()
    seconds = []
    for _ in range(args.steps):
        started = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - started)
    # The upper median, as `bench-classify measure` takes it.
    median = sorted(seconds)[len(seconds) // 2]
    print(json.dumps({
        "impl": "pytorch-eager",
        "torch": torch.__version__,
        "layout": args.layout,
        "net": f"resnet{args.depth}",
        "batch_size": args.batch_size,
        "threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", "unset"),
        "steps": args.steps,
        "step_seconds_median": median,
        "images_per_s": args.batch_size / median,
    }))


def summary_command(argv):
    parser = argparse.ArgumentParser(prog="pytorch_peer.py summary", description="summarise scripts/pytorch-peer.sh runs")
    parser.add_argument("runs", help="runs.jsonl written by scripts/pytorch-peer.sh")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--isa", required=True)
    parser.add_argument("--commit", required=True)
    args = parser.parse_args(argv)
    with open(args.runs) as f:
        runs = [json.loads(line) for line in f if line.strip()]
    if not runs:
        sys.exit(f"error: {args.runs} holds no runs")
    by_config = {}
    for run in runs:
        by_config.setdefault(run["config"], []).append(run)

    def median(values):
        values = sorted(values)
        return values[len(values) // 2]

    speed = {c: median([r["images_per_s"] for r in rs]) for c, rs in by_config.items()}
    torch_best = max((c for c in speed if c.startswith("torch-")), key=speed.get, default=None)
    loads = [r["load1_before"] for r in runs]
    # Our own threads count in the load average too; more than that means other work shared the CPU.
    loaded = max(loads) > args.threads + 1
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    out = [
        "# Our training step vs PyTorch eager",
        "",
        f"ResNet-32, batch 128, 3x32x32 random input, SGD lr 0.1 Nesterov 0.9 wd 1e-4; {args.threads} threads; "
        f"CPU kernels `{args.isa}`; CPU {model}; {os.cpu_count()} cores; commit {args.commit}; "
        f"torch {next((r['torch'] for r in runs if 'torch' in r), '?')}.",
        f"{len(runs) // len(by_config)} interleaved rounds, {runs[0]['steps']} measured steps each; "
        f"images/s is the upper median over rounds of each run's upper-median step.",
        "",
        f"1-minute load average before the runs: {min(loads):.2f} to {max(loads):.2f}. "
        + ("**Taken under load (other work shared the CPU): not a clean comparison.**" if loaded else "Idle machine."),
        "",
        f"| configuration | images/s (median) | min | max | vs {torch_best} | peak bytes |",
        "|---|---|---|---|---|---|",
    ]
    for config, rs in by_config.items():
        ips = [r["images_per_s"] for r in rs]
        ratio = f"{speed[config] / speed[torch_best]:.2f}x" if torch_best else "-"
        peak = rs[0].get("peak_bytes", "-")
        out.append(f"| {config} | {speed[config]:.1f} | {min(ips):.1f} | {max(ips):.1f} | {ratio} | {peak} |")
    out += [
        "",
        "torch-*: `scripts/pytorch_peer.py step` (PyTorch eager, foreach SGD, zero_grad(set_to_none=True)); "
        "e2e-*, dgl4-*: `bench-classify measure --net resnet32 --batch-size 128` with `--method e2e --k 1` or "
        "`--method dgl --k 4` and `--memory-format`. DGL K=4 is compared with PyTorch's end-to-end step "
        "(there is no PyTorch DGL here); it computes three aux nets on top of the network's own work.",
        "Made by `scripts/pytorch-peer.sh`; the raw runs are in runs.jsonl beside this file.",
    ]
    print("\n".join(out))


def main():
    commands = {"step": step_command, "summary": summary_command}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(f"usage: {sys.argv[0]} step|summary [options] (see --help of each)")
    commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
