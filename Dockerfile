# alphazero-c4 on a CUDA GPU box.
#   docker build -t alphazero-c4 .
#   docker run --gpus all -v "$PWD/runs:/opt/alphazero-c4/runs" alphazero-c4 \
#       pipeline --config configs/paper.yaml
# The official PyTorch image brings CUDA, cuDNN and a CUDA build of torch (>= 2.6), so pip
# keeps that torch and installs the rest: the gpu extra (numba compiles the search's tree step
# and the position cache, ~16x faster than their numpy forms; the solver), plots (TensorBoard's
# pictures) and ray, so that the same image serves as a node of a Ray cluster.
FROM pytorch/pytorch:2.6.0-cuda12.4-cudnn9-runtime

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/alphazero-c4

# Dependencies first: this layer is rebuilt only when pyproject.toml changes.
COPY pyproject.toml README.md ./
RUN mkdir alphazero && touch alphazero/__init__.py \
    && pip install "./[gpu,plots,ray]" \
    && pip uninstall -y alphazero-c4 \
    && rm -rf alphazero

# The package itself with the shipped checkpoint (alphazero/data/best.pt links to it), then
# the configs.
COPY checkpoints ./checkpoints
COPY alphazero ./alphazero
RUN pip install --no-deps .
COPY configs ./configs

# Run as an unprivileged user; run folders live on a volume.
RUN useradd --create-home --uid 1000 alphazero \
    && mkdir -p runs \
    && chown alphazero:alphazero runs
USER 1000
VOLUME ["/opt/alphazero-c4/runs"]

ENTRYPOINT ["alphazero"]
CMD ["info"]
