"""Can a dataset pose the paper's questions? What it is (classes, superclasses, images) and three
readings of a trained study that tell: how much the coarse head gains over the fine answer mapped
to its superclass, how uncertain the fine head is, and how often AG-HBN's eq. (8) target says
fine. The first page and Findings set the book's dataset beside the other one with these.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import selection as S
from .study import Study

# Why each dataset is, or is not, the main evidence (the facts that are not computed: where the
# classes and the hierarchy come from).
ABOUT = {
    "tiny-imagenet-100": (
        "Tiny ImageNet 100/20 is shaped like the paper's CIFAR-100, which cannot be obtained on "
        "the machines that build this book: a hundred of Tiny ImageNet's classes (WordNet ids) in "
        "twenty superclasses of five, a hierarchy of ours built like CIFAR-100's (the "
        "[methods](methods.ipynb) page lists it), at 32×32 RGB (Tiny ImageNet's 64×64 images "
        "averaged over 2×2 pixel blocks). The test set is the official validation images of those "
        "classes; validation is a fixed tenth of the training images. It is the main evidence."),
    "fashion-mnist": (
        "Fashion-MNIST's ten classes, in six superclasses of ours, are too few and too easily told "
        "apart to pose the paper's questions, as these readings show. It was this study's first "
        "dataset; the main evidence is the Tiny ImageNet 100/20 book's."),
}


def _signed(x: float) -> str:
    """Points to 2 decimals with a true minus (findings._signed writes 4 for entropy trends)."""
    return f"{x:+.2f}".replace("-", "−")


ROWS = {"fine classes": "{:.0f}".format, "superclasses": "{:.0f}".format,
        "training images": "{:,.0f}".format, "test images": "{:,.0f}".format,
        "coarse head − fine answer mapped to its superclass, exit 1 (points)": _signed,
        "median fine entropy, exit 1 (nats)": "{:.3f}".format,
        "median fine entropy, exit 1, share of its maximum ln(fine classes)": "{:.3f}".format,
        "eq. (8) target: share of test images it says fine (AG-HBN)": lambda x: f"{100 * x:.2f} %"}


def readings(study: Study, seed: int = 0) -> pd.Series:
    """ROWS' values for `study` (Gran-HBN `seed`; AG-HBN's eq. (8) target when that run exists,
    else NaN)."""
    g = study.run("gran-hbn", seed)
    a = g.arrays
    n_fine, n_coarse = len(np.unique(a["fine_true"])), len(np.unique(a["coarse_true"]))
    coarse = (a["coarse_pred"][:, 0] == a["coarse_true"]).mean()
    mapped = (a["fine_pred_coarse"][:, 0] == a["coarse_true"]).mean()
    median = float(np.median(a["fine_entropy"][:, 0]))
    target = np.nan
    if ("ag-hbn", seed) in study.runs:
        ag = study.run("ag-hbn", seed)
        target = float(S.semantic_target(ag.arrays, ag.config.sem_fine_weight).mean())
    values = [n_fine, n_coarse, g.meta.get("train_images", np.nan), len(a["fine_true"]),
              100 * (coarse - mapped), median, median / np.log(n_fine), target]
    return pd.Series(values, index=list(ROWS), name=study.title)


def table(studies: list[Study]) -> pd.DataFrame:
    """One column per study, ROWS formatted; "not trained yet" where a reading has no run."""
    cols = {}
    for s in studies:
        r = readings(s)
        cols[s.title] = [("not trained yet" if np.isnan(v) else ROWS[k](v))
                         for k, v in r.items()]
    return pd.DataFrame(cols, index=pd.Index(list(ROWS), name="reading"))


def about(study: Study, other: Study | None) -> str:
    """A paragraph: what the dataset is, and the readings that say whether it poses the
    paper's questions, beside the other dataset's."""
    r = readings(study)
    text = ABOUT.get(study.dataset, f"{study.title} is not shaped like the paper's CIFAR-100.")
    gain, share = ROWS[r.index[4]](r.iloc[4]), ROWS[r.index[6]](r.iloc[6])
    text += (f" Here, at exit 1, the coarse head's accuracy minus that of the fine answer mapped "
             f"to its superclass is {gain} points, and the median fine entropy is {share} of its "
             f"maximum")
    if other is not None:
        o = readings(other)
        shown = [ROWS[o.index[i]](o.iloc[i]) for i in (4, 6)]
        text += f" ({other.title}: {shown[0]} points and {shown[1]})"
    return text + ". See {numref}`tbl-dataset-shape`."


def other_study(out_dir: str, also: dict) -> Study | None:
    """The first of `also`'s (dataset: profile) studies whose Gran-HBN seed 0 has finished,
    with its AG-HBN seed 0 when that has too; None when none has."""
    from . import runs
    from .config import make_config
    from .study import load_study
    for dataset, profile in also.items():
        done = [m for m in ("gran-hbn", "ag-hbn") if runs.finished_folder(runs.run_dir(
            make_config(profile, model=m, seed=0, dataset=dataset, out_dir=out_dir)))]
        if "gran-hbn" in done:
            return load_study(out_dir, dataset, profile, done, seeds=(0,))
    return None
