"""The ablation's three plots (matplotlib, Agg backend)."""

import math

import numpy as np

from .report import finished_runs
from .variants import RECIPE, VARIANTS


def _pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def _save_png(fig, path):
    """Writes `fig` to `path` as PNG, atomically, and closes it."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    from vitgan_tf.training.callbacks import atomic_write  # noqa: PLC0415

    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"), suffix=".png")
    plt.close(fig)


LINESTYLES = ("-", "--", ":", "-.")


def _color(plt, variant):
    """The colour of `variant` in every plot."""
    return plt.get_cmap("tab10")(list(VARIANTS).index(variant) % 10)


def _style(plt, results, record):
    """Line style of a run (its line is labelled `variant/seedN`): colour per variant, dash per seed."""
    seeds = sorted({r["seed"] for r in results["runs"].values()})
    return {"color": _color(plt, record["variant"]),
            "linestyle": LINESTYLES[seeds.index(record["seed"]) % len(LINESTYLES)]}


def _run_legend(plt, fig, results, extra=()):
    """One figure legend right of the axes: a colour per variant, a dash per seed, then `extra`."""
    from matplotlib.lines import Line2D  # noqa: PLC0415

    runs = [r for r in results["runs"].values() if r.get("curve") or r.get("losses")]
    variants = list(dict.fromkeys(r["variant"] for r in runs))
    seeds = sorted({r["seed"] for r in results["runs"].values()})
    handles = [Line2D([], [], color=_color(plt, v), label=v) for v in variants]
    handles += [Line2D([], [], color="gray", linestyle=LINESTYLES[i % len(LINESTYLES)], label=f"seed {s}")
                for i, s in enumerate(seeds) if any(r["seed"] == s for r in runs)]
    handles += list(extra)
    if handles:
        fig.legend(handles=handles, loc="center right", fontsize="small")


def plot(results, path):
    """kid_vs_time.png: KID x1000 against training minutes and images seen, one line per run."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), dpi=120, sharey=True)
    for key, r in results["runs"].items():
        curve = r.get("curve") or []
        for ax, x in zip(axes, ("train_minutes", "images_seen")):
            if curve:
                ax.plot([p[x] for p in curve], [p["kid_x1000"] for p in curve], marker="o",
                        markersize=3, label=key, **_style(plt, results, r))
    axes[0].set_xlabel("training minutes (evaluation excluded)")
    axes[1].set_xlabel("images seen")
    axes[1].xaxis.set_major_formatter(plt.FuncFormatter(lambda x, _: f"{x / 1000:g}k"))
    axes[0].set_ylabel("KID x1000")
    for ax in axes:
        ax.grid(alpha=0.3)
    _run_legend(plt, fig, results)
    s = results["settings"]
    fig.suptitle(f"ViTGAN ablation, {RECIPE}, EMA generator: KID on {s['curve_samples']} "
                 f"(last point {s['kid_samples']}) generated images")
    fig.tight_layout(rect=(0, 0, 0.84, 1))
    _save_png(fig, path)


def plot_discriminator(results, path):
    """d_vs_time.png: D's loss and Lipschitz estimate against training minutes, one line per run."""
    plt = _pyplot()
    fig, (loss_ax, lip_ax) = plt.subplots(1, 2, figsize=(13, 4.5), dpi=120)
    for key, r in results["runs"].items():
        style = _style(plt, results, r)
        losses = [p for p in r.get("losses") or [] if "d_loss" in p]
        if losses:
            loss_ax.plot([p["train_minutes"] for p in losses], [p["d_loss"] for p in losses],
                         label=key, **style)
        lipschitz = r.get("lipschitz") or []
        if lipschitz:
            lip_ax.plot([p["train_minutes"] for p in lipschitz], [p["lipschitz"] for p in lipschitz],
                        label=key, **style)
    chance = loss_ax.axhline(2.0 * math.log(2.0), color="black", linestyle="--", linewidth=0.8,
                             label="log 4 (D at chance)")
    loss_ax.set_ylabel("D loss (mean over each logging interval)")
    lip_ax.set_ylabel("D's largest Jacobian norm (16 real images)")
    lip_ax.set_yscale("log")
    for ax in (loss_ax, lip_ax):
        ax.set_xlabel("training minutes (evaluation excluded)")
        ax.grid(alpha=0.3)
    _run_legend(plt, fig, results, extra=[chance])
    fig.suptitle(f"ViTGAN ablation, {RECIPE}: the discriminator over training")
    fig.tight_layout(rect=(0, 0, 0.84, 1))
    _save_png(fig, path)


def plot_kid_by_variant(results, path):
    """kid_by_variant.png: mean final KID x1000 +- std per variant (best first), seeds as dots."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=120)
    done = finished_runs(results)
    names = [n for n, v in results["summary"].items() if v["n"]]
    for x, name in enumerate(names):
        stats = results["summary"][name]["kid_x1000"]
        color = _color(plt, name)
        values = [r["final"]["kid_x1000"] for r in done.values() if r["variant"] == name]
        offsets = np.linspace(-0.15, 0.15, len(values)) if len(values) > 1 else [0.0]
        ax.scatter(x + np.asarray(offsets) + 0.25, values, s=16, color=color, alpha=0.6,
                   label="one seed" if x == 0 else None)
        ax.errorbar([x], [stats["mean"]], yerr=[[stats["std"] or 0.0], [stats["std"] or 0.0]],
                    fmt="o", markersize=7, capsize=6, color=color,
                    label="mean +- std over seeds" if x == 0 else None)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([f"{n}\n({results['summary'][n]['n']} seeds)" for n in names], fontsize="small")
    ax.set_ylabel("final KID x1000")
    ax.grid(alpha=0.3, axis="y")
    if names:
        ax.legend(fontsize="small")
    s = results["settings"]
    fig.suptitle(f"ViTGAN ablation, {RECIPE}: final KID x1000 ({s['kid_samples']} samples), "
                 f"{s['minutes']:g} training minutes per run")
    fig.tight_layout()
    _save_png(fig, path)
