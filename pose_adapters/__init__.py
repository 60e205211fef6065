"""Joint-layout adapters onto the project's NTU-25 convention (numpy only).

See :mod:`pose_adapters.convention` for the convention itself.
"""
from .convention import BONES, JOINT_INDEX, JOINT_NAMES, MIRROR_PERMUTATION, NUM_JOINTS, SYNTHESISED
from .kinect import KINECT_V1, KINECT_V2
from .normalize import normalize
from .registry import get_adapter, list_adapters, register
from .table import AdapterError, LayoutAdapter, mirror

__all__ = [
    "BONES", "JOINT_INDEX", "JOINT_NAMES", "MIRROR_PERMUTATION", "NUM_JOINTS", "SYNTHESISED",
    "KINECT_V1", "KINECT_V2", "normalize", "get_adapter", "list_adapters", "register",
    "AdapterError", "LayoutAdapter", "mirror",
]
