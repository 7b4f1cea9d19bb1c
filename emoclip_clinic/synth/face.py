"""Parametric, anti-aliased face renderer driven by FACS action units, head pose and gaze.

Face coordinates ("face units"): x to the image's right, y down, z towards the camera; the
origin lies on the eye line midway between the eyes; 1 unit is half the head width of the
default identity. Features are 3-D points on an ellipsoidal head, rotated by yaw and pitch,
projected orthographically, rolled in the image plane, scaled and placed by the style's
framing. Shapes are drawn with Pillow at 2-4x and box-filtered down (anti-aliasing), only
inside the face's bounding box, over a cached background; a Lambert shading map gives volume.

Pose conventions: yaw > 0 turns the face towards the image's right, pitch > 0 tilts the head
down (nod), roll > 0 rotates it clockwise in the image. Gaze x > 0 looks towards the image's
right, gaze y > 0 looks down. The face box (:meth:`FaceRenderer.face_box`) spans mid-forehead
to chin and cheek to cheek, as a face detector would report it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops, ImageDraw

from emoclip_clinic.errors import ConfigError
from emoclip_clinic.synth.au import AU_NAMES, check_au_vector
from emoclip_clinic.synth.styles import (
    RenderStyle,
    background_image,
    color_transform,
    degrade,
    get_style,
    shading_texture,
)

RGB = tuple[int, int, int]
HAIR_STYLES = ("bald", "buzz", "short", "bob", "long")
GLASSES = ("none", "round", "square")
FACE_TOP = -0.6  # top of the face box (mid-forehead), face units
_BOX_CENTRE = (FACE_TOP + 1.32) / 2  # centre of the default identity's face box, face units
_BOX_UNITS = 1.32 - FACE_TOP  # height of the default identity's face box, face units
_HEAD_DEPTH = 0.85  # head depth / head width, for the silhouette under rotation

_SKIN_TONES = (
    (255, 224, 200),
    (240, 200, 170),
    (228, 178, 142),
    (202, 150, 112),
    (168, 116, 84),
    (128, 86, 62),
    (94, 64, 48),
)
_HAIR_COLOURS = (
    (28, 24, 22),
    (58, 40, 30),
    (100, 68, 44),
    (196, 160, 108),
    (140, 68, 36),
    (150, 150, 150),
    (212, 210, 204),
)
_IRIS_COLOURS = ((70, 45, 30), (110, 75, 45), (95, 110, 60), (70, 110, 150), (110, 120, 130))
_SHIRT_COLOURS = ((70, 90, 120), (150, 40, 50), (60, 110, 70), (200, 200, 195), (40, 40, 45))


@dataclass(frozen=True)
class Identity:
    """Appearance of one synthetic person (lengths in face units)."""

    face_width: float = 1.0  # head half-width at the cheekbones
    face_length: float = 1.32  # eye line to chin (and to the top of the skull)
    jaw_width: float = 0.8  # jaw width relative to the cheekbones
    skin: RGB = (228, 178, 142)  # skin colour, fully lit
    eye_spacing: float = 0.40  # half distance between the eye centres
    eye_width: float = 0.2  # eye half-width
    eye_open: float = 0.085  # half-height of the open eye
    eye_tilt: float = 0.0  # lift of the outer eye corners
    iris: RGB = (90, 60, 40)  # iris colour
    brow_height: float = 0.27  # eye line to the brows
    brow_thickness: float = 0.075  # brow thickness at its inner end
    brow_arch: float = 0.05  # arch height of the brows
    nose_length: float = 0.5  # eye line to the nose tip
    nose_width: float = 0.16  # half-width of the nose wings
    mouth_y: float = 0.84  # eye line to the mouth
    mouth_width: float = 0.32  # half-width of the mouth
    upper_lip: float = 0.055  # upper lip thickness
    lower_lip: float = 0.08  # lower lip thickness
    lip: RGB = (185, 95, 95)  # lip colour
    hair_style: str = "short"  # one of HAIR_STYLES
    hair: RGB = (58, 40, 30)  # hair colour
    hairline: float = 0.8  # eye line to the hairline at the midline
    hair_volume: float = 0.12  # thickness of the hair over the skull
    fringe: float = 0.0  # 0 = swept back, 1 = straight fringe across the forehead
    glasses: str = "none"  # one of GLASSES
    frame: RGB = (35, 35, 40)  # glasses frame colour
    shirt: RGB = (70, 90, 120)  # clothes colour
    age_lines: float = 0.2  # visibility of wrinkles at rest, 0..1

    def __post_init__(self) -> None:
        if self.hair_style not in HAIR_STYLES:
            raise ConfigError(f"hair_style {self.hair_style!r} not one of {HAIR_STYLES}")
        if self.glasses not in GLASSES:
            raise ConfigError(f"glasses {self.glasses!r} not one of {GLASSES}")
        if not (0.7 <= self.face_width <= 1.3 and 1.0 <= self.face_length <= 1.7):
            raise ConfigError("face_width must be within 0.7..1.3 and face_length 1.0..1.7")

    @classmethod
    def sample(cls, rng: np.random.Generator) -> Identity:
        """Draw a random plausible identity.

        Args:
            rng: the only source of randomness (same state, same identity).
        """

        def pick(options):
            return options[int(rng.integers(len(options)))]

        def jitter(colour, amount: float) -> RGB:
            shifted = np.asarray(colour) * (1 + amount * rng.uniform(-1, 1, 3))
            return tuple(int(v) for v in np.clip(shifted, 0, 255))

        u = rng.uniform
        skin = jitter(pick(_SKIN_TONES), 0.05)
        lip = tuple(
            int(v) for v in np.clip(np.asarray(skin) * (0.8, 0.5, 0.52) + (30, 8, 10), 0, 255)
        )
        nose_length, face_length = u(0.44, 0.54), u(1.24, 1.42)
        return cls(
            face_width=u(0.92, 1.06),
            face_length=face_length,
            jaw_width=u(0.7, 0.9),
            skin=skin,
            eye_spacing=u(0.37, 0.43),
            eye_width=u(0.17, 0.21),
            eye_open=u(0.075, 0.095),
            eye_tilt=u(-0.02, 0.04),
            iris=jitter(pick(_IRIS_COLOURS), 0.1),
            brow_height=u(0.24, 0.3),
            brow_thickness=u(0.07, 0.1),
            brow_arch=u(0.02, 0.08),
            nose_length=nose_length,
            nose_width=u(0.13, 0.19),
            mouth_y=min(nose_length + u(0.3, 0.37), face_length - 0.42),
            mouth_width=u(0.3, 0.36),
            upper_lip=u(0.05, 0.075),
            lower_lip=u(0.07, 0.1),
            lip=lip,
            hair_style=str(rng.choice(HAIR_STYLES, p=(0.08, 0.12, 0.35, 0.2, 0.25))),
            hair=jitter(
                _HAIR_COLOURS[rng.choice(7, p=(0.3, 0.25, 0.18, 0.1, 0.07, 0.06, 0.04))], 0.08
            ),
            hairline=u(0.7, 0.88),
            hair_volume=u(0.08, 0.18),
            fringe=float(u(0.3, 1.0) if rng.random() < 0.3 else 0.0),
            glasses=str(rng.choice(GLASSES, p=(0.8, 0.1, 0.1))),
            frame=jitter(pick(((30, 30, 35), (90, 60, 40), (150, 150, 160))), 0.1),
            shirt=jitter(pick(_SHIRT_COLOURS), 0.2),
            age_lines=u(0.0, 0.5),
        )


@dataclass(frozen=True)
class Pose:
    """Head pose and placement relative to the style's framing."""

    yaw: float = 0.0  # degrees, -60..60; positive turns the face towards the image's right
    pitch: float = 0.0  # degrees, -45..45; positive tilts the head down
    roll: float = 0.0  # degrees, -60..60; positive rotates clockwise in the image
    tx: float = 0.0  # horizontal shift in face-box heights; positive = right
    ty: float = 0.0  # vertical shift in face-box heights; positive = down
    scale: float = 1.0  # size multiplier, 0.2..5

    def __post_init__(self) -> None:
        ok = abs(self.yaw) <= 60 and abs(self.pitch) <= 45 and abs(self.roll) <= 60
        if not (ok and 0.2 <= self.scale <= 5 and abs(self.tx) <= 5 and abs(self.ty) <= 5):
            raise ConfigError(
                f"pose out of range: {self} (|yaw| <= 60, |pitch| <= 45, |roll| <= 60 degrees, "
                "|tx|, |ty| <= 5, scale 0.2..5)"
            )

    @classmethod
    def from_array(cls, values: np.ndarray) -> Pose:
        """Build a pose from ``(yaw, pitch, roll, tx, ty, scale)`` (one row of a pose track)."""
        return cls(*(float(v) for v in values))


@dataclass(frozen=True)
class Gaze:
    """Eye direction relative to the head."""

    x: float = 0.0  # -1..1; positive looks towards the image's right
    y: float = 0.0  # -1..1; positive looks down

    def __post_init__(self) -> None:
        if not (abs(self.x) <= 1 and abs(self.y) <= 1):
            raise ConfigError(f"gaze must be within -1..1, got ({self.x}, {self.y})")


# ---------------------------------------------------------------------------------------------
# Geometry: named point sets in face units, projected all at once.


@dataclass(frozen=True)
class _Placement:
    """Maps face units to frame pixels for one pose (2x3 matrices per point kind)."""

    ppu: float  # pixels per face unit
    feature: np.ndarray  # 2x3: features on the head surface
    outline: np.ndarray  # 2x3: silhouette points (head outline, hair)
    body: np.ndarray  # 2x3: points fixed to the body (not rotated)
    offset: np.ndarray  # (2,) pixel position of the head centre (origin)
    body_offset: np.ndarray  # (2,) pixel position of the origin for body points
    roll: float  # radians
    k_yaw: float  # silhouette width factor under yaw
    k_pitch: float  # silhouette height factor under pitch


def _placement(style: RenderStyle, pose: Pose, width: int, height: int) -> _Placement:
    box = style.face_height * height * pose.scale
    ppu = box / _BOX_UNITS
    centre = np.array(
        [
            style.face_center[0] * width + pose.tx * box,
            style.face_center[1] * height + pose.ty * box,
        ]
    )
    yaw, pitch, roll = (math.radians(a) for a in (pose.yaw, pose.pitch, pose.roll))
    cy, sy, cp, sp = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)
    k_yaw = math.hypot(cy, _HEAD_DEPTH * sy)
    k_pitch = math.hypot(cp, _HEAD_DEPTH * sp)
    rot = np.array([[math.cos(roll), -math.sin(roll)], [math.sin(roll), math.cos(roll)]]) * ppu
    feature = rot @ np.array([[cy, 0.0, sy], [-sp * sy, cp, sp * cy]])
    outline = rot @ np.array([[k_yaw, 0.0, sy], [0.0, k_pitch, sp * cy]])
    # The body stays at the style's framing whatever the head does; the neck stretches.
    body_ppu = style.face_height * height / _BOX_UNITS
    body_centre = np.array([style.face_center[0] * width, style.face_center[1] * height])
    return _Placement(
        ppu=ppu,
        feature=feature,
        outline=outline,
        body=np.array([[body_ppu, 0.0, 0.0], [0.0, body_ppu, 0.0]]),
        offset=centre - rot @ np.array([0.0, _BOX_CENTRE]),
        body_offset=body_centre - np.array([0.0, _BOX_CENTRE * body_ppu]),
        roll=roll,
        k_yaw=k_yaw,
        k_pitch=k_pitch,
    )


class _Points:
    """Named point arrays in face units; kind 0 = on the head surface (z = surface + dz),
    1 = silhouette (z = dz), 2 = fixed to the body (not rotated)."""

    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        self.names: list[str] = []
        self.parts: list[tuple] = []

    def add(self, name: str, x, y, dz=0.0, kind: int = 0) -> None:
        """Append one named array (x, y: equal-length sequences; dz: scalar or array)."""
        self.names.append(name)
        self.parts.append((x, y, dz, kind))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, list[str], list[int]]:
        """All points as an (n, 3) array, their kinds (n,), the names and the sizes."""
        sizes = [len(p[0]) for p in self.parts]
        x = np.concatenate([p[0] for p in self.parts]).astype(np.float64)
        y = np.concatenate([p[1] for p in self.parts]).astype(np.float64)
        kinds = np.repeat([p[3] for p in self.parts], sizes)
        scalar = [isinstance(p[2], float | int) for p in self.parts]
        dz = np.repeat(
            [p[2] if ok else 0.0 for p, ok in zip(self.parts, scalar, strict=True)], sizes
        )
        ends = np.cumsum(sizes)
        for p, ok, n, end in zip(self.parts, scalar, sizes, ends, strict=True):
            if not ok:  # per-point depth (head outline, nose bridge)
                dz[end - n : end] += p[2]
        w, length = self.identity.face_width, self.identity.face_length
        inside = np.clip(1 - 0.9 * (x / w) ** 2 - (y / (1.15 * length)) ** 2, 0.03, 1)
        z = np.where(kinds == 0, 0.85 * np.sqrt(inside), 0.0) + dz
        return np.stack([x, y, z], axis=1), kinds, self.names, sizes


class _Projected:
    """Frame-pixel coordinates of every named array of a face, with name -> row span."""

    def __init__(self, static, dynamic, place: _Placement) -> None:
        points = np.concatenate([static[0], dynamic[0]])
        kinds = np.concatenate([static[1], dynamic[1]])[:, None]
        by_kind = (
            points @ place.feature.T + place.offset,
            points @ place.outline.T + place.offset,
            points @ place.body.T + place.body_offset,
        )
        self.xy = np.where(kinds == 0, by_kind[0], np.where(kinds == 1, by_kind[1], by_kind[2]))
        ends = np.cumsum(static[3] + dynamic[3])
        self.spans = {
            n: (e - s, e)
            for n, s, e in zip(static[2] + dynamic[2], static[3] + dynamic[3], ends, strict=True)
        }

    def __getitem__(self, name: str) -> np.ndarray:
        start, end = self.spans[name]
        return self.xy[start:end]


_UNIT_CIRCLES: dict[int, tuple[np.ndarray, np.ndarray]] = {}
_BEZIER: dict[int, np.ndarray] = {}


def _circle(cx, cy, rx, ry, n: int = 16):
    if n not in _UNIT_CIRCLES:
        t = np.linspace(0, 2 * np.pi, n, endpoint=False)
        _UNIT_CIRCLES[n] = (np.cos(t), np.sin(t))
    c, s = _UNIT_CIRCLES[n]
    return cx + rx * c, cy + ry * s


def _curve(p0, p1, p2, n: int = 7):
    """Quadratic Bezier from p0 to p2 with control p1, as (x, y) arrays."""
    if n not in _BEZIER:
        t = np.linspace(0, 1, n)
        _BEZIER[n] = np.stack([(1 - t) ** 2, 2 * t * (1 - t), t**2], axis=1)
    pts = _BEZIER[n] @ np.array([p0, p1, p2], dtype=np.float64)
    return pts[:, 0], pts[:, 1]


_T_EYE = np.linspace(0, 1, 11)
_EYE_UP = np.sin(np.pi * _T_EYE**0.85) ** 0.9
_EYE_LO = np.sin(np.pi * _T_EYE**1.15)
_S_BROW = np.linspace(0, 1, 9)
_U = np.linspace(-1, 1, 17)
_U_ABS = np.abs(_U)
_U_CURVE = _U_ABS**2.2
_U_ROUND = np.sqrt(np.clip(1 - _U**2, 0, 1))
_U_UPPER = np.clip(1 - _U_ABS**2.5, 0, 1) ** 0.6 * (1 - 0.3 * np.exp(-((_U / 0.14) ** 2)))
_TEETH = _U_ABS < 0.8


def _static_shapes(idn: Identity) -> _Points:
    """Shapes that depend on the identity only: hair, ears, neck, wrinkles, glasses."""
    pts = _Points(idn)
    _hair(pts)
    w = idn.face_width
    for sgn in (-1, 1):
        pts.add(f"ear{sgn}", *_circle(sgn * 0.99 * w, 0.14, 0.12, 0.21), dz=-0.15, kind=1)
        for k in range(3):
            cx0, cy0 = sgn * (idn.eye_spacing + idn.eye_width + 0.03), -0.03 + 0.045 * k
            pts.add(f"crow{sgn}_{k}", [cx0, cx0 + sgn * 0.09], [cy0, cy0 - 0.03 + 0.03 * k])
        pts.add(
            f"glabella{sgn}",
            [sgn * 0.045, sgn * 0.06],
            [-idn.brow_height + 0.04, -idn.brow_height - 0.1],
        )
    nx, ny = _neckline(idn)
    pts.add("neck_top", [0.5 * w, -0.5 * w], [0.7, 0.7], dz=0.2, kind=1)
    pts.add("neck_bottom", nx[::-1], ny[::-1], kind=2)
    for sgn in (-1, 1):  # platysma cords, tensed with AU20
        pts.add(f"platysma{sgn}", [sgn * 0.3 * w, sgn * 0.42 * w], [1.0, ny[0] - 0.05], kind=1)
    for k in range(3):
        y = -idn.brow_height - 0.17 - 0.08 * k
        pts.add(f"forehead{k}", *_curve((-0.32, y + 0.02), (0, y - 0.05), (0.32, y + 0.02), 7))
        wy = 0.05 * k
        pts.add(f"nose_wrinkle{k}", *_curve((-0.1, wy), (0, wy - 0.03), (0.1, wy), 5), dz=0.1)
    _glasses(pts)
    return pts


@functools.lru_cache(maxsize=256)
def _outline_base(idn: Identity) -> tuple[np.ndarray, ...]:
    """Right half of the head outline, top to chin: x, y and the jaw-drop weight per point."""
    w, length, jaw = idn.face_width, idn.face_length, idn.jaw_width
    t = np.linspace(-np.pi / 2, np.pi / 2, 25)
    s, c = np.sin(t), np.clip(np.cos(t), 0, 1)
    x = np.where(s < 0, w * c ** (2 / 2.4), w * c ** (2 / 2.8) * (1 - (1 - jaw) * s**2))
    ramp = np.clip((length * s - 0.45) / (length - 0.45), 0, 1)
    return x, length * s, ramp * ramp * (3 - 2 * ramp)


def _outline(idn: Identity, drop: float, face_box: bool = False):
    """Head outline (x, y, z) with the jaw lowered by ``drop``; or the face-box outline."""
    x, y0, weight = _outline_base(idn)
    y = y0 + drop * weight
    z = 0.5 * np.clip(y / idn.face_length, 0, 1) ** 2
    if not face_box:
        ring = np.concatenate
        return ring([x, -x[-2:0:-1]]), ring([y, y[-2:0:-1]]), ring([z, z[-2:0:-1]])
    keep = y >= FACE_TOP
    x_top = idn.face_width * (1 - (FACE_TOP / idn.face_length) ** 2) ** (1 / 2.4)
    fx = np.concatenate([[x_top], x[keep], -x[keep][::-1], [-x_top]])
    fy = np.concatenate([[FACE_TOP], y[keep], y[keep][::-1], [FACE_TOP]])
    fz = np.concatenate([[0.0], z[keep], z[keep][::-1], [0.0]])
    return fx, fy, fz


def _neckline(idn: Identity):
    u = np.linspace(-1, 1, 9)
    return 0.56 * idn.face_width * u, idn.face_length + 0.42 + 0.2 * (1 - u**2)


_UPPER_LID = {"AU5": 1.1, "AU7": -0.3, "AU6": -0.25, "AU4": -0.35, "AU9": -0.3}
_LOWER_LID = {"AU6": -0.45, "AU7": -0.55, "AU9": -0.2, "AU5": 0.1}


def _weighted(a: dict[str, float], weights: dict[str, float]) -> float:
    return sum(w * a[k] for k, w in weights.items())


def _jaw_drop(a: dict[str, float]) -> float:
    return 0.3 * a["AU26"] + 0.02 * a["AU25"]


def _eyes(pts: _Points, a: dict[str, float], gaze: Gaze) -> None:
    """Eye whites, irises clipped to the opening, lids (AU43/45 close them) and lid lines."""
    idn = pts.identity
    es, ew, eo = idn.eye_spacing, idn.eye_width, idn.eye_open
    x = es - ew + 2 * ew * _T_EYE  # right eye, inner to outer corner; the left is mirrored
    base = 0.01 * (1 - _T_EYE) - idn.eye_tilt * _T_EYE
    # Lid openings in units of eye_open: AU5 retracts the upper lid (white shows above the
    # iris), AU6/AU7 push the lower lid up, AU4/AU9 bring the brow fold down on the lid, and
    # the upper lid follows the gaze down.
    h_up = eo * max(0.1, 1.15 + _weighted(a, _UPPER_LID) - 0.35 * max(gaze.y, 0.0)
                    + 0.25 * max(-gaze.y, 0.0))  # fmt: skip
    h_lo = eo * max(0.05, 0.75 + _weighted(a, _LOWER_LID))
    closure = max(a["AU43"], a["AU45"])
    lower = base + h_lo * (1 - 0.3 * closure) * _EYE_LO
    upper_open = base - h_up * _EYE_UP
    upper = upper_open + (lower - 0.006 - upper_open) * closure
    white_y = np.concatenate([upper, lower[::-1]])
    crease = upper_open[1:-1] - 0.045 - 0.02 * a["AU5"]
    bag = lower[2:-2] + 0.045 + 0.02 * (1 - a["AU6"])
    r = 0.5 * ew
    for sgn in (-1, 1):
        sx = sgn * x
        pts.add(f"white{sgn}", np.concatenate([sx, sx[::-1]]), white_y)
        # Irises are clipped to the opening, so no lid skin has to be painted over them.
        ix = es + sgn * gaze.x * (ew - r) * 0.9  # in right-eye coordinates
        iy = -0.1 * eo + 0.55 * eo * gaze.y
        for name, cx, cy, radius, n in (
            ("iris", ix, iy, r, 16),
            ("pupil", ix, iy, 0.42 * r, 12),
            ("glint", ix - 0.3 * r * sgn, iy - 0.35 * r, 0.16 * r, 8),
        ):
            px, py = _circle(cx, cy, radius, radius, n)
            px = np.clip(px, x[0], x[-1])
            top = np.interp(px, x, upper)
            py = np.clip(py, top, np.maximum(top, np.interp(px, x, lower)))
            pts.add(f"{name}{sgn}", sgn * px, py, dz=0.01)
        pts.add(f"lash{sgn}", sx, upper, dz=0.016)
        pts.add(f"lower_lid{sgn}", sx, lower, dz=0.016)
        pts.add(f"crease{sgn}", sx[1:-1], crease, dz=0.016)
        pts.add(f"bag{sgn}", sx[2:-2], bag, dz=0.016)


def _brows(pts: _Points, a: dict[str, float]) -> None:
    """Brow bands: AU1 lifts the inner, AU2 the outer end, AU4/AU9 lower and knit them."""
    idn, s = pts.identity, _S_BROW
    x = 0.1 + (idn.eye_spacing + idn.eye_width - 0.03) * s
    arch = idn.brow_arch + 0.05 * max(a["AU1"], a["AU2"]) - 0.03 * a["AU4"]  # raised brows curve
    y = -idn.brow_height - arch * np.sin(np.pi * (0.05 + 0.9 * s)) + 0.04 * s**3
    inner = (1 - s) ** 1.3
    y = y + (
        -0.22 * a["AU1"] * inner
        - 0.04 * a["AU1"]
        - 0.2 * a["AU2"] * s
        - 0.03 * a["AU2"]
        + a["AU4"] * (0.1 + 0.06 * (1 - s))
        + 0.07 * a["AU9"] * (1 - s)
    )
    x = x - 0.08 * a["AU4"] * inner - 0.02 * a["AU9"]
    half = 0.5 * idn.brow_thickness * (1 - 0.55 * s**1.5)
    band_x = np.concatenate([x, x[::-1]])
    band_y = np.concatenate([y - half, (y + half)[::-1]])
    for sgn in (-1, 1):
        pts.add(f"brow{sgn}", sgn * band_x, band_y, dz=0.03)


def _nose(pts: _Points, a: dict[str, float], light_side: int) -> None:
    """Bridge shadow, tip shadow, wings and nostrils (AU9/AU10 lift and widen them)."""
    idn = pts.identity
    nl = idn.nose_length - 0.06 * a["AU9"] - 0.03 * a["AU10"]
    nw = idn.nose_width * (1 + 0.25 * a["AU9"] + 0.12 * a["AU10"])
    bx, by = _curve(
        (-light_side * 0.075, -0.06), (-light_side * 0.09, 0.2), (-light_side * 0.11, nl - 0.08), 6
    )
    pts.add("bridge", bx, by, dz=0.05 + 0.25 * np.linspace(0, 1, 6))
    u = _U[::2]
    bump = 1 - u**2
    pts.add(
        "tip_shadow",
        0.8 * nw * np.concatenate([u, u[::-1]]),
        np.concatenate([nl + 0.01 - 0.02 * bump, nl + 0.06 + 0.02 * bump[::-1]]),
        dz=0.25,
    )
    for sgn in (-1, 1):
        pts.add(
            f"wing{sgn}",
            *_curve(
                (sgn * 0.55 * nw, nl - 0.13),
                (sgn * 1.25 * nw, nl - 0.04),
                (sgn * 0.6 * nw, nl + 0.05),
            ),
            dz=0.12,
        )
        pts.add(f"nostril{sgn}", *_circle(sgn * 0.42 * nw, nl + 0.035, 0.045, 0.02, 10), dz=0.22)


def _mouth_shape(idn: Identity, a: dict[str, float]):
    """Corner positions, lip lines and opening of the mouth (per point along its width)."""
    left = _U < 0  # image left = the subject's right side
    a12 = np.where(left, max(a["AU12"], a["AU12R"]), max(a["AU12"], a["AU12L"]))
    a14 = np.where(left, max(a["AU14"], a["AU14R"]), max(a["AU14"], a["AU14L"]))
    a15, a17, a20, a23, a24 = (a[k] for k in ("AU15", "AU17", "AU20", "AU23", "AU24"))
    a10, a25, a26 = a["AU10"], a["AU25"], a["AU26"]
    # AU12 pulls the corners up and out, AU15 down; AU14 tightens them inwards; AU20 stretches
    # the mouth sideways; AU23/AU24 narrow it and thin the red of the lips; AU17 pushes the
    # lower lip up so the mouth line arches; AU10 lifts the upper lip centre (teeth show);
    # AU25 parts the lips and AU26 drops the jaw, the lower lip following the jaw.
    width = idn.mouth_width * (
        1 + 0.25 * a12 + 0.55 * a20 - 0.22 * a23 - 0.12 * a24 - 0.16 * a14 - 0.1 * a26
    )
    centre = idn.mouth_y - 0.03 * a10 - 0.08 * a17 + 0.03 * a26
    corner = (
        idn.mouth_y - 0.17 * a12 + 0.15 * a15 - 0.08 * a14 + 0.05 * a20 + 0.07 * a26 - 0.02 * a10
    )
    line = centre + (corner - centre) * _U_CURVE
    gap0 = (0.07 * a25 + 0.3 * a26) * (1 - 0.8 * a24) * (1 - 0.5 * a23)
    gap = gap0 * np.clip(1 - _U_ABS ** (2 + 5 * a20), 0, 1) ** 0.7
    lift = (0.08 * a10 + 0.03 * a["AU9"]) * _U_ROUND
    upper_in, lower_in = line - 0.3 * gap - lift, line + 0.7 * gap
    thin = 1 - 0.6 * a23 - 0.65 * a24 - 0.35 * a20
    t_up = np.clip(idn.upper_lip * (thin - 0.25 * a12), 0.008, None)
    t_lo = np.clip(idn.lower_lip * (thin - 0.2 * a12 + 0.4 * a17), 0.01, None)
    upper_out, lower_out = upper_in - t_up * _U_UPPER, lower_in + t_lo * _U_ROUND
    return _U * width, line, upper_in, lower_in, upper_out, lower_out, a12, a14


def _mouth(pts: _Points, a: dict[str, float]) -> dict[str, float]:
    """Lips, opening, teeth and chin lines; returns the fold and dimple strengths."""
    idn = pts.identity
    x, line, upper_in, lower_in, upper_out, lower_out, a12, a14 = _mouth_shape(idn, a)
    ring = np.concatenate
    pts.add("mouth", ring([x, x[::-1]]), ring([upper_in, lower_in[::-1]]), dz=0.03)
    tx, top = x[_TEETH], upper_in[_TEETH]
    bottom = np.minimum(top + 0.075, lower_in[_TEETH])
    pts.add("teeth_up", ring([tx, tx[::-1]]), ring([top, bottom[::-1]]), dz=0.03)
    low_top = np.maximum(lower_in[_TEETH] - 0.045, bottom)
    pts.add("teeth_lo", ring([tx, tx[::-1]]), ring([low_top, lower_in[_TEETH][::-1]]), dz=0.03)
    pts.add("lip_up", ring([x, x[::-1]]), ring([upper_out, upper_in[::-1]]), dz=0.05)
    pts.add("lip_lo", ring([x, x[::-1]]), ring([lower_in, lower_out[::-1]]), dz=0.05)
    pts.add("mouth_line", x, upper_in, dz=0.05)
    sulcus = lower_out[8] + 0.09 - 0.02 * a["AU17"] + _jaw_drop(a) * 0.3
    pts.add(
        "sulcus", *_curve((-0.13, sulcus - 0.015), (0, sulcus + 0.02), (0.13, sulcus - 0.015), 5)
    )
    chin = idn.face_length - 0.2 + _jaw_drop(a)
    pts.add("chin", *_curve((-0.1, chin + 0.02), (0, chin - 0.03), (0.1, chin + 0.02), 5))
    strengths = {}
    nw = idn.nose_width * (1 + 0.25 * a["AU9"])
    for sgn, i in ((-1, 0), (1, -1)):
        cx, cy, s12, s14 = x[i], line[i], float(a12[i]), float(a14[i])
        start = (sgn * (nw + 0.03), idn.nose_length - 0.06 * a["AU9"] - 0.06)
        ctrl = (sgn * (nw + 0.17 + 0.08 * s12), 0.5 * (start[1] + cy) - 0.05 * s12)
        pts.add(f"fold{sgn}", *_curve(start, ctrl, (cx + sgn * 0.08, cy + 0.06)))
        pts.add(
            f"dimple{sgn}",
            *_curve(
                (cx + sgn * 0.03, cy - 0.07), (cx + sgn * 0.08, cy), (cx + sgn * 0.03, cy + 0.07), 5
            ),
        )
        strengths[f"fold{sgn}"] = max(
            0.9 * s12, 0.5 * a["AU6"], 0.9 * a["AU10"], 0.9 * a["AU9"], 0.6 * s14, 0.5 * a["AU20"]
        )
        strengths[f"dimple{sgn}"] = s14
    return strengths


def _hair(pts: _Points) -> None:
    """Hair cap in front of the skull (silhouette + hairline) and long hair behind the head."""
    idn = pts.identity
    if idn.hair_style == "bald":
        return
    w, length = idn.face_width, idn.face_length
    vol = 0.03 if idn.hair_style == "buzz" else idn.hair_volume
    bottom = {"buzz": -0.1, "short": 0.0, "bob": 0.8, "long": 0.9}[idn.hair_style]
    flare = {"buzz": 0.0, "short": 0.0, "bob": 0.12, "long": 0.06}[idn.hair_style]
    t = np.linspace(0, np.pi / 2, 10)
    ox = (w + 0.5 * vol) * np.cos(t) ** (2 / 2.4)
    oy = -(length + 1.3 * vol) * np.sin(t)
    side = w + 0.5 * vol + flare
    outer_x = np.concatenate([[side], ox, -ox[::-1], [-side]])
    outer_y = np.concatenate([[bottom], oy, oy[::-1], [bottom]])
    hx = np.linspace(-0.88 * w, 0.88 * w, 13)
    natural = -idn.hairline + 0.4 * (hx / w) ** 2 + 0.15 * (hx / w) ** 4
    straight = -idn.brow_height - 0.17 + 0.1 * (hx / w) ** 4
    hy = natural + (straight - natural) * idn.fringe
    sy = np.linspace(hy[-1] + 0.05, bottom, 5) if bottom > hy[-1] + 0.05 else np.array([bottom])
    depth = np.clip(sy / length, 0, 1)
    sx = (
        0.92
        * w
        * np.minimum(1.0, (1 - (1 - idn.jaw_width) * depth**2) * np.sqrt(1 - depth**2) + 0.05)
    )
    # The hairline rides on the forehead (moves with the features); the sideburn edges are
    # silhouette points so that they never cross the head outline under yaw.
    pts.add("hair_outer", outer_x, outer_y, kind=1)
    pts.add("hair_side_left", -sx[::-1], sy[::-1], kind=1)
    pts.add("hair_line", hx, hy, dz=0.02)
    pts.add("hair_side_right", sx, sy, kind=1)
    if idn.hair_style in ("bob", "long"):
        end = length + (0.9 if idn.hair_style == "long" else -0.15)
        bx = np.concatenate([outer_x[1:-1], [-side - 0.05, 0, side + 0.05]])
        by = np.concatenate([outer_y[1:-1], [end, end + 0.1, end]])
        pts.add("hair_back", bx, by, dz=-0.3, kind=1)


def _glasses(pts: _Points) -> None:
    """Two rims, a bridge and the temples back to the ears."""
    idn = pts.identity
    if idn.glasses == "none":
        return
    t = np.linspace(0, 2 * np.pi, 20)
    power = 1.0 if idn.glasses == "round" else 0.4
    rx, ry = idn.eye_width + 0.08, 0.15
    c, s = np.cos(t), np.sin(t)
    for sgn in (-1, 1):
        x = sgn * idn.eye_spacing + rx * np.sign(c) * np.abs(c) ** power
        y = 0.01 + ry * np.sign(s) * np.abs(s) ** power
        pts.add(f"rim{sgn}", x, y, dz=0.12)
        pts.add(
            f"temple{sgn}",
            [sgn * (idn.eye_spacing + rx), sgn * 0.95 * idn.face_width],
            [-0.02, 0.05],
            dz=0.1,
        )
    inner = idn.eye_spacing - rx
    pts.add("bridge_glasses", *_curve((-inner, -0.01), (0, -0.05), (inner, -0.01), 5), dz=0.2)


def _dynamic_shapes(idn: Identity, a: dict[str, float], gaze: Gaze, light_side: int):
    """Shapes that move with the AUs and gaze; returns them and the wrinkle strengths."""
    pts = _Points(idn)
    hx, hy, hz = _outline(idn, _jaw_drop(a))
    pts.add("head", hx, hy, dz=hz, kind=1)
    if a["AU6"] > 0.03:
        for sgn in (-1, 1):
            for k in range(3):
                size = 1 - 0.28 * k
                pts.add(
                    f"cheek{sgn}_{k}",
                    *_circle(sgn * 0.48, 0.33 - 0.06 * a["AU6"], 0.17 * size, 0.11 * size, 14),
                    dz=0.02,
                )
    _eyes(pts, a, gaze)
    _brows(pts, a)
    _nose(pts, a, light_side)
    return pts, _mouth(pts, a)


# ---------------------------------------------------------------------------------------------
# Painting.


def _mix(c1: RGB, c2: RGB, k: float) -> RGB:
    k = min(max(k, 0.0), 1.0)
    return tuple(round(p + (q - p) * k) for p, q in zip(c1, c2, strict=True))


def _palette(identity: Identity, style: RenderStyle) -> dict[str, RGB]:
    skin, hair, lip = (
        np.asarray(c, np.float64) for c in (identity.skin, identity.hair, identity.lip)
    )
    raw = {
        "skin": skin,
        "line": skin * 0.58,
        "shadow": skin * 0.82,
        "neck": skin * 0.88,
        "ear": skin * 0.93,
        "cheek": skin * 1.04 + (10, -2, -2),
        "lip": lip,
        "lip_line": lip * 0.4,
        "hair": hair,
        "hair_back": hair * 0.82,
        "brow": np.minimum(hair * 0.5 + 20, skin * 0.42),
        "white": (240, 238, 232),
        "iris": identity.iris,
        "pupil": (18, 14, 14),
        "glint": (255, 255, 255),
        "teeth": (238, 232, 216),
        "mouth": (80, 30, 35),
        "lash": (30, 22, 20),
        "frame": identity.frame,
        "nostril": skin * 0.38,
        "shirt": identity.shirt,
        "buzz": skin * 0.45 + hair * 0.55,
    }
    return {k: color_transform(style, tuple(np.clip(v, 0, 255))) for k, v in raw.items()}


class _Canvas:
    """Pillow drawing at ``scale`` x over a crop; 'solid' shapes also go into the alpha mask.

    All projected points are converted to canvas coordinates once; shapes are list slices.
    """

    def __init__(self, image, mask, projected: _Projected, origin, scale: int, ppu: float):
        self.draw, self.mask = ImageDraw.Draw(image), ImageDraw.Draw(mask)
        self.flat = ((projected.xy - np.asarray(origin)) * scale).ravel().tolist()
        self.spans, self.unit = projected.spans, ppu * scale

    def has(self, name: str) -> bool:
        """Whether the face has a shape of this name (hair, glasses are optional)."""
        return name in self.spans

    def _xy(self, names: tuple[str, ...]) -> list[float]:
        out: list[float] = []
        for name in names:
            start, end = self.spans[name]
            out += self.flat[2 * start : 2 * end]
        return out

    def poly(self, colour: RGB, *names: str, solid: bool = False) -> None:
        """Fill the polygon made of the named point arrays, in order."""
        xy = self._xy(names)
        self.draw.polygon(xy, fill=colour)
        if solid:
            self.mask.polygon(xy, fill=255)

    def line(self, colour: RGB, width: float, name: str, solid=False, closed=False) -> None:
        """Stroke the named polyline; ``width`` in face units."""
        xy, w = self._xy((name,)), max(1, round(width * self.unit))
        if closed:
            xy += xy[:2]
        self.draw.line(xy, fill=colour, width=w, joint="curve" if w >= 4 else None)
        if solid:
            self.mask.line(xy, fill=255, width=w)


def _paint_head(cv: _Canvas, col, identity: Identity, a: dict[str, float]) -> None:
    if cv.has("hair_back"):
        cv.poly(col["hair_back"], "hair_back", solid=True)
    cv.poly(col["neck"], "neck_top", "neck_bottom", solid=True)
    for sgn in (-1, 1):
        cv.poly(col["ear"], f"ear{sgn}", solid=True)
    if a["AU20"] > 0.2:
        for sgn in (-1, 1):
            cv.line(_mix(col["neck"], col["line"], 0.8 * a["AU20"]), 0.03, f"platysma{sgn}")
    cv.poly(col["skin"], "head", solid=True)
    if a["AU6"] > 0.03:
        for sgn in (-1, 1):
            for k in range(3):
                colour = _mix(col["skin"], col["cheek"], a["AU6"] * (k + 1) / 3)
                cv.poly(colour, f"cheek{sgn}_{k}")
    for sgn in (-1, 1):
        _paint_eye(cv, col, identity, a, sgn)
        cv.poly(col["brow"], f"brow{sgn}")
    lines = identity.age_lines
    forehead = max(a["AU1"], 0.8 * a["AU2"]) * 0.8 + 0.25 * lines
    for k in range(3):
        if forehead > 0.08:
            cv.line(_mix(col["skin"], col["line"], 0.55 * forehead), 0.014, f"forehead{k}")
    glabella = max(a["AU4"], 0.6 * a["AU9"])
    for sgn in (-1, 1):
        if glabella > 0.08:
            cv.line(_mix(col["skin"], col["line"], 0.7 * glabella), 0.018, f"glabella{sgn}")


def _paint_eye(cv: _Canvas, col, identity: Identity, a: dict[str, float], sgn: int) -> None:
    closure = max(a["AU43"], a["AU45"])
    if closure < 0.97:
        cv.poly(col["white"], f"white{sgn}")
        cv.poly(col["iris"], f"iris{sgn}")
        cv.poly(col["pupil"], f"pupil{sgn}")
        cv.poly(col["glint"], f"glint{sgn}")
    crease = 0.45 * (1 - a["AU5"]) * (1 - 0.5 * closure)
    cv.line(_mix(col["skin"], col["line"], crease), 0.014, f"crease{sgn}")
    cv.line(col["lash"], 0.032, f"lash{sgn}")
    cv.line(_mix(col["skin"], col["line"], 0.55), 0.012, f"lower_lid{sgn}")
    bag = 0.15 + 0.25 * identity.age_lines + 0.6 * a["AU6"] + 0.3 * a["AU7"]
    cv.line(_mix(col["skin"], col["line"], bag), 0.014, f"bag{sgn}")
    crows = 0.6 * a["AU6"] + 0.2 * identity.age_lines
    if crows > 0.08:
        for k in range(3):
            cv.line(_mix(col["skin"], col["line"], crows), 0.012, f"crow{sgn}_{k}")


def _paint_lower(cv: _Canvas, col, a: dict[str, float], strengths, lines: float) -> None:
    cv.line(col["shadow"], 0.035, "bridge")
    cv.poly(col["shadow"], "tip_shadow")
    for sgn in (-1, 1):
        cv.line(_mix(col["skin"], col["line"], 0.65), 0.02, f"wing{sgn}")
        cv.poly(col["nostril"], f"nostril{sgn}")
        fold = strengths[f"fold{sgn}"]
        cv.line(
            _mix(col["skin"], col["line"], 0.04 + 0.2 * lines + 0.66 * fold),
            0.018 + 0.014 * fold,
            f"fold{sgn}",
        )
        if strengths[f"dimple{sgn}"] > 0.05:
            dimple = strengths[f"dimple{sgn}"]
            cv.line(_mix(col["skin"], col["line"], dimple), 0.018 + 0.012 * dimple, f"dimple{sgn}")
    if a["AU9"] > 0.05:
        for k in range(3):
            cv.line(_mix(col["skin"], col["line"], 0.7 * a["AU9"]), 0.014, f"nose_wrinkle{k}")
    if a["AU25"] + a["AU26"] + a["AU10"] > 0.02:
        cv.poly(col["mouth"], "mouth")
        cv.poly(col["teeth"], "teeth_up")
        if a["AU26"] > 0.25:
            cv.poly(col["teeth"], "teeth_lo")
    cv.poly(col["lip"], "lip_up")
    cv.poly(col["lip"], "lip_lo")
    cv.line(col["lip_line"], 0.022, "mouth_line")
    cv.line(
        _mix(col["skin"], col["line"], 0.2 + 0.6 * a["AU17"]), 0.016 + 0.012 * a["AU17"], "sulcus"
    )
    if a["AU17"] > 0.05:
        cv.line(_mix(col["skin"], col["line"], 0.7 * a["AU17"]), 0.02, "chin")


_HAIR_FRONT = ("hair_outer", "hair_side_left", "hair_line", "hair_side_right")


def _paint_front(cv: _Canvas, col, identity: Identity) -> None:
    if cv.has("hair_outer"):
        colour = col["buzz"] if identity.hair_style == "buzz" else col["hair"]
        cv.poly(colour, *_HAIR_FRONT, solid=True)
    if identity.glasses != "none":
        for sgn in (-1, 1):
            cv.line(col["frame"], 0.028, f"rim{sgn}", solid=True, closed=True)
            cv.line(col["frame"], 0.025, f"temple{sgn}", solid=True)
        cv.line(col["frame"], 0.025, "bridge_glasses", solid=True)


# ---------------------------------------------------------------------------------------------
# The renderer.


class FaceRenderer:
    """Renders one identity in one style; caches the backdrop (background and body) and palette.

    The body (shoulders, clothes) stays where the style's framing puts it; the head moves over
    it with the pose and the neck follows. Only the head's bounding box is drawn per frame.

    Args:
        identity: the person to draw.
        style: a registered style name or a :class:`RenderStyle`.

    Raises:
        ConfigError: unknown or invalid style.
    """

    def __init__(self, identity: Identity, style: str | RenderStyle = "plain") -> None:
        self.identity = identity
        self.style = get_style(style)
        self.width, self.height = self.style.width, self.style.height
        self._iw = max(8, round(self.width * self.style.render_scale))
        self._ih = max(8, round(self.height * self.style.render_scale))
        self._colours = _palette(identity, self.style)
        self._static = _static_shapes(identity).arrays()
        self._shade = shading_texture(self.style.light, self.style.ambient, self.style.diffuse)
        self._light_side = 1 if self.style.light[0] >= 0 else -1
        self._backdrop = background_image(self.style, self._iw, self._ih)
        if self.style.draw_body:
            self._backdrop = self._backdrop.copy()
            self._paste_body(self._backdrop)
        self._backdrop_array = np.asarray(self._backdrop)

    def render(
        self,
        aus: np.ndarray | Mapping[str, float] | None = None,
        pose: Pose | None = None,
        gaze: Gaze | None = None,
        noise_seed: int = 0,
    ) -> np.ndarray:
        """Render one frame.

        Args:
            aus: AU intensities (vector ordered as ``AU_NAMES`` or mapping); None = neutral.
            pose: head pose; None = frontal at the style's framing.
            gaze: eye direction; None = straight ahead.
            noise_seed: selects the sensor-noise pattern of styles with noise.

        Returns:
            An (height, width, 3) uint8 RGB array.

        Raises:
            ConfigError: unknown AU or intensity outside 0..1.
        """
        vector = check_au_vector(aus)
        pose, gaze = pose or Pose(), gaze or Gaze()
        a = dict(zip(AU_NAMES, vector.tolist(), strict=True))
        place = _placement(self.style, pose, self._iw, self._ih)
        shapes, strengths = _dynamic_shapes(self.identity, a, gaze, self._light_side)
        frame = self._backdrop_array.copy()
        projected = _Projected(self._static, shapes.arrays(), place)
        self._draw_face(frame, projected, a, strengths, place)
        if frame.shape[:2] != (self.height, self.width):
            image = Image.fromarray(frame).resize((self.width, self.height), Image.BILINEAR)
            frame = np.array(image)
        return degrade(frame, self.style, noise_seed)

    def face_box(
        self, pose: Pose | None = None, aus: np.ndarray | Mapping[str, float] | None = None
    ) -> tuple[float, float, float, float]:
        """True face box ``(x0, y0, x1, y1)`` in output pixels (mid-forehead to chin).

        Args:
            pose: head pose; None = frontal.
            aus: AU intensities (a jaw drop lengthens the box).

        Returns:
            Box corners in pixels of the rendered frame; it may extend past the frame edges.
        """
        a = dict(zip(AU_NAMES, check_au_vector(aus).tolist(), strict=True))
        x, y, z = _outline(self.identity, _jaw_drop(a), face_box=True)
        place = _placement(self.style, pose or Pose(), self._iw, self._ih)
        box = np.stack([x, y, z], axis=1) @ place.outline.T + place.offset
        sx, sy = self.width / self._iw, self.height / self._ih
        return (
            float(box[:, 0].min() * sx),
            float(box[:, 1].min() * sy),
            float(box[:, 0].max() * sx),
            float(box[:, 1].max() * sy),
        )

    def _supersample(self, ppu: float) -> int:
        if self.style.supersample:
            return self.style.supersample
        return 3 if ppu * _BOX_UNITS < 64 else 2  # tiny faces need finer sampling

    def _draw_face(self, frame: np.ndarray, projected, a, strengths, place: _Placement) -> None:
        """Draw the head over its bounding box of ``frame`` (in place)."""
        every = projected.xy
        x0, y0 = (max(0, math.floor(v) - 1) for v in every.min(axis=0))
        x1 = min(self._iw, math.ceil(every[:, 0].max()) + 2)
        y1 = min(self._ih, math.ceil(every[:, 1].max()) + 2)
        if x1 <= x0 or y1 <= y0:
            return
        scale = self._supersample(place.ppu)
        size = ((x1 - x0) * scale, (y1 - y0) * scale)
        crop = self._backdrop.crop((x0, y0, x1, y1)).resize(size, Image.Resampling.NEAREST)
        mask = Image.new("L", size, 0)
        cv = _Canvas(crop, mask, projected, (x0, y0), scale, place.ppu)
        _paint_head(cv, self._colours, self.identity, a)
        _paint_lower(cv, self._colours, a, strengths, self.identity.age_lines)
        _paint_front(cv, self._colours, self.identity)
        crop, alpha = crop.reduce(scale), mask.reduce(scale)
        shade = self._shade.transform(
            crop.size,
            Image.Transform.AFFINE,
            self._shade_coefficients(place, x0, y0),
            resample=Image.Resampling.NEAREST,
        )
        # Shade only the head: the shade where the mask is set, 1 (255) outside it.
        effective = Image.composite(shade, Image.new("L", crop.size, 255), alpha)
        frame[y0:y1, x0:x1] = np.asarray(ImageChops.multiply(crop, effective.convert("RGB")))

    def _shade_coefficients(self, place: _Placement, x0: int, y0: int) -> tuple[float, ...]:
        """Affine map from crop pixels to the 256-px shading texture (head ellipse = radius 64)."""
        rx = self.identity.face_width * place.ppu * place.k_yaw
        ry = self.identity.face_length * place.ppu * place.k_pitch
        cr, sr = math.cos(place.roll), math.sin(place.roll)
        dx, dy = x0 + 0.5 - place.offset[0], y0 + 0.5 - place.offset[1]
        a, b = 64 * cr / rx, 64 * sr / rx
        d, e = -64 * sr / ry, 64 * cr / ry
        return (a, b, 128 + a * dx + b * dy, d, e, 128 + d * dx + e * dy)

    def _paste_body(self, image: Image.Image) -> None:
        """Shoulders and clothes at the style's framing, anti-aliased, pasted into ``image``."""
        place, idn, scale = _placement(self.style, Pose(), self._iw, self._ih), self.identity, 2
        nx, ny = _neckline(idn)
        shoulder = np.array([[1.25, 0.58], [2.0, 0.9], [2.45, 1.5], [2.6, 8.0]])
        sx, sy = shoulder[:, 0] * idn.face_width, shoulder[:, 1] + idn.face_length
        points = np.stack([np.concatenate([nx, sx, -sx[::-1]]), np.concatenate([ny, sy, sy[::-1]])])
        points = points.T * place.ppu + place.body_offset
        points[:, 1] = np.minimum(points[:, 1], 2.0 * self._ih)  # the frame never shows more
        corner = np.floor(points.min(axis=0))
        size = (math.ceil(np.ptp(points[:, 0])) + 2, math.ceil(np.ptp(points[:, 1])) + 2)
        mask = Image.new("L", (size[0] * scale, size[1] * scale), 0)
        ImageDraw.Draw(mask).polygon(((points - corner) * scale).ravel().tolist(), fill=255)
        collar = (np.stack([nx, ny], axis=1) * place.ppu + place.body_offset - corner) * scale
        seam = Image.new("L", mask.size, 0)
        ImageDraw.Draw(seam).line(collar.ravel().tolist(), fill=255, width=round(0.1 * place.ppu))
        shirt = np.asarray(self._colours["shirt"], np.float32)
        u = np.linspace(-1, 1, size[0], dtype=np.float32)
        light = self.style.ambient + self.style.diffuse * (0.7 + 0.3 * self._light_side * u)
        row = np.clip(shirt[None, :] * light[:, None], 0, 255).astype(np.uint8)
        colour = Image.fromarray(np.repeat(row[None], size[1], axis=0), "RGB")
        colour.paste(_mix(self._colours["shirt"], (0, 0, 0), 0.35), (0, 0), seam.reduce(scale))
        image.paste(colour, (int(corner[0]), int(corner[1])), mask.reduce(scale))


def render_face(
    identity: Identity,
    aus: np.ndarray | Mapping[str, float] | None = None,
    pose: Pose | None = None,
    gaze: Gaze | None = None,
    style: str | RenderStyle = "plain",
) -> np.ndarray:
    """Render one frame without keeping a renderer (convenience; slower for many frames).

    Args:
        identity: the person.
        aus: AU intensities (vector or mapping); None = neutral.
        pose: head pose; None = frontal.
        gaze: eye direction; None = straight ahead.
        style: a registered style name or a :class:`RenderStyle`.

    Returns:
        An (height, width, 3) uint8 RGB array.
    """
    return FaceRenderer(identity, style).render(aus, pose, gaze)
