"""``l1ad robustness``: jet taggers trained on the nominal domain, measured on both (and ``l1ad train -c TAGGER``)."""

from __future__ import annotations

from l1ad.cli.common import SIZES


def add_parsers(sub) -> None:
    text = ("train the robustness config's jet taggers (supervised and contrastive) on the nominal domain and measure "
            "them on both domains: rejection, AUC, accuracy and their drop")
    robustness = sub.add_parser("robustness", help=text, description=text)
    robustness.add_argument("-c", "--config", default="robustness",
                            help="shipped robustness config (robustness, robustness_tiny) or path to a YAML one "
                                 "(default: %(default)s)")
    robustness.add_argument("-o", "--output", default=None,
                            help="output directory (overrides the config's output_dir, default runs/jets)")
    robustness.add_argument("--size", default=None, choices=SIZES, help="size of the jets dataset (overrides the config's)")
    robustness.add_argument("--tracking-uri", default=None,
                            help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else a SQLite store in the output "
                                 "directory)")
    robustness.set_defaults(handler=run)


def run(args) -> int:
    from l1ad.cli.common import execution
    from l1ad.config.robustness import load_robustness_config
    from l1ad.pipeline.robustness import jets_context, robustness

    config = load_robustness_config(args.config)
    update = {k: v for k, v in (("output_dir", args.output), ("size", args.size)) if v is not None}
    config = config.model_copy(update=update)
    ctx = jets_context(config.output_dir, seed=config.seed, name=config.name, tracking=args.tracking_uri,
                       execution=execution(args))
    robustness(ctx, config)
    return 0


def train(args) -> int:
    """``l1ad train -c TAGGER``: one tagger on the jets dataset of the output directory (default runs/jets)."""
    from l1ad.config.robustness import load_tagger_config
    from l1ad.pipeline.robustness import jets_context, open_jets, train_tagger

    config = load_tagger_config(args.config)
    ctx = jets_context(args.output or "runs/jets", name="taggers", tracking=args.tracking_uri)
    train_tagger(ctx, open_jets(ctx, args.size or "default", generate=False), config)
    return 0
