"""Adapters by name."""
from __future__ import annotations

from .bvh import BVH
from .keypoints2d import COCO17, OPENPOSE_BODY25
from .kinect import KINECT_V1, KINECT_V2, SBU15, UTD_MHAD
from .mediapipe import MEDIAPIPE_IMAGE, MEDIAPIPE_WORLD
from .table import AdapterError, LayoutAdapter

_REGISTRY: dict[str, LayoutAdapter] = {}
_ALIASES = {
    "ntu": "kinect_v2", "nw-ucla": "kinect_v1", "nwucla": "kinect_v1",
    "mediapipe": "mediapipe_world", "coco": "coco17", "openpose": "openpose_body25", "body25": "openpose_body25",
    "utd": "utd_mhad", "utd-mhad": "utd_mhad", "sbu": "sbu15",
}


def register(adapter: LayoutAdapter) -> LayoutAdapter:
    """Add an adapter under its name (replacing one of the same name)."""
    _REGISTRY[adapter.name] = adapter
    return adapter


def list_adapters() -> list[str]:
    return sorted(_REGISTRY)


def get_adapter(name: str) -> LayoutAdapter:
    """The adapter called ``name``; an unknown name raises listing the known ones."""
    key = _ALIASES.get(name.lower(), name.lower())
    try:
        return _REGISTRY[key]
    except KeyError:
        raise AdapterError(f"unknown pose adapter {name!r}; known adapters: {', '.join(list_adapters())}") from None


register(KINECT_V2)
register(KINECT_V1)
for _adapter in (MEDIAPIPE_WORLD, MEDIAPIPE_IMAGE, COCO17, OPENPOSE_BODY25, BVH):
    register(_adapter)
register(UTD_MHAD)
register(SBU15)
