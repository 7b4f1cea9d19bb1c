"""Rendering styles of the synthetic face world: how a data set 'looks'.

A :class:`RenderStyle` fixes everything about a frame that is not the face itself: resolution,
framing, background, colour cast, lighting and degradation (blur, noise, JPEG-like compression).
Two data sets rendered in different styles show a domain shift like MAFW versus DFEW. Styles are
found by name in a small registry (:func:`get_style`, :func:`list_styles`, :func:`register_style`);
:func:`vary_style` jitters a style per clip so that one data set is not a single look.
"""

from __future__ import annotations

import dataclasses
import functools
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from emoclip_clinic.errors import ConfigError

RGB = tuple[int, int, int]

BACKGROUNDS = ("gradient", "studio", "room", "blotches")


@dataclass(frozen=True)
class RenderStyle:
    """Look of the frames of one synthetic data set."""

    name: str  # registry key
    width: int = 112  # output width, pixels
    height: int = 112  # output height, pixels
    face_height: float = 0.6  # face box height (mid-forehead to chin) / frame height
    face_center: tuple[float, float] = (0.5, 0.5)  # face box centre, fractions of width, height
    background: str = "gradient"  # one of BACKGROUNDS
    bg_colors: tuple[RGB, RGB] = ((90, 95, 105), (40, 42, 48))  # two background colours
    bg_seed: int = 0  # seed of the background pattern (room layout, blotches)
    gain: tuple[float, float, float] = (1.0, 1.0, 1.0)  # per-channel colour cast
    saturation: float = 1.0  # 0 = grey, 1 = unchanged, >1 = more saturated
    brightness: float = 1.0  # overall gain
    contrast: float = 1.0  # contrast around mid-grey
    light: tuple[float, float, float] = (
        -0.4,
        -0.5,
        0.77,
    )  # light direction (x right, y down, z out)
    ambient: float = 0.55  # shade of surfaces facing away from the light, 0..1
    diffuse: float = 0.45  # extra shade of surfaces facing the light (ambient+diffuse <= 1)
    render_scale: float = 1.0  # render at this fraction of the size, then upscale (soft look)
    blur: float = 0.0  # box blur radius, output pixels
    noise: float = 0.0  # sensor noise standard deviation, 0..255 units
    jpeg_quality: int = 0  # JPEG round trip at this quality (1..95); 0 = none
    draw_body: bool = True  # draw neck, shoulders and clothes
    supersample: int = 0  # anti-aliasing factor (2..4); 0 = 3 below a 64-px face, else 2


_REGISTRY: dict[str, RenderStyle] = {
    style.name: style
    for style in (
        RenderStyle(name="plain"),
        # Movie-like: warm cast, strong side light, dark studio background, mild grain.
        RenderStyle(
            name="mafw",
            face_height=0.62,
            face_center=(0.5, 0.5),
            background="studio",
            bg_colors=((120, 90, 70), (25, 20, 22)),
            gain=(1.05, 1.0, 0.92),
            saturation=1.1,
            contrast=1.1,
            light=(-0.7, -0.35, 0.62),
            ambient=0.42,
            diffuse=0.58,
            noise=2.5,
        ),
        # In-the-wild look: cool and washed out, frontal light, busy background, closer crop,
        # low internal resolution, blur and compression.
        RenderStyle(
            name="dfew",
            face_height=0.72,
            face_center=(0.5, 0.55),
            background="blotches",
            bg_colors=((150, 170, 160), (60, 80, 95)),
            bg_seed=7,
            gain=(0.9, 1.0, 1.12),
            saturation=0.7,
            brightness=1.06,
            contrast=0.88,
            light=(0.3, -0.3, 0.9),
            ambient=0.62,
            diffuse=0.38,
            render_scale=0.6,
            blur=0.5,
            noise=5.0,
            jpeg_quality=40,
        ),
        # Clinical interview: 640x480, seated person in a consultation room, face about 200 px.
        RenderStyle(
            name="interview",
            width=640,
            height=480,
            face_height=0.36,
            face_center=(0.5, 0.36),
            background="room",
            bg_colors=((206, 200, 186), (120, 105, 90)),
            bg_seed=3,
            light=(-0.3, -0.6, 0.74),
            ambient=0.55,
            diffuse=0.45,
        ),
    )
}


def list_styles() -> tuple[str, ...]:
    """Names of the registered rendering styles."""
    return tuple(sorted(_REGISTRY))


def get_style(style: str | RenderStyle) -> RenderStyle:
    """Return a registered style by name (a :class:`RenderStyle` is returned unchanged).

    Raises:
        ConfigError: no style of that name.
    """
    if isinstance(style, RenderStyle):
        return check_style(style)
    if style not in _REGISTRY:
        raise ConfigError(f"unknown rendering style {style!r}; known: {', '.join(list_styles())}")
    return _REGISTRY[style]


def register_style(style: RenderStyle, overwrite: bool = False) -> None:
    """Add a style to the registry.

    Raises:
        ConfigError: the name is taken (and ``overwrite`` is false) or a field is invalid.
    """
    if style.name in _REGISTRY and not overwrite:
        raise ConfigError(f"rendering style {style.name!r} exists; pass overwrite=True")
    _REGISTRY[style.name] = check_style(style)


def check_style(style: RenderStyle) -> RenderStyle:
    """Validate the fields of a style and return it.

    Raises:
        ConfigError: a field is out of range.
    """
    problems = []
    if not (8 <= style.width <= 4096 and 8 <= style.height <= 4096):
        problems.append(f"size {style.width}x{style.height} outside 8..4096")
    if not 0.05 <= style.face_height <= 2.0:
        problems.append(f"face_height {style.face_height} outside 0.05..2")
    if style.background not in BACKGROUNDS:
        problems.append(f"background {style.background!r} not one of {BACKGROUNDS}")
    if not 0.1 <= style.render_scale <= 1.0:
        problems.append(f"render_scale {style.render_scale} outside 0.1..1")
    if not (0 <= style.jpeg_quality <= 95 and style.noise >= 0 and style.blur >= 0):
        problems.append("jpeg_quality must be 0..95, noise and blur >= 0")
    if style.supersample not in (0, 1, 2, 3, 4):
        problems.append(f"supersample {style.supersample} not in 0..4")
    if not (0 <= style.ambient <= 1 and 0 <= style.diffuse <= 1):
        problems.append("ambient and diffuse must be within 0..1")
    if problems:
        raise ConfigError(f"invalid rendering style {style.name!r}: " + "; ".join(problems))
    return style


def vary_style(
    style: str | RenderStyle, rng: np.random.Generator, amount: float = 1.0
) -> RenderStyle:
    """Jitter background, colour cast, light and framing of a style (one look per clip).

    Args:
        style: the base style or its name.
        rng: random generator (the only source of randomness).
        amount: 0 returns the style unchanged; 1 is the default spread.

    Returns:
        A new style with the same name and resolution.
    """
    base = get_style(style)

    def jitter(colour: RGB) -> RGB:
        shifted = np.asarray(colour) * (1 + 0.25 * amount * rng.uniform(-1, 1, 3))
        return tuple(int(v) for v in np.clip(shifted, 0, 255))

    light = np.asarray(base.light) + 0.3 * amount * rng.uniform(-1, 1, 3)
    light[2] = max(light[2], 0.3)
    cx, cy = base.face_center
    return dataclasses.replace(
        base,
        bg_colors=(jitter(base.bg_colors[0]), jitter(base.bg_colors[1])),
        bg_seed=int(rng.integers(0, 2**31 - 1)),
        gain=tuple(float(g * (1 + 0.06 * amount * rng.uniform(-1, 1))) for g in base.gain),
        light=tuple(float(v) for v in light / np.linalg.norm(light)),
        face_height=float(base.face_height * (1 + 0.08 * amount * rng.uniform(-1, 1))),
        face_center=(
            float(cx + 0.04 * amount * rng.uniform(-1, 1)),
            float(cy + 0.04 * amount * rng.uniform(-1, 1)),
        ),
    )


def color_transform(style: RenderStyle, colour: RGB) -> RGB:
    """Apply the style's colour cast, saturation, brightness and contrast to one colour."""
    c = np.asarray(colour, dtype=np.float64) * np.asarray(style.gain) * style.brightness
    luma = float(c @ (0.299, 0.587, 0.114))
    c = luma + style.saturation * (c - luma)
    c = 128.0 + style.contrast * (c - 128.0)
    return tuple(int(v) for v in np.clip(np.rint(c), 0, 255))


def _apply_cast(image: np.ndarray, style: RenderStyle) -> np.ndarray:
    c = image.astype(np.float32) * np.asarray(style.gain, np.float32) * style.brightness
    luma = c @ np.asarray((0.299, 0.587, 0.114), np.float32)
    c = luma[..., None] + style.saturation * (c - luma[..., None])
    c = 128.0 + style.contrast * (c - 128.0)
    return np.clip(np.rint(c), 0, 255).astype(np.uint8)


@functools.lru_cache(maxsize=16)
def background_image(style: RenderStyle, width: int, height: int) -> Image.Image:
    """The style's background at a given size, colour cast applied (cached; do not modify).

    Args:
        style: rendering style.
        width: image width in pixels.
        height: image height in pixels.

    Returns:
        An RGB Pillow image.
    """
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    u, v = xx / max(width - 1, 1), yy / max(height - 1, 1)
    top, bottom = (np.asarray(c, np.float32) for c in style.bg_colors)
    rng = np.random.default_rng(style.bg_seed)
    if style.background == "studio":
        r = np.sqrt((u - 0.5) ** 2 + (v - 0.35) ** 2 * 1.4)
        mix = np.clip(r / 0.75, 0, 1)[..., None]
    elif style.background == "blotches":
        coarse = rng.random((5, 6)).astype(np.float32)
        field = Image.fromarray((coarse * 255).astype(np.uint8)).resize((width, height), 3)
        mix = (np.asarray(field, np.float32) / 255.0)[..., None]
    else:
        mix = v[..., None]
    image = top + (bottom - top) * mix
    if style.background == "room":
        image = _room(image, u, v, top, bottom, rng)
    vignette = 1.0 - 0.25 * ((u - 0.5) ** 2 + (v - 0.5) ** 2)
    image = image * vignette[..., None]
    return Image.fromarray(_apply_cast(image, style), "RGB")


def _room(image, u, v, wall, floor, rng):
    """A plain consultation room: wall, skirting, a framed picture and a door edge."""
    image = np.where((v > 0.78)[..., None], floor, wall * (1.0 - 0.08 * v[..., None]))
    image = np.where(((v > 0.76) & (v <= 0.78))[..., None], wall * 0.8, image)
    px, py = rng.uniform(0.05, 0.2), rng.uniform(0.12, 0.22)
    picture = (u > px) & (u < px + 0.14) & (v > py) & (v < py + 0.18)
    inner = (u > px + 0.01) & (u < px + 0.13) & (v > py + 0.013) & (v < py + 0.167)
    art = np.asarray(rng.uniform(60, 200, 3), np.float32)
    image = np.where(picture[..., None], wall * 0.35, image)
    image = np.where(inner[..., None], art * (0.8 + 0.2 * u[..., None]), image)
    dx = rng.uniform(0.8, 0.9)
    door = (u > dx) & (u < dx + 0.012) & (v < 0.78)
    return np.where(door[..., None], wall * 0.7, image)


@functools.lru_cache(maxsize=8)
def shading_texture(light: tuple[float, float, float], ambient: float, diffuse: float):
    """Lambert shading of a unit sphere, 256x256 over head-normalised coordinates -2..2.

    Returns:
        An ``L`` image: 255 is fully lit. Outside the unit disc the shade continues with the
        rim normal and darkens slightly, which shades hair and the neck plausibly.
    """
    grid = np.linspace(-2, 2, 256, dtype=np.float32)
    u, v = np.meshgrid(grid, grid)
    r = np.sqrt(u * u + v * v)
    scale = np.maximum(r, 1.0)
    nz = np.sqrt(np.clip(1 - r * r, 0, 1))
    normal = np.stack([u / scale, v / scale, nz], axis=-1)
    direction = np.asarray(light, np.float32) / np.linalg.norm(light)
    lambert = np.clip(normal @ direction, 0, 1)
    shade = ambient + diffuse * lambert
    shade = np.where(r > 1, shade * (1 - 0.15 * np.clip(r - 1, 0, 1)), shade)
    return Image.fromarray(np.clip(shade * 255, 0, 255).astype(np.uint8), "L")


@functools.lru_cache(maxsize=8)
def _noise_bank(height: int, width: int, sigma: float) -> np.ndarray:
    rng = np.random.default_rng(12345)
    return np.rint(rng.normal(0, sigma, (4, height + 16, width + 16, 3))).astype(np.int16)


def degrade(frame: np.ndarray, style: RenderStyle, seed: int = 0) -> np.ndarray:
    """Apply the style's blur, sensor noise and JPEG round trip to a rendered frame.

    Args:
        frame: the clean (H, W, 3) uint8 frame at output size (returned as is without
            degradation; a new array otherwise).
        style: rendering style.
        seed: picks the noise pattern; the same seed gives the same pixels.

    Returns:
        The degraded frame as an (H, W, 3) uint8 array.
    """
    if style.blur > 0:
        frame = np.array(Image.fromarray(frame).filter(ImageFilter.BoxBlur(style.blur)))
    if style.noise > 0:
        bank = _noise_bank(frame.shape[0], frame.shape[1], float(style.noise))
        k, dy, dx = seed % 4, (seed // 4) % 16, (seed // 64) % 16
        patch = bank[k, dy : dy + frame.shape[0], dx : dx + frame.shape[1]]
        frame = np.clip(frame + patch, 0, 255).astype(np.uint8)
    if style.jpeg_quality > 0:
        buffer = io.BytesIO()
        Image.fromarray(frame).save(buffer, format="JPEG", quality=style.jpeg_quality)
        frame = np.array(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
    return frame
