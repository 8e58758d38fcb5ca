"""Test pictures for the benches: what a camera makes, not a flat fill (which every
codec compresses to nothing and decodes for free)."""
from __future__ import annotations

from PIL import Image, ImageDraw, ImageFilter


def photo_image(seed: int, width: int, height: int) -> Image.Image:
    """Gradients, shapes and sensor-like noise: encodes and decodes like a photo."""
    base = Image.linear_gradient("L").resize((width, height))
    noise = Image.effect_noise((width, height), 24)
    red = Image.blend(base, noise, 0.35)
    green = base.rotate(90 + seed * 7).resize((width, height))
    blue = Image.blend(noise, base.transpose(Image.Transpose.FLIP_LEFT_RIGHT), 0.6)
    image = Image.merge("RGB", (red, green, blue))
    draw = ImageDraw.Draw(image)
    for n in range(12):
        x, y = (seed * 131 + n * 197) % width, (seed * 71 + n * 149) % height
        draw.ellipse((x, y, x + width // 6, y + height // 6), outline=(250, 240, 200), width=max(1, width // 600))
    return image.filter(ImageFilter.SMOOTH)
