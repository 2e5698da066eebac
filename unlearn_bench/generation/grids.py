"""Sample grids as PNG (SalUn Fig. 3/4 style): a table of generated images with labelled rows and columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def save_image_table(cells: np.ndarray, row_labels: list[str], col_labels: list[str] | None, path: str | Path,
                     title: str = "") -> Path:
    """Save ``cells`` (R x K x C x H x W uint8: R rows of K images) as one PNG with a label per row and, when
    given, per column. Grey (C = 1) images are shown in grey, C = 3 as RGB."""
    cells = np.asarray(cells)
    if cells.ndim != 5 or cells.shape[2] not in (1, 3):
        raise ValueError(f"cells must be R x K x C x H x W with C in (1, 3); got shape {cells.shape}")
    rows, cols = cells.shape[:2]
    if len(row_labels) != rows or (col_labels is not None and len(col_labels) != cols):
        raise ValueError(f"{rows} x {cols} cells but {len(row_labels)} row labels and "
                         f"{None if col_labels is None else len(col_labels)} column labels")
    import matplotlib  # lazy: keeps the command line's start fast

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(rows, cols, figsize=(0.8 * cols + 1.6, 0.8 * rows + 0.6), squeeze=False)
    for r in range(rows):
        for k in range(cols):
            ax = axes[r, k]
            image = cells[r, k].transpose(1, 2, 0)
            ax.imshow(image[..., 0] if image.shape[2] == 1 else image, cmap="gray", vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
            if k == 0:
                ax.set_ylabel(row_labels[r], rotation=0, ha="right", va="center", fontsize=8)
            if r == 0 and col_labels is not None:
                ax.set_title(col_labels[k], fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
