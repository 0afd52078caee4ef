"""A non-editable install into a fresh virtual environment carries the shipped checkpoint."""

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_packaged_checkpoint_is_found_after_a_non_editable_install(tmp_path):
    src = tmp_path / "src"  # a clean copy: no build/ left over from an earlier build
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in ("alphazero", "checkpoints"):  # alphazero/data/best.pt links into checkpoints
        shutil.copytree(ROOT / name, src / name, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    # The running interpreter's torch and friends are reused, whether it is a virtual
    # environment or the system Python: its package folders are listed after the new
    # environment's own (plain paths, so its editable install of this checkout stays out).
    inner = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                           check=True, capture_output=True, text=True).stdout.strip()
    outer = [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages")]
    (Path(inner) / "outer-packages.pth").write_text("\n".join(outer) + "\n")
    subprocess.run([py, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    str(src)], check=True, capture_output=True, cwd=tmp_path)
    where = subprocess.run(
        [py, "-c", "import alphazero, alphazero.nn.checkpoint as c; "
                   "print(alphazero.__file__); print(c.default_path())"],
        check=True, capture_output=True, text=True, cwd=tmp_path).stdout.split()
    assert str(env_dir) in where[0], where  # the installed copy, not this checkout
    assert where[1] != "None" and str(env_dir) in where[1] and Path(where[1]).stat().st_size > 1e5
    proc = subprocess.run([env_dir / "bin" / "alphazero", "evaluate", "--positions", "--limit",
                           "12", "--sims", "2", "--quiet"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "mcts (" in proc.stdout and "best.pt" in proc.stdout
