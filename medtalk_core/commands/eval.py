"""`medtalk eval`: MLE / MEE / EIE / FRD of a checkpoint on a held-out split, the embedding
picture and swap check, and optionally the paper's Table 3 ablations."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from medtalk_core.commands.model_flags import add_backbone_flag, config_choice, flag_overrides

NAME = "eval"
HELP = "evaluate a checkpoint (MLE, MEE, EIE, FRD), the embedding plot, the swap check, and --ablations"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", default=None,
                        help="checkpoint folder or shipped:NAME (default: the shipped default model)")
    parser.add_argument("--data", required=True, help="EmoFace-layout dataset folder")
    parser.add_argument("--split", default="test", help="manifest split to evaluate (default test; 'all' = every clip)")
    parser.add_argument("--json", default=None, help="write the report as JSON to this file")
    parser.add_argument("--figure", default=None,
                        help="PNG of the content/emotion embeddings (paper Fig. 5); default eval_embeddings.png beside --json")
    parser.add_argument("--audio-only", action="store_true",
                        help="ignore transcripts: intensity from the audio-only head")
    parser.add_argument("--ablations", action="store_true",
                        help="also train and evaluate the Table 3 variants with the same budget (slow)")
    parser.add_argument("--recipe", default=None,
                        help="training recipe for --ablations (default: the one recorded in the checkpoint)")
    parser.add_argument("--ablation-out", default="runs/ablations",
                        help="folder for the ablation runs (finished variants there are reused)")
    parser.add_argument("--epochs-scale", type=float, default=1.0,
                        help="multiply every epoch count of the ablation recipe (same for all variants)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--config", metavar="YAML", help="daemon/bake config whose backbones section applies "
                        "(e.g. configs/paper.yaml); --backbone flags win over it")
    add_backbone_flag(parser)


def _table(title: str, rows: list[tuple[str, object]], paper: dict | None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("model")
    for name in ("MLE", "MEE", "EIE", "FRD"):
        table.add_column(name, justify="right")
    if paper:
        for name in ("MLE", "MEE", "EIE", "FRD"):
            table.add_column(f"paper {name}", justify="right", style="dim")
    for label, m in rows:
        cells = [f"{getattr(m, k):.5f}" for k in ("MLE", "MEE", "EIE", "FRD")]
        if paper:
            cells += [f"{v:.5f}" for v in paper.get(label, ("",) * 4)] if label in paper else [""] * 4
        table.add_row(label, *cells)
    console = Console()
    if not console.is_terminal:  # a log file or pipe: wide enough that no number is cut
        console = Console(width=160)
    console.print(table)


def run(args: argparse.Namespace) -> int:
    from medtalk_core import evaluate
    from medtalk_core.errors import MedtalkError
    from medtalk_core.inference import DEFAULT_MODEL_DIR

    if args.epochs_scale <= 0:
        raise MedtalkError("--epochs-scale must be positive")
    if (args.recipe or args.epochs_scale != 1.0) and not args.ablations:
        raise MedtalkError("--recipe and --epochs-scale only apply with --ablations")
    ckpt = args.checkpoint or DEFAULT_MODEL_DIR  # a folder, or shipped:NAME
    split = None if args.split == "all" else args.split
    figure = Path(args.figure) if args.figure else (Path(args.json).with_name("eval_embeddings.png") if args.json
                                                     else Path("eval_embeddings.png"))
    section = config_choice(args).backbones
    report, _, clips = evaluate.evaluate_checkpoint(ckpt, args.data, split, audio_only=args.audio_only, figure=figure,
                                                    backbones=flag_overrides(args, section))
    _table(f"{ckpt} on {args.data} ({args.split}, {report.metrics.clips} clips)", [("checkpoint", report.metrics)], None)
    s = report.swap
    print(f"swap check (Fig. 6, {s['pairs']} pairs): upper-face change {s['upper_face_change']:.5f}, "
          f"lip change {s['lip_change']:.5f} (ratio {s['ratio']:.1f})")
    e = report.embedding
    print(f"embeddings (Fig. 5) -> {report.figure}: nearest-centroid emotion accuracy, emotion space "
          f"{e['emotion_emotion_accuracy']:.2f}, content space {e['content_emotion_accuracy']:.2f} (chance ~{1 / 7:.2f})")
    if args.ablations:
        from medtalk_core.ablations import run_ablations, scale_epochs
        from medtalk_core.train import load_recipe

        recipe = load_recipe(args.recipe) if args.recipe else evaluate.recipe_of(ckpt)
        recipe = scale_epochs(recipe, args.epochs_scale)
        report.ablations = run_ablations(recipe, args.ablation_out, clips, show_progress=not args.no_progress)
        _table("Table 3 ablations (ours, same budget) beside the paper's", list(report.ablations.items()),
               evaluate.PAPER_TABLE3)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report.as_dict(), indent=1), encoding="utf-8")
        print(f"wrote {args.json}")
    return 0
