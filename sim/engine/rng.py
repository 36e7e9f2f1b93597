"""Counter-based randomness: every draw is a pure function of (seed, stream, turn, key...).

A world's stream is derived from the batch seed and its run index, so run i draws the same
numbers whether it runs alone or inside a batch of any size, in any chunking. Hashing is
SplitMix64's finaliser applied to uint64 arrays: vectorised over worlds, no shared state.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

_MASK = (1 << 64) - 1
SEEDS = 1 << 64  # seeds are 0 to SEEDS - 1: a larger one would be taken modulo 2**64, another seed's game
RUNS = 1 << 63  # run indices are 0 to RUNS - 1: the engine's state and the batch files keep them as int64
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(x: np.ndarray) -> np.ndarray:
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


@lru_cache(maxsize=4096)
def key(text: str) -> int:
    """A stable 64-bit key for a name (an option id, a purpose)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def _combine(h: np.ndarray, k) -> np.ndarray:
    return _mix(h + _GOLDEN + np.asarray(k, dtype=np.uint64))


def _mix_int(x: int) -> int:
    """SplitMix64's finaliser on a Python int (for the keys, which are the same for every world)."""
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


@lru_cache(maxsize=65536)
def _key_of(keys: tuple) -> np.uint64:
    h = 0
    for k in keys:
        h = _mix_int((h + 0x9E3779B97F4A7C15 + (k & _MASK)) & _MASK)
    return np.uint64(h)


def streams(seed: int, runs: np.ndarray) -> np.ndarray:
    """The stream of each run of a batch with this seed."""
    if not 0 <= seed < SEEDS:
        raise ValueError(f"a seed is a whole number from 0 to 2**64 - 1, not {seed}")
    base = np.full(np.shape(runs), seed & _MASK, dtype=np.uint64)
    return _combine(_mix(base), np.asarray(runs, dtype=np.uint64))


def fork_streams(parent: np.ndarray, turn: int, copies: int) -> np.ndarray:
    """Streams for `copies` rollouts of each parent world, from `turn` on: [parent0 x copies, parent1 x copies, ...]."""
    rep = np.repeat(parent, copies)
    return _combine(_combine(rep, key(f"fork@{turn}")), np.tile(np.arange(copies, dtype=np.uint64), len(parent)))


def _hash(stream: np.ndarray, keys) -> np.ndarray:
    """Hash of (stream, keys): the keys that are numbers first, then those that are arrays
    (one key per world, or per world and column), broadcast against the stream.

    One finaliser per array key, or a single one when all keys are numbers: the stream and the
    combined number key are both already well mixed, so a further round would add only cost."""
    numbers, arrays = [], []
    for k in keys:
        (arrays if isinstance(k, np.ndarray) and k.ndim else numbers).append(k)
    h = stream ^ _key_of(tuple(int(k) for k in numbers))
    if not arrays:
        return _mix(h)
    for k in arrays:
        h = _combine(h, k)
    return h


def uniform(stream: np.ndarray, *keys) -> np.ndarray:
    """Uniform [0, 1) draws, one per element of the (broadcast) stream and keys."""
    bits = (_hash(stream, keys) >> np.uint64(11)).view(np.int64)  # below 2**53: converts faster signed
    return bits.astype(np.float64) * (1.0 / (1 << 53))


def normal(stream: np.ndarray, *keys) -> np.ndarray:
    """Standard normal draws (float32): Box-Muller on two 24-bit uniforms from one hash.

    Single precision makes the logarithm and cosine several times cheaper; 24 bits still reach
    5.9 standard deviations."""
    h = _hash(stream, keys)
    scale = np.float32(1.0 / (1 << 24))
    u1 = (h >> np.uint64(40)).astype(np.float32)
    u1 += np.float32(0.5)
    u1 *= scale
    u2 = ((h >> np.uint64(16)) & np.uint64(0xFFFFFF)).astype(np.float32)
    u2 *= np.float32(2.0 * np.pi) * scale
    np.log(u1, out=u1)
    u1 *= np.float32(-2.0)
    np.sqrt(u1, out=u1)
    np.cos(u2, out=u2)
    u1 *= u2
    return u1
