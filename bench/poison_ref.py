"""Reference for bench:poison: the loop a BackdoorBench user writes with PIL and numpy.

For every image: open it, convert('RGB'), apply the trigger in numpy, save it in
its own format (JPEG quality 95, PNG compress_level 6: the settings bdlab poison
uses). One process, one core. Triggers follow BackdoorBench's definitions at
the defaults of `bdlab poison`:
  badnets  3x3 white/black checkerboard, side 10 % of the shorter side, bottom-right
  blended  x' = (1 - 0.2) x + 0.2 t, t a fixed uniform-noise image
  sig      x' = clip(x + 40 sin(2 pi j 6 / W))
Prints one JSON line: {"images": n, "seconds": loop time}.
"""
import json
import os
import sys
import time

import numpy as np
from PIL import Image


def main():
    attack, src, ext, out, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    os.makedirs(out, exist_ok=True)
    patches = {}
    noise = {}
    sig = {}
    t0 = time.perf_counter()
    for i in range(n):
        img = Image.open(os.path.join(src, f"{i}.{ext}")).convert("RGB")
        a = np.array(img)
        h, w = a.shape[:2]
        if attack == "badnets":
            side = max(1, round(0.1 * min(h, w)))
            p = patches.get(side)
            if p is None:
                cell = (np.arange(side) * 3) // side
                board = (cell[:, None] + cell[None, :]) % 2 == 0
                p = np.where(board[:, :, None], 255, 0).astype(np.uint8).repeat(3, axis=2)
                patches[side] = p
            a[h - side:, w - side:] = p
        elif attack == "blended":
            t = noise.get((h, w))
            if t is None:
                t = np.random.default_rng(1).integers(0, 256, size=(h, w, 3), dtype=np.uint8).astype(np.float32)
                noise[(h, w)] = t
            a = np.clip(np.rint(0.8 * a.astype(np.float32) + 0.2 * t), 0, 255).astype(np.uint8)
        elif attack == "sig":
            pat = sig.get(w)
            if pat is None:
                pat = (40 * np.sin(2 * np.pi * np.arange(w) * 6 / w)).astype(np.float32)[None, :, None]
                sig[w] = pat
            a = np.clip(np.rint(a.astype(np.float32) + pat), 0, 255).astype(np.uint8)
        else:
            raise SystemExit(f"unknown attack {attack}")
        o = Image.fromarray(a)
        dst = os.path.join(out, f"{i}.{ext}")
        if ext == "png":
            o.save(dst, compress_level=6)
        else:
            o.save(dst, quality=95)
    print(json.dumps({"images": n, "seconds": time.perf_counter() - t0}))


if __name__ == "__main__":
    main()
