"""A copy of the working tree as git sees it, for fresh-clone and packaging tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.support.node_process import ROOT


def clone_working_tree(dest: Path) -> None:
    """Copy what `git clone` of the working tree would give, with uncommitted changes."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for raw in listed:
        if not raw:
            continue
        rel = raw.decode()
        src = ROOT / rel
        if src.is_dir() and not src.is_symlink():  # a submodule or a stray folder link
            continue
        if not src.exists() and not src.is_symlink():  # deleted in the working tree
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target, follow_symlinks=False)
