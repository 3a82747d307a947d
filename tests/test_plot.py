import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pinnlib import plot
from pinnlib.reference import burgers

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_import_does_not_import_matplotlib():
    code = "import sys, pinnlib.plot; assert 'matplotlib' not in sys.modules"
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)


def test_solution_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.collections import QuadMesh

    x, t = np.linspace(-1, 1, 64), np.linspace(0, 1, 40)
    reference = burgers(x[:, None], t[None, :])
    prediction = reference + 0.01 * np.cos(np.pi * x)[:, None]
    path = tmp_path / "solution.png"
    fig = plot.solution(x, t, prediction, reference, path, title="Burgers")
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert len(fig.axes) == 6  # three panels and their three colorbars
    panels = [ax for ax in fig.axes if ax.get_xlabel()]  # colorbars have no x label
    meshes = [c for ax in panels for c in ax.collections if isinstance(c, QuadMesh)]
    assert len(panels) == 3 and len(meshes) == 3
    err = np.linalg.norm(prediction - reference) / np.linalg.norm(reference)
    assert f"{err:.3e}" in fig.get_suptitle() and "Burgers" in fig.get_suptitle()
    panel = panels[0]
    assert (panel.get_xlabel(), panel.get_ylabel()) == ("x", "t")
    # The first coordinate runs horizontally, the second vertically.
    assert panel.get_xlim()[0] < -0.99 and panel.get_ylim()[1] > 0.99
    np.testing.assert_allclose(
        np.asarray(meshes[2].get_array()).reshape(40, 64),
        np.abs(prediction - reference).T,
    )


def test_solution_flat_values_and_labels(tmp_path):
    pytest.importorskip("matplotlib")
    x, y = np.linspace(0, 1, 5), np.linspace(0, 2, 3)
    values = np.add.outer(x, y) + 1.0  # (5, 3) indexed [x, y]
    fig = plot.solution(x, y, values.ravel(), values, labels=("x", "y"))
    assert fig.axes[0].get_ylabel() == "y"
    assert "0.000e+00" in fig.get_suptitle()
    with pytest.raises(ValueError, match=r"solution\(prediction=\.\.\.\)"):
        plot.solution(x, y, values.T, values)


def test_loss_history_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    steps = np.arange(1, 201)
    history = {"step": steps, "pde": 1 / steps, "bc": 0.1 / steps**2}
    history["total"] = history["pde"] + history["bc"]
    # Entries that are not losses are left out of the plot.
    history.update(
        {"grad_norm": np.ones(200), "lr": np.ones(200), "weight:pde": np.ones(200)}
    )
    path = tmp_path / "history.png"
    fig = plot.loss_history(history, path, title="training")
    assert path.read_bytes()[:8] == PNG_MAGIC
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["pde", "bc", "total"]
    np.testing.assert_array_equal(lines[0].get_xdata(), steps)
    np.testing.assert_allclose(lines[1].get_ydata(), history["bc"])


def test_loss_history_bad_inputs():
    pytest.importorskip("matplotlib")
    with pytest.raises(ValueError, match="equal length"):
        plot.loss_history({"pde": np.ones(3), "bc": np.ones(4)})
    with pytest.raises(ValueError, match="at least one loss term"):
        plot.loss_history({"step": np.arange(3)})
