"""The `get_metadata` activity: what is at a path of a `local` connection (Azure Data Factory's Get Metadata).

A missing path is not an error: the output says `exists: false`, so an `if` activity can branch on it.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from lockgate.model.activities import GetMetadataActivity
from lockgate.services.activities.context import ActivityContext
from lockgate.services.activities.datasets import local_folder, relative_path


def run_get_metadata_activity(activity: GetMetadataActivity, context: ActivityContext) -> dict[str, Any]:
    root = local_folder(context, activity.connection, "connection", role="a get_metadata activity")
    relative = relative_path(context, activity.path, "path")
    target = root / relative
    name = target.name if relative else root.name
    try:
        info = target.stat()
    except FileNotFoundError:
        return _item(name, exists=False)
    if not target.is_dir():
        return _item(name, exists=True, item_type="File", size=info.st_size, modified=info.st_mtime)
    children = [_child_item(entry) for entry in sorted(os.scandir(target), key=lambda entry: entry.name)]
    size = sum(child["size"] for child in children if child["type"] == "File")
    return _item(name, exists=True, item_type="Folder", size=size, modified=info.st_mtime, children=children)


def _item(
    name: str,
    *,
    exists: bool,
    item_type: str | None = None,
    size: int | None = None,
    modified: float | None = None,
    children: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The output: every key is there whatever the path is, so expressions can read any of them."""
    return {
        "exists": exists,
        "itemName": name,
        "itemType": item_type,
        "size": size,
        "lastModified": None if modified is None else _iso_utc(modified),
        "childItems": children or [],
    }


def _child_item(entry: os.DirEntry[str]) -> dict[str, Any]:
    try:
        info = entry.stat()
    except FileNotFoundError:  # a broken symbolic link: describe the link itself
        info = entry.stat(follow_symlinks=False)
    is_folder = entry.is_dir()
    return {
        "name": entry.name,
        "type": "Folder" if is_folder else "File",
        "size": None if is_folder else info.st_size,
        "lastModified": _iso_utc(info.st_mtime),
    }


def _iso_utc(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
