"""Writing files so that nothing is lost: whole or not at all, under temporary names of our own,
never over a file the caller did not mean to replace; JSON as the project writes it."""
from __future__ import annotations

import errno
import json
import os
import secrets
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .errors import DiskFull

TEMP = ".ladder-part"  # the ending of our temporaries, so we never take another program's for ours
_NO_LINKS = (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK)


@contextmanager
def replacing(path: Path, new: bool = False, sync: bool = False):
    """A file written whole or not at all: under a temporary name of our own (created, never
    reused), then renamed over `path` -- or, with `new`, linked to it, which fails with
    FileExistsError if `path` exists. The temporary never outlives a failure (an interrupt, or a
    full disk, said as DiskFull naming the file). `sync`: on the disk before it takes the name."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}{TEMP}")
    try:
        with open(tmp, "xb") as f:
            yield f
            if sync:
                f.flush()
                os.fsync(f.fileno())
        if new:
            _link(tmp, path)
        else:
            os.replace(tmp, path)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT) and not isinstance(exc, DiskFull):
            raise DiskFull(errno.ENOSPC, "the disk is full", str(path)) from None
        raise
    finally:
        tmp.unlink(missing_ok=True)


def _link(tmp: Path, path: Path) -> None:
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError as exc:  # a file system without hard links: create the file exclusively instead
        if exc.errno not in _NO_LINKS:
            raise
        with open(path, "xb") as f:
            try:
                f.write(tmp.read_bytes())
            except BaseException:
                path.unlink(missing_ok=True)  # ours: made just now
                raise


def atomic_write(path: Path, write) -> None:
    """Write a file whole or not at all with `write(file)` (see `replacing`)."""
    with replacing(path) as f:
        write(f)


def write_file(path: Path, data: bytes, new: bool = False) -> None:
    """`data` written whole, synced, over `path` -- or with `new`, never over an existing file."""
    with replacing(path, new=new, sync=True) as f:
        f.write(data)


def dump_json(data) -> str:
    return json.dumps(data, indent=2, default=_plain) + "\n"


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON: {type(value).__name__}")
