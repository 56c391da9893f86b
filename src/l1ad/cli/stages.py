"""``l1ad train | evaluate | firmware | faults | leaderboard | run``: one pipeline stage each (``run``: all of them).

A stage run alone reads the earlier stages' outputs from the output directory.
"""

from __future__ import annotations

from l1ad.cli.common import add_run_arguments, run_context

COMMANDS = {
    "train": "train the config's model on the dataset's background (-c TAGGER: a jet tagger of the jets dataset)",
    "evaluate": "score the test samples; efficiencies at fixed trigger rates, ROC AUC, plots",
    "firmware": "hls4ml project, bit-exact emulator, open-source RTL synthesis; 'firmware report': the table",
    "faults": "single-bit fault campaign on the firmware network: rate blow-up, efficiency loss, sensitivity maps",
    "leaderboard": "add this run's result to the leaderboard (JSON + Markdown)",
    "run": "the whole chain: data, train, evaluate, firmware, leaderboard",
}


def add_parsers(sub) -> None:
    for name, text in COMMANDS.items():
        stage = sub.add_parser(name, help=text, description=text)
        add_run_arguments(stage, generates=name in ("run", "faults"))
        if name == "evaluate":
            stage.add_argument("--other-dataset", action="store_true",
                               help="evaluate a model trained on another dataset (the result stays off the leaderboard)")
        if name == "firmware":
            stage.add_argument("action", nargs="?", choices=["report"],
                               help="report: latency, resources and bit-exactness of the model (or --bench models)")
            stage.add_argument("--bench", action="store_true", help="with 'report': every bench model of the config")
        if name == "faults":
            stage.add_argument("--campaign", choices=["exhaustive", "sampled"], default=None,
                               help="every weight and bias bit, or a sample sized by the config's faults.margin "
                                    "(default: the config's faults.campaign)")
            stage.add_argument("--models", default=None,
                               help="comma-separated bench models of the config or models trained into the output "
                                    "directory, such as distilled students (default: the config's model)")
        if name in ("evaluate", "firmware", "leaderboard"):
            stage.add_argument("--model", default=None, metavar="LABEL",
                               help="a model trained into the output directory instead of the config's (a bench "
                                    "model, or a student of 'l1ad distill')")
        if name in ("leaderboard", "run"):
            stage.add_argument("--board", default=None, help="leaderboard directory (default: the config's, 'leaderboards')")
        stage.set_defaults(handler=run)


def run(args) -> int:
    from l1ad.config.robustness import is_tagger_config
    from l1ad.errors import ConfigError
    from l1ad.pipeline import stages

    if args.command == "train" and is_tagger_config(args.config):
        from l1ad.cli import robustness

        return robustness.train(args)
    ctx = run_context(args)
    if getattr(args, "model", None):
        ctx = stages.trained_model_context(ctx, args.model)
    if args.command == "train":
        stages.train(ctx, stages.open_dataset(ctx))
    elif args.command == "evaluate":
        stages.evaluate(ctx, stages.open_dataset(ctx), stages.open_detector(ctx), other_dataset=args.other_dataset)
    elif args.command == "firmware" and args.action == "report":
        print(stages.firmware_summary(ctx, bench=args.bench).read_text(), end="")
    elif args.command == "firmware":
        if args.bench:
            raise ConfigError("--bench goes with 'l1ad firmware report' (run 'l1ad bench --firmware' to build them)")
        stages.firmware(ctx, stages.open_detector(ctx), stages.open_evaluation(ctx))
    elif args.command == "faults":
        models = [m for m in args.models.split(",") if m] if args.models else None
        stages.faults(ctx, campaign=args.campaign, models=models)
    elif args.command == "leaderboard":
        stages.leaderboard(ctx, stages.open_metrics(ctx), stages.open_firmware_report(ctx), args.board)
    else:
        stages.run_all(ctx, board_dir=args.board)
    return 0
