"""The run folder of a pretraining job: config, metrics, checkpoints, resumption.

    OUT/
      run.json                 resolved config, versions, input hashes
      metrics/steps.jsonl      one line per batch trained on
      metrics/epochs.jsonl     one line per epoch (training loss, validation retrieval)
      checkpoints/epoch_0003/  model checkpoint (package format) after epoch 3
      checkpoints/epoch_0003.state.pt   optimiser, schedule and RNG state for --resume
      best/                    checkpoint of the epoch with the best validation score
      final.json               test-fold retrieval of the best checkpoint
      skipped.txt              clips that could not be decoded, with the reason

Every file is written atomically; metrics lines of epochs after the last complete checkpoint
are dropped on resume, so a resumed run's files match an uninterrupted run's.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import torch

from emoclip_clinic.errors import ConfigError
from emoclip_clinic.fileio import atomic_path, write_json_atomic, write_text_atomic
from emoclip_clinic.train.config import RESUMABLE_CHANGES, PretrainConfig

logger = logging.getLogger(__name__)

_EPOCH_DIR = re.compile(r"^epoch_(\d{4})$")


class RunFolder:
    """Paths and bookkeeping of one run folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.metrics = self.root / "metrics"
        self.checkpoints = self.root / "checkpoints"
        self.best = self.root / "best"

    @property
    def run_json(self) -> Path:
        """The resolved configuration and provenance of the run."""
        return self.root / "run.json"

    def epoch_dir(self, epoch: int) -> Path:
        """Checkpoint folder after ``epoch`` (1-based)."""
        return self.checkpoints / f"epoch_{epoch:04d}"

    def state_file(self, epoch: int) -> Path:
        """Trainer state (optimiser, schedule, RNG, best score) after ``epoch``."""
        return self.checkpoints / f"epoch_{epoch:04d}.state.pt"

    def start(self, config: PretrainConfig, provenance: dict[str, Any], resume: bool) -> int:
        """Create or reopen the folder; return the number of epochs already complete.

        Raises:
            ConfigError: the folder holds another run and ``resume`` is false, ``resume`` is
                asked with settings that differ from the stored ones, or the folder holds files
                but no run (``run.json``).
        """
        if self.run_json.is_file():
            if not resume:
                raise ConfigError(
                    f"{self.root} already holds a run; pass --resume to continue it or choose "
                    "another output folder"
                )
            self._check_same_run(config)
        elif self.root.exists() and any(self.root.iterdir()):
            why = ("it is not a run folder to resume" if resume else "a new run would mix its "
                   "files with them: choose a new or empty folder")  # fmt: skip
            raise ConfigError(f"{self.root} holds files but no run.json; {why}")
        elif resume:
            logger.warning("%s: no run to resume there; starting a new run", self.root)
        self.metrics.mkdir(parents=True, exist_ok=True)
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.run_json, {"config": config.to_dict(), **provenance})
        done = self.last_complete_epoch()
        self._truncate_metrics(done)
        return done

    def _check_same_run(self, config: PretrainConfig) -> None:
        stored = json.loads(self.run_json.read_text(encoding="utf-8"))["config"]
        current = config.to_dict()
        changed = sorted(
            key
            for key in set(stored) | set(current)
            if key not in RESUMABLE_CHANGES and stored.get(key) != current.get(key)
        )
        if changed:
            raise ConfigError(
                f"cannot resume {self.root}: settings differ from the stored run "
                f"({', '.join(f'{k}: {stored.get(k)!r} -> {current.get(k)!r}' for k in changed)})"
            )

    def last_complete_epoch(self) -> int:
        """Highest epoch with both a checkpoint folder and a trainer state (0 if none)."""
        epochs = [
            int(m.group(1))
            for p in self.checkpoints.glob("epoch_*")
            if (m := _EPOCH_DIR.match(p.name)) and self.state_file(int(m.group(1))).is_file()
        ]
        return max(epochs, default=0)

    def _truncate_metrics(self, done: int) -> None:
        for name in ("steps.jsonl", "epochs.jsonl"):
            path = self.metrics / name
            if path.is_file():
                keep = [
                    line
                    for line in path.read_text(encoding="utf-8").splitlines()
                    if line and json.loads(line)["epoch"] <= done
                ]
                write_text_atomic(path, "".join(f"{line}\n" for line in keep))

    def append_metrics(self, name: str, record: dict[str, Any]) -> None:
        """Append one JSON line to ``metrics/<name>.jsonl``."""
        with open(self.metrics / f"{name}.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def save_state(self, epoch: int, state: dict[str, Any]) -> None:
        """Write the trainer state of ``epoch`` (tensors and plain values only)."""
        with atomic_path(self.state_file(epoch)) as tmp:
            torch.save(state, tmp)

    def load_state(self, epoch: int) -> dict[str, Any]:
        """Read a trainer state written by :meth:`save_state` (no pickled code)."""
        return torch.load(self.state_file(epoch), map_location="cpu", weights_only=True)

    def record_skipped(self, skipped: dict[str, str]) -> None:
        """Write the clips that could not be decoded, one ``path<TAB>reason`` per line."""
        lines = "".join(f"{path}\t{reason}\n" for path, reason in sorted(skipped.items()))
        write_text_atomic(self.root / "skipped.txt", lines)
