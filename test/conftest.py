"""Shared fixtures: the reference data of ../shared/reference, when it is there."""
import os
from pathlib import Path

import pytest

REFERENCE_DIR = Path(os.environ.get("PSMNET_REFERENCE_DIR",
                                    Path(__file__).resolve().parents[1].parent / "shared" / "reference"))


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """../shared/reference (official-format checkpoints and official outputs); skip when absent."""
    if not (REFERENCE_DIR / "cases.pt").is_file():
        pytest.skip(f"reference data not found at {REFERENCE_DIR} (../shared/reference sits beside the "
                    "repository in development and CI only)")
    return REFERENCE_DIR


@pytest.fixture(scope="session")
def reference_cases(reference_dir):
    import torch
    return torch.load(reference_dir / "cases.pt", weights_only=True)
