"""Where a training run stands: what ``Trainer.save`` writes into a checkpoint and ``Trainer.restore`` reads back."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields


@dataclass
class RunState:
    """epoch: the last completed epoch (1-based; 0 before the first). steps: optimizer steps and
    train_seconds: wall-clock seconds of the training epochs, both summed over resumed runs.
    devices: every device the run trained on. best: {"metric", "value", "epoch"} of the best
    validation so far, or None. Each field is a checkpoint entry of the same name."""

    epoch: int = 0
    steps: int = 0
    train_seconds: float = 0.0
    devices: list[str] = field(default_factory=list)
    best: dict | None = None

    def record(self) -> dict:
        """The checkpoint entries."""
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict) -> RunState:
        """The state in a checkpoint's entries; entries an older run did not write keep their defaults."""
        return cls(**{f.name: record[f.name] for f in fields(cls) if f.name in record})


RUN_STATE_KEYS = tuple(f.name for f in fields(RunState))
