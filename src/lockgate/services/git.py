"""Reading a project as it is at a Git commit, and telling whether its working tree has uncommitted changes.

dulwich (pure Python) reads the repository, so no `git` binary is needed. A project may live in a sub-folder of
its repository; only that folder is read.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from dulwich import porcelain
from dulwich.errors import NotGitRepository
from dulwich.object_store import iter_tree_contents
from dulwich.objects import Commit
from dulwich.repo import Repo

from lockgate.errors import NotFoundError, UserInputError


@dataclass(frozen=True, slots=True)
class Revision:
    """A resolved commit."""

    sha: str
    message: str


def repository_root(project_root: Path) -> Path:
    """The Git repository holding the project.

    Raises:
        UserInputError: the project is not in a Git repository.
    """
    for folder in (project_root, *project_root.parents):
        if (folder / ".git").exists():
            return folder
    raise UserInputError(
        f"{project_root} is not in a Git repository",
        hint="run `git init` and commit the project, or leave out --commit",
    )


def resolve_revision(project_root: Path, rev: str) -> Revision:
    """The commit a revision (sha, prefix, branch, tag, HEAD) names.

    Raises:
        NotFoundError: the revision does not exist.
    """
    repo = _open(project_root)
    try:
        commit = _commit(repo, rev)
    finally:
        repo.close()
    return Revision(sha=commit.id.decode("ascii"), message=commit.message.decode("utf-8", "replace").strip())


def head_revision(project_root: Path) -> Revision | None:
    """The commit HEAD points at, or None for a repository without commits (or no repository)."""
    try:
        return resolve_revision(project_root, "HEAD")
    except (UserInputError, NotFoundError):
        return None


@contextmanager
def checkout(project_root: Path, rev: str) -> Iterator[tuple[Path, Revision]]:
    """The project folder as it is at ``rev``, written to a temporary folder that is removed afterwards."""
    repo_root = repository_root(project_root)
    prefix = project_root.resolve().relative_to(repo_root.resolve()).as_posix()
    repo = _open(project_root)
    try:
        commit = _commit(repo, rev)
        with tempfile.TemporaryDirectory(prefix="lockgate-checkout-") as tmp:
            target = Path(tmp)
            for entry in iter_tree_contents(repo.object_store, commit.tree):
                path = entry.path.decode("utf-8")
                if prefix not in ("", ".") and not path.startswith(prefix + "/"):
                    continue
                relative = path if prefix in ("", ".") else path[len(prefix) + 1 :]
                destination = target / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(repo.object_store[entry.sha].as_raw_string())
            yield target, Revision(commit.id.decode("ascii"), commit.message.decode("utf-8", "replace").strip())
    finally:
        repo.close()


def uncommitted_changes(project_root: Path) -> list[str]:
    """Paths below the project, relative to it, that differ from HEAD (staged, unstaged or untracked; ignored
    files excluded)."""
    repo_root = repository_root(project_root)
    prefix = project_root.resolve().relative_to(repo_root.resolve()).as_posix()
    status = porcelain.status(str(repo_root), untracked_files="all")
    paths: set[str] = set()
    for group in status.staged.values():
        paths.update(p.decode() if isinstance(p, bytes) else p for p in group)
    paths.update(p.decode() if isinstance(p, bytes) else p for p in status.unstaged)
    paths.update(p.decode() if isinstance(p, bytes) else p for p in status.untracked)
    if prefix in ("", "."):
        return sorted(p.replace(os.sep, "/") for p in paths)
    return sorted(p.replace(os.sep, "/")[len(prefix) + 1 :] for p in paths if p.startswith(prefix + "/"))


def _open(project_root: Path) -> Repo:
    try:
        return Repo(str(repository_root(project_root)))
    except NotGitRepository as exc:
        raise UserInputError(f"{project_root} is not in a Git repository", hint="run `git init` first") from exc


def _commit(repo: Repo, rev: str) -> Commit:
    candidates = [rev.encode(), b"refs/heads/" + rev.encode(), b"refs/tags/" + rev.encode()]
    for ref in candidates:
        try:
            obj = repo[ref]
        except (KeyError, ValueError):
            continue
        while not isinstance(obj, Commit) and hasattr(obj, "object"):  # annotated tag -> commit
            obj = repo[obj.object[1]]
        if isinstance(obj, Commit):
            return obj
    if len(rev) >= 4 and all(c in "0123456789abcdef" for c in rev.lower()):
        matches = [sha for sha in repo.object_store if sha.decode().startswith(rev.lower())]
        commits = [repo[sha] for sha in matches if isinstance(repo[sha], Commit)]
        if len(commits) == 1:
            return commits[0]  # type: ignore[return-value]
    raise NotFoundError(
        f"Git revision {rev!r} does not exist", hint="give a commit sha, a branch or a tag; see `git log --oneline`"
    )
