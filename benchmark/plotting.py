"""Matplotlib with the mplhep (CMS) style and a non-interactive backend, for every plot the suite writes."""

from __future__ import annotations


def hep_pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep

    plt.style.use(mplhep.style.CMS)
    return plt, mplhep
