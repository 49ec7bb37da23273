# syntax=docker/dockerfile:1
# The wattbit operator image: `python -m wattbit` from a venv, as user 65532, nothing to
# build anything with in the final stage. The chart's Deployment runs
# `python -m wattbit --standalone --liveness=...` with runAsUser 65532 and a read-only root
# filesystem (charts/wattbit/values.yaml); this image holds to both: every file is readable
# by any user, the venv is compiled at build time and PYTHONDONTWRITEBYTECODE=1 keeps Python
# from writing beside it.
#
#   docker build -t <registry>/wattbit:0.1.0 .     (or podman / buildah bud / kaniko)
#
# Without a container engine or a base image to pull, hack/build-image.sh makes the same
# image from Debian's packages (see its header for where the two differ).
#
# The base is pinned by tag. To pin it by digest too (reproducible builds), look the digest
# up and append it, e.g.
#   docker buildx imagetools inspect python:3.11.14-slim-bookworm   (or: crane digest ...,
#   skopeo inspect docker://docker.io/library/python:3.11.14-slim-bookworm)
#   docker build --build-arg PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:<digest> .
# and commit that value below. Python 3.11 on bookworm, as the CI and the Debian route use.
# The tag was chosen without a registry to ask (none is reachable where this was written):
# check that it exists, or take the newest 3.11.x-slim-bookworm, when you pin the digest.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
# Every dependency has a cp311 manylinux wheel, so the slim image needs no compiler here.
RUN python -m pip wheel --wheel-dir /wheels . \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-index --find-links /wheels wattbit \
 && /opt/venv/bin/pip uninstall -y pip setuptools

FROM ${PYTHON_IMAGE}
# The base's own pip, setuptools and wheel are build tools: the operator needs none of them.
# pip exits 0 when it cannot remove a package, hence the check that pip is really gone.
RUN python -m pip uninstall -y pip setuptools wheel \
 && rm -rf /root/.cache \
 && ! python -c "import pip" 2>/dev/null
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
LABEL org.opencontainers.image.title="wattbit" \
      org.opencontainers.image.description="Places deferrable AI training in the region and hour with the greenest, cheapest power" \
      org.opencontainers.image.licenses="Apache-2.0"
# Numeric, so runAsNonRoot can verify it without an /etc/passwd entry.
USER 65532:65532
# The chart's command is the same (charts/wattbit/templates/deployment.yaml).
ENTRYPOINT ["python", "-m", "wattbit"]
