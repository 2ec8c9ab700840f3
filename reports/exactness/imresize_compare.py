#!/usr/bin/env python3
"""Compares our bicubic `imresize` (glcan-data, as `bench-sr bicubic` uses it) with two
independent implementations and, where available, with MATLAB's own output.

References:
* matlab-uint8: glcan-data/tests/fixtures/resize/imresize_reference.py, plain Python after
  MATLAB's imresize.m; for a uint8 image every one-dimensional pass returns uint8 (rounded
  half away from zero, saturated), as MATLAB's imresizemex keeps the input's class.
* basicsr-f32: a port of the algorithm of BasicSR's `basicsr/utils/matlab_functions.py`
  `imresize` written here with torch: image / 255 in float32, weights in float32, the
  height first, no rounding between the passes; the LR and SR images are rounded to uint8
  once at the end (torch.round, half to even) as BasicSR's scripts do.
* matlab-files (optional, --matlab-dir): the test images of github.com/fatheral/matlab_imresize
  (test/: lena_512x512.png and MATLAB R2015b's imresize(img, [123 234]) of it as uint8 and
  as double), the only MATLAB output we have.

Inputs are the PPM files written by glcan-data's example `imresize_dump`
(`pairs`: <stem>.x<s>.{hr,lr,sr}.ppm; `resize`: one image). PSNR-Y as bench-sr computes it:
Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255 unrounded, `s` pixels cropped at each
border, 10 log10(255^2 / MSE).

Needs only the project's venv (torch) and the standard library. See README.md for the
commands.
"""
import argparse
import math
import os
import struct
import sys
import zlib

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "glcan-data", "tests", "fixtures", "resize"))
import imresize_reference as matlab_ref  # noqa: E402


# ---------------------------------------------------------------- image files
def read_ppm(path):
    """Binary PPM (P6, maxval 255) as a uint8 tensor of shape (3, h, w)."""
    data = open(path, "rb").read()
    fields, pos = [], 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        start = pos
        while not data[pos:pos + 1].isspace():
            pos += 1
        fields.append(data[start:pos])
    assert fields[0] == b"P6" and fields[3] == b"255", path
    w, h = int(fields[1]), int(fields[2])
    pixels = data[pos + 1:pos + 1 + 3 * w * h]
    return torch.frombuffer(bytearray(pixels), dtype=torch.uint8).reshape(h, w, 3).permute(2, 0, 1).contiguous()


def read_png(path):
    """8-bit, non-interlaced PNG (grey, RGB, grey+alpha, RGBA) as uint8 (3, h, w)."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    pos, idat = 8, b""
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            w, h, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
    assert depth == 8 and interlace == 0, (path, depth, interlace)
    ch = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    raw, stride = zlib.decompress(idat), w * ch
    out, prev, p = bytearray(), bytearray(stride), 0
    for _ in range(h):
        kind, line = raw[p], bytearray(raw[p + 1:p + 1 + stride])
        p += 1 + stride
        for i in range(stride):
            a = line[i - ch] if i >= ch else 0
            b, c = prev[i], (prev[i - ch] if i >= ch else 0)
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out += line
        prev = line
    img = torch.frombuffer(out, dtype=torch.uint8).reshape(h, w, ch).permute(2, 0, 1)
    img = img[:3] if ch >= 3 else img[:1].expand(3, h, w)
    return img.contiguous()


# ---------------------------------------------------------------- references
def matlab_uint8(img, out_h, out_w, scale=None):
    """imresize of a uint8 image with the plain-Python reference, channel by channel."""
    planes = []
    for c in range(img.shape[0]):
        rows = img[c].tolist()
        if scale is None:
            res = matlab_ref.imresize(rows, out_size=[out_h, out_w])
        else:
            res = matlab_ref.imresize(rows, scale=scale)
        planes.append(res)
    return torch.tensor(planes, dtype=torch.uint8)


def matlab_double(img, scale):
    """imresize(double(img), scale) rounded to uint8 once, at the end (half away from zero):
    MATLAB on a double image, then written as 8 bits."""
    planes = []
    for c in range(img.shape[0]):
        res = matlab_ref.imresize(img[c].tolist(), scale=scale, is_uint8=False)
        planes.append([[matlab_ref.to_uint8(v) for v in row] for row in res])
    return torch.tensor(planes, dtype=torch.uint8)


def basicsr_cubic(x):
    ax = x.abs()
    ax2, ax3 = ax * ax, ax * ax * ax
    inner = (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1).to(x.dtype)
    outer = (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2)).to(x.dtype)
    return inner + outer


def basicsr_weights(in_len, out_len, scale):
    """BasicSR's calculate_weights_indices in float32: (weights (out, P), 0-based indices)."""
    width = 4.0 / scale if scale < 1 else 4.0
    x = torch.linspace(1, out_len, out_len)  # float32, as in BasicSR
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = torch.floor(u - width / 2)
    taps = math.ceil(width) + 2
    idx = left.view(-1, 1) + torch.linspace(0, taps - 1, taps).view(1, -1)
    dist = u.view(-1, 1) - idx
    w = scale * basicsr_cubic(dist * scale) if scale < 1 else basicsr_cubic(dist)
    w = w / w.sum(1, keepdim=True)
    # Symmetric padding, edge pixel repeated: index j (1-based) outside 1..n is mirrored.
    idx = idx.long() - 1
    idx = torch.where(idx < 0, -idx - 1, idx)
    idx = torch.where(idx >= in_len, 2 * in_len - 1 - idx, idx)
    return w, idx


def basicsr_f32(img01, out_h, out_w, scale_h, scale_w):
    """(c, h, w) float32 in [0, 1] -> float32, unrounded; height first, then width."""
    wh, ih = basicsr_weights(img01.shape[1], out_h, scale_h)
    ww, iw = basicsr_weights(img01.shape[2], out_w, scale_w)
    mid = (img01[:, ih, :] * wh.view(1, out_h, -1, 1)).sum(2)
    return (mid[:, :, iw] * ww.view(1, 1, out_w, -1)).sum(3)


def to_u8_half_even(x01):
    return (x01 * 255.0).round().clamp(0, 255).to(torch.uint8)


# ---------------------------------------------------------------- scores
def y_plane(img):
    r, g, b = img.double()
    return 16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0


def psnr_y(hr, sr, border):
    a, b = y_plane(hr), y_plane(sr)
    if border:
        a, b = a[border:-border, border:-border], b[border:-border, border:-border]
    mse = ((a - b) ** 2).mean().item()
    return math.inf if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


def max_diff(a, b):
    return int((a.int() - b.int()).abs().max().item())


def count_diff(a, b):
    return int((a != b).sum().item())


# ---------------------------------------------------------------- main
def compare_pairs(pairs_dir, scales):
    stems = sorted({f.split(".x")[0] for f in os.listdir(pairs_dir) if f.endswith(".hr.ppm")})
    print("## SR-pool test images: ours against the references\n")
    print("LR = imresize(HR, 1/s), SR = imresize(LR, s). `max abs diff`: largest difference of a pixel value "
          "(0-255), `n`: how many values differ; PSNR-Y in dB (border s cropped).\n")
    header = ("| image | s | LR max abs diff (n) vs matlab-uint8 | SR max abs diff (n) vs matlab-uint8 | LR max abs diff (n) vs basicsr-f32 "
              "| SR max abs diff (n) vs basicsr-f32 | SR max abs diff (n) basicsr-f32 vs matlab-double | PSNR-Y ours | PSNR-Y matlab-uint8 "
              "| PSNR-Y matlab-double | PSNR-Y basicsr-f32 | ours - basicsr-f32 |")
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for s in scales:
        for stem in stems:
            base = os.path.join(pairs_dir, f"{stem}.x{s}")
            if not os.path.exists(base + ".hr.ppm"):
                continue
            hr, lr, sr = (read_ppm(f"{base}.{k}.ppm") for k in ("hr", "lr", "sr"))
            h, w = hr.shape[1:]
            ref_lr = matlab_uint8(hr, None, None, scale=1 / s)
            ref_sr = matlab_uint8(ref_lr, None, None, scale=s)
            bs_lr = to_u8_half_even(basicsr_f32(hr.float() / 255.0, h // s, w // s, 1 / s, 1 / s))
            bs_sr = to_u8_half_even(basicsr_f32(bs_lr.float() / 255.0, h, w, s, s))
            md_sr = matlab_double(matlab_double(hr, 1 / s), s)
            p_ours, p_ref, p_bs, p_md = psnr_y(hr, sr, s), psnr_y(hr, ref_sr, s), psnr_y(hr, bs_sr, s), psnr_y(hr, md_sr, s)
            print(f"| {stem} | {s} | {max_diff(lr, ref_lr)} ({count_diff(lr, ref_lr)}) | {max_diff(sr, ref_sr)} ({count_diff(sr, ref_sr)}) "
                  f"| {max_diff(lr, bs_lr)} ({count_diff(lr, bs_lr)}) | {max_diff(sr, bs_sr)} ({count_diff(sr, bs_sr)}) "
                  f"| {max_diff(bs_sr, md_sr)} ({count_diff(bs_sr, md_sr)}) "
                  f"| {p_ours:.4f} | {p_ref:.4f} | {p_md:.4f} | {p_bs:.4f} | {p_ours - p_bs:+.4f} |", flush=True)
    print()


def compare_matlab_files(matlab_dir, ours_ppm):
    src = read_png(os.path.join(matlab_dir, "lena_512x512.png"))
    m_u8 = read_png(os.path.join(matlab_dir, "lena_123x234_uint8.png"))
    m_dbl = read_png(os.path.join(matlab_dir, "lena_123x234_double.png"))
    ours = read_ppm(ours_ppm)
    ref = matlab_uint8(src, 123, 234)
    bs = to_u8_half_even(basicsr_f32(src.float() / 255.0, 123, 234, 123 / 512, 234 / 512))
    n = m_u8.numel()
    print("## MATLAB's own output: imresize(lena_512x512 uint8, [123 234])\n")
    print(f"{n} values. `max abs diff`: largest difference of a pixel value (0-255), (n): how many values differ.\n")
    print("| ours vs | max abs diff (n) |")
    print("|---|---|")
    for name, img in (("MATLAB uint8 input", m_u8), ("MATLAB double input, written by imwrite", m_dbl)):
        print(f"| {name} | {max_diff(ours, img)} ({count_diff(ours, img)}) |")
    print()
    print("| reference vs MATLAB uint8 input | max abs diff (n) |")
    print("|---|---|")
    print(f"| matlab-uint8 (plain Python) | {max_diff(ref, m_u8)} ({count_diff(ref, m_u8)}) |")
    print(f"| basicsr-f32 | {max_diff(bs, m_u8)} ({count_diff(bs, m_u8)}) |")
    print(f"| basicsr-f32 vs MATLAB double input | {max_diff(bs, m_dbl)} ({count_diff(bs, m_dbl)}) |")
    print()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", help="folder of <stem>.x<s>.{hr,lr,sr}.ppm from `imresize_dump pairs`")
    parser.add_argument("--scales", default="2,3,4")
    parser.add_argument("--matlab-dir", help="fatheral/matlab_imresize's test/ folder")
    parser.add_argument("--ours-lena", help="`imresize_dump resize <matlab-dir>/lena_512x512.png 123 234 <this>`")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.matlab_dir:
        compare_matlab_files(args.matlab_dir, args.ours_lena)
    if args.pairs:
        compare_pairs(args.pairs, [int(s) for s in args.scales.split(",")])


if __name__ == "__main__":
    main()
