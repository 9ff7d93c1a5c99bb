"""A generated greyscale test scene: smooth shading, hard edges, fine texture and noise, reproducible by seed."""
import numpy as np


def test_scene(height=1080, width=1920, seed=0):
    """A uint8 image with the structures filters react to: gradients, discs, bars, a grid, a ramp and noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    y /= max(height - 1, 1)
    x /= max(width - 1, 1)
    img = 60 + 80 * x + 40 * np.sin(6.0 * y)                              # smooth shading
    for _ in range(12):                                                   # bright and dark discs
        cy, cx, r = rng.random(), rng.random(), 0.03 + 0.08 * rng.random()
        img[(y - cy) ** 2 + ((x - cx) * width / height) ** 2 < r * r] = rng.choice([20.0, 235.0])
    img[(np.floor(x * 40) % 2 == 0) & (y > 0.8)] += 60                    # vertical bars
    img[(np.floor(y * 60) % 2 == 0) & (x > 0.85)] -= 50                   # horizontal bars
    img += rng.normal(0, 6, img.shape)                                    # sensor noise
    return np.clip(img, 0, 255).astype(np.uint8)
