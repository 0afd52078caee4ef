"""The Dockerfile, checked statically (no Docker engine runs here): hadolint when installed,
and the essentials parsed from the file."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

DOCKERFILE = Path(__file__).resolve().parents[1] / "Dockerfile"


def instructions():
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


@pytest.mark.skipif(shutil.which("hadolint") is None, reason="hadolint not installed")
def test_hadolint_is_clean():
    proc = subprocess.run(["hadolint", str(DOCKERFILE)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_essentials():
    ins = instructions()
    words = [w for w, _ in ins]
    base = next(r for w, r in ins if w == "FROM")
    assert base.startswith("pytorch/pytorch:") and "cuda" in base  # CUDA-enabled PyTorch image
    assert ins[-1] == ("CMD", '["info"]') and ("ENTRYPOINT", '["alphazero"]') in ins
    users = [r for w, r in ins if w == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert any(w == "VOLUME" and "runs" in r for w, r in ins)
    # Layers ordered for caching: dependencies from pyproject.toml before the package source.
    copies = [r for w, r in ins if w == "COPY"]
    assert copies[0].startswith("pyproject.toml")
    dep_install = next(i for i, (w, r) in enumerate(ins)
                       if w == "RUN" and 'pip install "./[gpu,plots,ray]"' in r)
    src_copy = next(i for i, (w, r) in enumerate(ins) if w == "COPY" and r.startswith("alphazero"))
    assert dep_install < src_copy
    assert words.index("USER") > src_copy


def test_the_image_installs_what_a_gpu_box_needs():
    """The gpu extra brings the compiled search (numba) and the solver; OpenVINO (CPU only)
    stays out of a GPU image."""
    import tomllib

    project = tomllib.loads((DOCKERFILE.parent / "pyproject.toml").read_text())["project"]
    gpu = " ".join(project["optional-dependencies"]["gpu"])
    assert "numba" in gpu and "bitbully" in gpu and "openvino" not in gpu
