"""``l1ad distill``: train a student on a saved teacher's score, evaluate it as any model, compare it with the teacher."""

from __future__ import annotations

from l1ad.cli.common import add_run_arguments, run_context


def add_parsers(sub) -> None:
    text = "train a small student on a saved teacher's anomaly score; its evaluation shows the efficiency it keeps"
    distill = sub.add_parser("distill", help=text, description=text)
    add_run_arguments(distill)
    distill.add_argument("--teacher", required=True,
                         help="the teacher: a saved model directory, or the label of a model in <output>/models")
    distill.add_argument("--student", required=True,
                         help="shipped student config name (cicada_v1, cicada_v2, dense_student) or path to a YAML "
                              "student config")
    distill.add_argument("--firmware", action="store_true",
                         help="also convert the student (hls4ml agreement, emulator, RTL if the config says)")
    distill.add_argument("--sweep", action="store_true",
                         help="distill every student size of the config's sweep (hidden layers x weight bits) and "
                              "tabulate the efficiency each keeps against its cost in <output>/distill/sweep_<name>")
    distill.set_defaults(handler=run)


def run(args) -> int:
    from l1ad.config.distill import load_student_config
    from l1ad.pipeline import stages
    from l1ad.pipeline.distill import distill, distill_sweep, open_teacher

    config = load_student_config(args.student)  # a bad config fails before anything is read or trained
    ctx = run_context(args)
    teacher, teacher_dir = open_teacher(ctx, args.teacher)
    make = distill_sweep if args.sweep else distill
    make(ctx, stages.open_dataset(ctx), teacher, teacher_dir, config, with_firmware=args.firmware)
    return 0
