"""Shared test setup: make ``ansible_collections.mosaic.fleet`` importable from the checkout."""

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_DEV = os.path.join(REPO, ".cache", "collections")
_LINK = os.path.join(_DEV, "ansible_collections", "mosaic", "fleet")
if not os.path.exists(_LINK):
    os.makedirs(os.path.dirname(_LINK), exist_ok=True)
    os.symlink(REPO, _LINK)
if _DEV not in sys.path:
    sys.path.insert(0, _DEV)
