"""Lifting image-space keypoints into the convention.

Keypoints from an image (COCO-17, OpenPose BODY_25, MediaPipe's normalised image
landmarks) have no metric scale and, mostly, no depth.  :class:`ImageLayoutAdapter`
applies the same joint table as :class:`~pose_adapters.table.LayoutAdapter` and
then *lifts* the result with a documented weak-perspective assumption:

1. Coordinates are made aspect-correct pixels: normalised inputs (``x, y`` in
   ``[0, 1]``) are multiplied by the image width and height; a normalised
   relative depth (MediaPipe's ``z``) is multiplied by the width, as MediaPipe
   documents it on the scale of ``x``.  Without ``image_size`` a normalised image
   is taken to be square.  When the image size is known, coordinates are
   measured from the image centre (the assumed optical axis).
2. Image axes (``u`` right, ``v`` down, depth away) turn into the convention by
   a 180 degree rotation about the optical axis: ``x = -u``, ``y = -v``,
   ``z = depth`` (determinant +1: a rotation, not a mirror).
3. Metres: the clip's median torso length (spine base to spine shoulder, in the
   image plane) is taken to be :data:`TORSO_M` metres.  If no frame shows the
   torso, the median height of the visible joints' bounding box is taken to be
   :data:`HEIGHT_M` metres.  One scale serves the whole clip, so a person walking
   towards the camera grows, as under a real camera; for one frame at a time
   (live use) the scale is per frame.
4. Depth: 2D inputs are flat (every joint at the same depth); the whole
   skeleton is placed :data:`NOMINAL_DEPTH` metres from the camera, where
   Kinect subjects stand.

Since :func:`pose_adapters.normalize` re-centres and re-scales by the spine, the
model is insensitive to the choice of :data:`TORSO_M` and :data:`NOMINAL_DEPTH`;
they only make the numbers look like a Kinect's.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .convention import JOINT_INDEX
from .table import AdapterError, LayoutAdapter, mirror

#: Torso length (spine base to spine shoulder) assumed for image inputs, metres:
#: the mean over the NTU RGB+D sample skeletons in ``../shared`` (0.43-0.52 m).
TORSO_M = 0.47
#: Height assumed for the visible joints' bounding box when no torso is seen, metres.
HEIGHT_M = 1.7
#: Distance from the camera at which flat (2D) skeletons are placed, metres.
NOMINAL_DEPTH = 3.0

#: Image axes (u right, v down, depth away) -> convention axes: rotation by pi about z.
IMAGE_AXES = np.diag([-1.0, -1.0, 1.0]).astype(np.float32)

_BASE, _TOP = JOINT_INDEX["spine_base"], JOINT_INDEX["spine_shoulder"]


@dataclass(frozen=True)
class ImageLayoutAdapter(LayoutAdapter):
    """A :class:`LayoutAdapter` for image keypoints, with the lift described above.

    Attributes (besides the table's):
        normalised: inputs are in ``[0, 1]`` image units rather than pixels.
        has_depth: the third input column is a relative depth to keep (MediaPipe);
            otherwise inputs are 2D and the skeleton is flat.
    """

    axes: np.ndarray = field(default_factory=lambda: IMAGE_AXES.copy())
    normalised: bool = False
    has_depth: bool = False

    def to_ntu(
        self,
        joints: np.ndarray,
        confidence: np.ndarray | None = None,
        *,
        mirrored: bool = False,
        image_size: tuple[int, int] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Lift ``joints[T, S, 2]`` (or ``[T, S, 3]``) image keypoints to ``([T, 25, 3], [T, 25])``.

        ``image_size`` is ``(width, height)`` in pixels; ``mirrored`` as for
        :meth:`LayoutAdapter.to_ntu`.
        """
        joints = np.asarray(joints, dtype=np.float32)
        if joints.ndim != 3 or joints.shape[1] != self.num_source_joints or joints.shape[2] not in (2, 3):
            raise AdapterError(
                f"{self.name}: expected keypoints of shape [T, {self.num_source_joints}, 2 or 3], "
                f"got {list(joints.shape)}"
            )
        uvz = np.zeros(joints.shape[:2] + (3,), np.float32)
        uvz[..., :2] = joints[..., :2]
        if self.has_depth and joints.shape[2] == 3:
            uvz[..., 2] = joints[..., 2]
        if image_size is not None:
            w, h = (float(s) for s in image_size)
            if not (w > 0 and h > 0):
                raise AdapterError(f"{self.name}: image_size must be positive (width, height), got {image_size!r}")
        else:
            w = h = 1.0
        if self.normalised:
            uvz *= np.array([w, h, w], np.float32)
        if image_size is not None:
            uvz[..., :2] -= np.array([w / 2, h / 2], np.float32)
        out, conf = LayoutAdapter.to_ntu(self, uvz, confidence, mirrored=False)
        present = conf > 0
        with np.errstate(over="ignore", invalid="ignore"):
            out = out * self._metres_per_unit(out, present)
        out[..., 2] += NOMINAL_DEPTH
        # A tiny torso scales absurd (finite) keypoints past float32: such a joint is missing.
        present &= np.isfinite(out).all(axis=-1)
        conf = np.where(present, conf, 0.0).astype(np.float32)
        out = np.where(present[..., None], out, 0.0).astype(np.float32)
        if mirrored:
            out, conf = mirror(out, conf)
        return out, conf

    @staticmethod
    def _metres_per_unit(out: np.ndarray, present: np.ndarray) -> float:
        torso_ok = present[:, _BASE] & present[:, _TOP]
        if torso_ok.any():
            torso = np.linalg.norm(out[torso_ok, _TOP, :2] - out[torso_ok, _BASE, :2], axis=-1)
            length = float(np.median(torso))
            if length > 1e-6:
                return TORSO_M / length
        heights = [np.ptp(out[t, present[t], 1]) for t in range(len(out)) if present[t].sum() >= 2]
        height = float(np.median(heights)) if heights else 0.0
        return HEIGHT_M / height if height > 1e-6 else 1.0
