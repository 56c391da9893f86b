"""``l1ad config``: print a validated run config with every default filled in."""

from __future__ import annotations


def add_parsers(sub) -> None:
    text = "print a validated run config as YAML, every default filled in"
    cfg = sub.add_parser("config", help=text, description=text)
    cfg.add_argument("-c", "--config", default="default", help="shipped config name or path (default: %(default)s)")
    cfg.set_defaults(handler=run)


def run(args) -> int:
    import yaml

    from l1ad.config import MODELS, load_config

    cfg = load_config(args.config).model_dump()
    for model in (cfg["model"], *cfg["bench"]):
        if MODELS[model["name"]].family != "keras":  # settings of networks mean nothing to a scikit-learn model
            for key in NETWORK_ONLY:
                model.pop(key)
    print(yaml.safe_dump(cfg, sort_keys=False), end="")
    return 0


NETWORK_ONLY = ("encoder_units", "latent_dim", "quantization")
