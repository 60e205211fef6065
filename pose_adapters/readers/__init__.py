"""Readers for skeleton files; every reader returns skeletons in the project convention."""
from .bvh import (BvhMotion, bvh_to_ntu, parse_cmu_name, read_bvh, read_bvh_skeleton, read_cmu_bvh, starts_with_tpose,
                  write_bvh)
from .errors import SkeletonFileError
from .ntu import NtuBody, NtuSkeleton, parse_ntu_name, read_ntu_skeleton, write_ntu_skeleton
from .nwucla import NWUCLA_ACTIONS, NwuclaClip, parse_nwucla_name, read_nwucla, write_nwucla
from .pkummd import PkuClip, read_pkummd, write_pkummd
from .sbu import SBU_ACTIONS, SbuClip, parse_sbu_path, read_sbu
from .utd import UTD_ACTIONS, UtdClip, parse_utd_name, read_utd

__all__ = [
    "SkeletonFileError", "NWUCLA_ACTIONS", "NwuclaClip", "parse_nwucla_name", "read_nwucla", "write_nwucla",
    "NtuBody", "NtuSkeleton", "parse_ntu_name", "read_ntu_skeleton", "write_ntu_skeleton",
    "PkuClip", "read_pkummd", "write_pkummd",
    "BvhMotion", "bvh_to_ntu", "read_bvh", "read_bvh_skeleton", "write_bvh",
    "parse_cmu_name", "read_cmu_bvh", "starts_with_tpose",
    "UTD_ACTIONS", "UtdClip", "parse_utd_name", "read_utd",
    "SBU_ACTIONS", "SbuClip", "parse_sbu_path", "read_sbu",
]
