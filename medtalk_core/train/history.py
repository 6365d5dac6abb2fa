"""Per-epoch loss log of one training stage: a CSV that grows row by row and a PNG of the curves."""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

CSV_COLUMNS = ("epoch", "phase", "lr", "train_loss", "val_loss", "seconds")


@dataclass
class EpochRecord:
    epoch: int  # global epoch within the stage, from 1
    phase: str  # cross_recon phase (self, overlap_emotion, ...) or the stage name
    lr: float
    train_loss: float
    val_loss: float | None
    seconds: float  # wall time of the epoch


@dataclass
class LossHistory:
    """Records of one stage; `write(folder)` rewrites loss.csv and loss.png from them."""

    stage: str
    records: list[EpochRecord] = field(default_factory=list)

    def add(self, record: EpochRecord) -> None:
        self.records.append(record)

    def as_rows(self) -> list[dict]:
        return [
            {"epoch": r.epoch, "phase": r.phase, "lr": r.lr, "train_loss": r.train_loss,
             "val_loss": "" if r.val_loss is None else r.val_loss, "seconds": r.seconds}
            for r in self.records
        ]

    @classmethod
    def from_rows(cls, stage: str, rows: list[dict]) -> "LossHistory":
        records = [
            EpochRecord(int(r["epoch"]), str(r["phase"]), float(r["lr"]), float(r["train_loss"]),
                        None if r["val_loss"] in ("", None) else float(r["val_loss"]), float(r["seconds"]))
            for r in rows
        ]
        return cls(stage, records)

    def write(self, folder: Path, plot: bool = True) -> tuple[Path, Path]:
        """Rewrite loss.csv, and loss.png when `plot` (drawing costs more than an epoch of a tiny run)."""
        folder.mkdir(parents=True, exist_ok=True)
        csv_path = folder / "loss.csv"
        with csv_path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            writer.writerows(self.as_rows())
        png_path = folder / "loss.png"
        if plot and self.records:
            self._plot(png_path)
        return csv_path, png_path

    def _plot(self, path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")  # files only, never a window
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
        epochs = [r.epoch for r in self.records]
        ax.plot(epochs, [r.train_loss for r in self.records], label="train", marker=".")
        val = [(r.epoch, r.val_loss) for r in self.records if r.val_loss is not None]
        if val:
            ax.plot(*zip(*val), label="validation", marker=".")
        # Shade each cross-reconstruction phase so its effect on the curve is visible.
        start = 0
        for i, r in enumerate(self.records):
            last = i + 1 == len(self.records) or self.records[i + 1].phase != r.phase
            if last:
                if len({x.phase for x in self.records}) > 1:
                    ax.axvspan(self.records[start].epoch - 0.5, r.epoch + 0.5, alpha=0.08 * (1 + len(ax.patches) % 2), color="gray")
                    ax.text((self.records[start].epoch + r.epoch) / 2, 1.0, r.phase, transform=ax.get_xaxis_transform(),
                            ha="center", va="bottom", fontsize=7)
                start = i + 1
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.set_title(f"{self.stage} loss", pad=14)
        ax.legend()
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
