"""Rendering of layered scenes (see ``scenes``) into exact stereo pairs, on any torch device.

Both views are rendered by one rule. A pixel (x, y) of view s (0 = left, 1 = right) sees, on
layer k, the surface point whose left-view column x_l solves x = x_l - s * d_k(x_l, y); for a
planar layer this is x_l = (x + s (a - bx px + by (y - py))) / (1 - s bx), exactly. The pixel
shows the layer with the largest disparity (the nearest) among those whose shape contains
(x_l, y), in the colour that layer's texture has at (x_l, y). So the left view's disparity is
exact, and the right view shows the same surface point x - d on every non-occluded pixel.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .textures import sample_bank, texture_bank

BLUR_RADIUS = 3
"""Half-width (pixels) of the Gaussian blur kernel."""
OCCLUSION_TOLERANCE = 1e-3
"""Disparity margin (pixels) within which a surface in the right view counts as the same one."""


def stack_scenes(scenes: list[dict], device: torch.device) -> dict[str, torch.Tensor]:
    """Scene parameter dicts (``scenes.draw_scene``) as tensors with a leading batch axis on ``device``."""
    return {key: torch.from_numpy(np.stack([np.asarray(s[key]) for s in scenes])).to(device)
            for key in scenes[0] if key != "sensor_seed"}


def surface_hits(p: dict, xs: torch.Tensor, ys: torch.Tensor, view: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(x_l, disparity) of every layer at pixels (xs, ys) of ``view``: each B x K x H x W, pixels;
    disparity is -inf where the layer's shape does not contain the surface point."""
    a, bx, by, px, py = p["plane"][..., None, None].unbind(2)
    x, y = xs[:, None], ys[:, None]
    x_left = (x + view * (a - bx * px + by * (y - py))) / (1 - view * bx)
    disparity = a + bx * (x_left - px) + by * (y - py)
    cx, cy, half_a, half_b, angle = p["shape"][..., None, None].unbind(2)
    cos, sin = torch.cos(angle), torch.sin(angle)
    u = (cos * (x_left - cx) + sin * (y - cy)) / half_a
    v = (cos * (y - cy) - sin * (x_left - cx)) / half_b
    exponent = p["exponent"][..., None, None]
    inside = u.abs().pow(exponent) + v.abs().pow(exponent) <= 1
    inside[:, 0] = True
    inside &= p["active"][..., None, None]
    return x_left, torch.where(inside, disparity, torch.full_like(disparity, -torch.inf))


def _pick(table: torch.Tensor, layer: torch.Tensor) -> torch.Tensor:
    """Per-pixel values of a B x K (x C) layer table for the B x H x W layer indices: B x H x W (x C)."""
    b, h, w = layer.shape
    if table.dim() == 2:
        return table.gather(1, layer.reshape(b, -1)).view(b, h, w)
    index = layer.reshape(b, -1, 1).expand(-1, -1, table.shape[2])
    return table.gather(1, index).view(b, h, w, table.shape[2])


def _texture(bank: torch.Tensor, tile: torch.Tensor, affine: torch.Tensor, x_left: torch.Tensor,
             y: torch.Tensor) -> torch.Tensor:
    """B x 3 x H x W texture values at surface points (x_left, y); affine: B x H x W x 4
    (texels per pixel, angle, offset u, offset v)."""
    scale, angle, off_u, off_v = affine.unbind(-1)
    cos, sin = torch.cos(angle), torch.sin(angle)
    u = scale * (cos * x_left - sin * y) + off_u
    v = scale * (sin * x_left + cos * y) + off_v
    values = sample_bank(bank, tile.reshape(-1), u.reshape(-1), v.reshape(-1))
    return values.view(3, *x_left.shape).permute(1, 0, 2, 3)


def shade_view(p: dict, xs: torch.Tensor, ys: torch.Tensor, view: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise-free colour (B x 3 x H x W, about [0, 1]) and disparity (B x H x W, pixels) that
    ``view`` sees at pixel positions (xs, ys) (B x H x W, any real values)."""
    x_left, disparity = surface_hits(p, xs, ys, view)
    disparity, layer = disparity.max(dim=1)
    x_left = x_left.gather(1, layer[:, None])[:, 0]
    bank = texture_bank(xs.device)
    texture = _texture(bank, _pick(p["tile"], layer), _pick(p["tex"], layer), x_left, ys)
    fine = _texture(bank, _pick(p["noise_tile"], layer), _pick(p["noise"], layer), x_left, ys)
    look = _pick(p["look"], layer).permute(0, 3, 1, 2)
    contrast, noise_weight, colour, tint, shading = look[:, 0:1], look[:, 1:2], look[:, 2:5], look[:, 5:8], look[:, 8:]
    plane = _pick(p["plane"], layer)
    height, width = xs.shape[-2:]
    relief = 1 + shading[:, 0] * (x_left - plane[..., 3]) / width + shading[:, 1] * (ys - plane[..., 4]) / height
    rgb = colour + contrast * (tint * texture - 0.5) + noise_weight * (fine - 0.5)
    return rgb * relief[:, None], disparity


def _blur(images: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur of B x C x H x W images, one sigma (pixels, 0 = none) per image."""
    b, c, h, w = images.shape
    t = torch.arange(-BLUR_RADIUS, BLUR_RADIUS + 1, device=images.device, dtype=images.dtype)
    s = sigma.clamp(min=1e-3)[:, None]
    kernel = torch.exp(-0.5 * (t / s) ** 2)
    kernel = (kernel / kernel.sum(1, keepdim=True)).repeat_interleave(c, 0)
    x = F.pad(images.reshape(1, b * c, h, w), (BLUR_RADIUS,) * 4, mode="replicate")
    x = F.conv2d(x, kernel.view(b * c, 1, 1, -1), groups=b * c)
    x = F.conv2d(x, kernel.view(b * c, 1, -1, 1), groups=b * c)
    return x.view(b, c, h, w)


def _camera(p: dict, rgb: torch.Tensor, view: int, xs: torch.Tensor, ys: torch.Tensor,
            noise: torch.Tensor) -> torch.Tensor:
    """What one camera makes of the scene's colour: highlight, gain, bias, gamma, blur, noise."""
    hx, hy, radius, amplitude = p["highlight"][:, view, :, None, None].unbind(1)
    rgb = rgb + (amplitude * torch.exp(-((xs - hx) ** 2 + (ys - hy) ** 2) / (2 * radius ** 2)))[:, None]
    rgb = rgb * p["gain"][:, view, :, None, None] + p["bias"][:, view, None, None, None]
    rgb = rgb.clamp(0, 1).pow(p["gamma"][:, view, None, None, None])
    rgb = _blur(rgb, p["blur"])
    return rgb + p["noise_sigma"][:, view, None, None, None] * noise


def render(scenes: list[dict], height: int, width: int, device: torch.device | str = "cpu",
           photometric: bool = True) -> dict[str, torch.Tensor]:
    """Render scenes (``scenes.draw_scene`` dicts) as stereo pairs on ``device``.

    Returns left, right (B x H x W x 3 uint8 RGB), disparity (B x H x W float32, pixels, exact
    for the left view) and noc (B x H x W bool: the left pixel's surface point is visible in
    the right view). ``photometric`` False leaves out the camera effects (both views then show
    exactly the same colours of a surface point, up to rounding to uint8).
    """
    device = torch.device(device)
    p = stack_scenes(scenes, device)
    b = len(scenes)
    ys, xs = torch.meshgrid(torch.arange(height, device=device, dtype=torch.float32),
                            torch.arange(width, device=device, dtype=torch.float32), indexing="ij")
    xs, ys = xs.expand(b, -1, -1), ys.expand(b, -1, -1)
    left, disparity = shade_view(p, xs, ys, view=0)
    right, _ = shade_view(p, xs, ys, view=1)
    x_right = xs - disparity
    nearest_in_right = surface_hits(p, x_right, ys, view=1)[1].amax(dim=1)
    noc = (x_right >= 0) & (nearest_in_right <= disparity + OCCLUSION_TOLERANCE)
    if photometric:
        noise = torch.from_numpy(np.stack([np.random.default_rng(int(s["sensor_seed"])).standard_normal(
            (2, 3, height, width), dtype=np.float32) for s in scenes])).to(device)
        left = _camera(p, left, 0, xs, ys, noise[:, 0])
        right = _camera(p, right, 1, xs, ys, noise[:, 1])

    def to_uint8(rgb):
        return (rgb.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()

    return {"left": to_uint8(left), "right": to_uint8(right), "disparity": disparity, "noc": noc}
