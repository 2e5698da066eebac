"""Sample grids: one labelled image table per PNG, shapes checked."""

import numpy as np
import pytest
from matplotlib.image import imread

from unlearn_bench.generation.grids import save_image_table


def test_image_table_is_written_with_one_cell_per_image(tmp_path):
    cells = np.zeros((2, 3, 1, 8, 8), dtype=np.uint8)
    cells[1] = 255  # second row white
    path = save_image_table(cells, ["zero", "one"], ["a", "b", "c"], tmp_path / "grid.png", "title")
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 50 and image.shape[1] > 50
    rgb = save_image_table(np.zeros((1, 2, 3, 4, 4), dtype=np.uint8), ["rgb"], None, tmp_path / "rgb.png")
    assert rgb.exists()


@pytest.mark.parametrize("cells,rows,cols,match", [
    (np.zeros((2, 3, 2, 8, 8), dtype=np.uint8), ["a", "b"], None, "C in"),
    (np.zeros((2, 3, 1, 8, 8), dtype=np.uint8), ["a"], None, "row labels"),
    (np.zeros((2, 3, 1, 8, 8), dtype=np.uint8), ["a", "b"], ["x"], "column labels"),
])
def test_image_table_rejects_mismatched_shapes(tmp_path, cells, rows, cols, match):
    with pytest.raises(ValueError, match=match):
        save_image_table(cells, rows, cols, tmp_path / "bad.png")
