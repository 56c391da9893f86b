"""``l1ad data generate | inspect``: make a standard or configured dataset, or check and summarise one."""

from __future__ import annotations

from l1ad.cli.common import add_run_arguments, execution, run_context


def add_parsers(sub) -> None:
    data = sub.add_parser("data", help="generate or inspect datasets", description="generate or inspect datasets")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    text = "generate the config's (or a standard) dataset with Pythia 8 and the L1 emulation; cached by config digest"
    gen = data_sub.add_parser("generate", help=text, description=text)
    add_run_arguments(gen, generates=True)
    gen.add_argument("--force", action="store_true", help="regenerate even if a matching dataset exists")
    gen.set_defaults(handler=generate)
    text = "check and summarise a dataset directory, one of our HDF5 files, or a public ADC2021 file"
    inspect = data_sub.add_parser("inspect", help=text, description=text)
    inspect.add_argument("path", help="dataset directory, one of our HDF5 files, or a public ADC2021 file")
    inspect.set_defaults(handler=inspect_path)


def generate(args) -> int:
    from l1ad.config import JetsDatasetDefinition, dataset_definition, load_config
    from l1ad.pipeline import stages
    from l1ad.pipeline.context import RunContext

    definition = dataset_definition(args.dataset) if args.dataset else None
    if isinstance(definition, JetsDatasetDefinition):
        ctx = RunContext.create(load_config(args.config, output_dir=args.output), tracking=args.tracking_uri,
                                execution=execution(args))
        stages.generate_jets(ctx, definition.resolve(args.size or "default"), force=args.force)
    else:
        stages.generate_data(run_context(args), force=args.force)
    return 0


def inspect_path(args) -> int:
    import numpy as np

    from l1ad.benchmark.datasets.dataset import Dataset, load_dataset

    loaded = load_dataset(args.path)
    if isinstance(loaded, Dataset) and loaded.manifest.kind == "jets":
        from l1ad.benchmark.datasets.jets import load_jets
        from l1ad.benchmark.jets import JET_CLASSES

        print(f"dataset {loaded.name} v{loaded.version} ({loaded.digest}), {loaded.manifest.generator}")
        for name, info in loaded.manifest.samples.items():
            jets = load_jets(loaded.directory / info.file)
            counts = np.bincount(jets.labels, minlength=len(JET_CLASSES))
            print(f"{name:<28} {jets.constituents.shape}  "
                  + " ".join(f"{c}:{n}" for c, n in zip(JET_CLASSES, counts, strict=True)))
        return 0
    if isinstance(loaded, Dataset):
        print(f"dataset {loaded.name} v{loaded.version} ({loaded.digest}), {loaded.manifest.generator}")
        samples = [loaded.sample(name) for name in loaded.manifest.samples]
    else:
        samples = [loaded]
    _print_samples(samples)
    if isinstance(loaded, Dataset) and loaded.zero_bias:
        _print_menu(loaded.background("test"))
    return 0


def _print_samples(samples) -> None:
    print(f"{'sample':<22}{'events':>9}{'<MET>':>8}{'<n e/g>':>9}{'<n mu>':>8}{'<n jet>':>9}  regions")
    for sample in samples:
        p = sample.particles
        present = p[:, :, 0] > 0
        print(f"{sample.name:<22}{len(sample):>9}{p[:, 0, 0].mean():>8.1f}{present[:, 1:5].sum(1).mean():>9.2f}"
              f"{present[:, 5:9].sum(1).mean():>8.2f}{present[:, 9:].sum(1).mean():>9.2f}  "
              f"{'yes' if sample.regions is not None else 'no'}")


def _print_menu(background) -> None:
    """Rates of the reference L1 menu on the zero-bias test background (this emulation's objects)."""
    from l1ad.benchmark.evaluation.metrics import DEFAULT_COLLISION_RATE_MHZ
    from l1ad.benchmark.trigger.menu import menu_rates
    from l1ad.config.menu import MenuConfig

    rates = menu_rates(background.particles, MenuConfig(), DEFAULT_COLLISION_RATE_MHZ)
    print(f"\nreference L1 menu on {background.name} ({len(background)} zero-bias crossings, "
          f"{DEFAULT_COLLISION_RATE_MHZ:g} MHz; measured, 68 % Clopper-Pearson):")
    for r in rates:
        print(f"  {r.seed:<22}{r.n_accepted:>8} events  {r.rate_khz:>9.2f} kHz  "
              f"[{r.rate_interval_khz[0]:.2f}, {r.rate_interval_khz[1]:.2f}]")
