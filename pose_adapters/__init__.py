"""Joint-layout adapters onto the project's NTU-25 convention (numpy only).

See :mod:`pose_adapters.convention` for the convention itself.
"""
from .convention import BONES, JOINT_INDEX, JOINT_NAMES, MIRROR_PERMUTATION, NUM_JOINTS, SYNTHESISED
from .bvh import BVH, BVH_CANONICAL, BVH_NAME_TABLE
from .image import ImageLayoutAdapter
from .keypoints2d import COCO17, OPENPOSE_BODY25
from .kinect import KINECT_V1, KINECT_V2
from .mediapipe import MEDIAPIPE_IMAGE, MEDIAPIPE_LANDMARKS, MEDIAPIPE_WORLD
from .normalize import normalize
from .registry import get_adapter, list_adapters, register
from .table import AdapterError, LayoutAdapter, mirror

__all__ = [
    "BONES", "JOINT_INDEX", "JOINT_NAMES", "MIRROR_PERMUTATION", "NUM_JOINTS", "SYNTHESISED",
    "KINECT_V1", "KINECT_V2", "normalize", "get_adapter", "list_adapters", "register",
    "AdapterError", "LayoutAdapter", "mirror",
    "BVH", "BVH_CANONICAL", "BVH_NAME_TABLE", "ImageLayoutAdapter", "COCO17", "OPENPOSE_BODY25",
    "MEDIAPIPE_IMAGE", "MEDIAPIPE_LANDMARKS", "MEDIAPIPE_WORLD",
]
