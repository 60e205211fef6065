"""Readers for skeleton files; every reader returns skeletons in the project convention."""
from .errors import SkeletonFileError
from .nwucla import NWUCLA_ACTIONS, NwuclaClip, parse_nwucla_name, read_nwucla

__all__ = ["SkeletonFileError", "NWUCLA_ACTIONS", "NwuclaClip", "parse_nwucla_name", "read_nwucla"]
