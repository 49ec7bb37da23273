#!/usr/bin/env bash
# Build the operator image without a container engine or a registry: an OCI layout in
# .run/image/oci (tag wattbit:<version>), from Debian's packages alone.
#
# It follows the Dockerfile's steps, with one difference forced by this machine: no base
# image can be pulled, so the Python base is a Debian bookworm rootfs made by debootstrap
# (minbase + python3, CPython 3.11 from Debian) instead of python:3.11-slim-bookworm
# (CPython 3.11 from python.org under /usr/local). Step by step:
#
#   Dockerfile (builder stage)          here
#   pip wheel the package + its deps    the same, with the host's python3.11 (the wheels
#                                       are cp311 manylinux, as the rootfs's 3.11 needs)
#   python -m venv /opt/venv            the same, chrooted into the builder rootfs
#   pip install --no-index the wheels   the same, then pip and setuptools are uninstalled
#   (final stage) FROM python:slim      the cached Debian rootfs (layer 1), with apt's
#                                       caches, docs and device nodes removed
#   COPY --from=builder /opt/venv       /opt/venv only (layer 2)
#   USER, ENTRYPOINT, ENV               umoci config, the same values
#
# Usage: hack/build-image.sh            prints the image reference (oci:<dir>:<tag>)
#   WATTBIT_IMAGE_DIR     output directory (default: $REPO_ROOT/.run/image)
#   WATTBIT_CACHE_DIR     cache root (default: ~/.cache/wattbit); the base and builder
#                         rootfs live under image/ there, so a second run skips debootstrap
#   WATTBIT_DEBIAN_MIRROR Debian mirror (default: the first bookworm one in /etc/apt)
#
# Needs root (debootstrap and chroot). Installs debootstrap and umoci with apt-get if missing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

DEBIAN_SUITE="bookworm"
DEBOOTSTRAP_VERSION="1.0.128+nmu2+deb12u2"
UMOCI_VERSION="0.4.7+ds-3+b7"
# Bump when the rootfs steps below change, so cached rootfs are rebuilt.
BASE_REVISION="1"
VENV="/opt/venv"
RUN_PATH="$VENV/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

OUT_DIR="${WATTBIT_IMAGE_DIR:-$REPO_ROOT/.run/image}"
CACHE_DIR="${WATTBIT_CACHE_DIR:-$HOME/.cache/wattbit}/image"
VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -n 1)"
[[ -n "$VERSION" ]] || wattbit::die "no version in pyproject.toml"
IMAGE_REF="$OUT_DIR/oci:$VERSION"

[[ "$(id -u)" == "0" ]] || wattbit::die "needs root (debootstrap, chroot)"

# apt-get install PKG=VERSION when COMMAND is missing; the pinned version is the one
# bookworm ships (apt refuses it once the mirror moves on: then update the pin).
ensure_tool() {
  local cmd="$1" pkg="$2" version="$3"
  command -v "$cmd" >/dev/null && return 0
  wattbit::log "installing $pkg=$version"
  apt-get install -y --no-install-recommends "$pkg=$version" >/dev/null 2>&1 || {
    apt-get update >/dev/null
    apt-get install -y --no-install-recommends "$pkg=$version" >/dev/null
  }
}

# The Debian mirror apt uses here (the only place this machine reaches for Debian).
debian_mirror() {
  if [[ -n "${WATTBIT_DEBIAN_MIRROR:-}" ]]; then
    printf '%s\n' "$WATTBIT_DEBIAN_MIRROR"
    return
  fi
  local uri
  uri="$(awk '
    /^URIs:/ { uri = $2 }
    /^Suites:/ && / '"$DEBIAN_SUITE"'( |$)/ && uri !~ /security/ { print uri; exit }
    /^$/ { uri = "" }' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
  if [[ -z "$uri" && -f /etc/apt/sources.list ]]; then
    uri="$(awk '$1 == "deb" && $3 == "'"$DEBIAN_SUITE"'" { print $2; exit }' /etc/apt/sources.list)"
  fi
  printf '%s\n' "${uri:-http://deb.debian.org/debian}"
}

chroot_run() {
  local root="$1"
  shift
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
    chroot "$root" "$@"
}

# Remove what a running image never needs: apt's lists and downloaded packages, docs,
# man pages, and the device nodes debootstrap made (a container runtime mounts /dev).
slim_rootfs() {
  local root="$1"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/var/log/* "$root"/tmp/* "$root"/root/.cache
  find "$root/dev" -mindepth 1 -delete
}

ensure_tool debootstrap debootstrap "$DEBOOTSTRAP_VERSION"
ensure_tool umoci umoci "$UMOCI_VERSION"

# ---------------------------------------------------------------- cached rootfs
mkdir -p "$CACHE_DIR"
raw="$CACHE_DIR/$DEBIAN_SUITE-python3-r$BASE_REVISION.raw"
base="$CACHE_DIR/$DEBIAN_SUITE-python3-r$BASE_REVISION.base"
builder="$CACHE_DIR/$DEBIAN_SUITE-python3-r$BASE_REVISION.builder"

if [[ ! -d "$raw" ]]; then
  mirror="$(debian_mirror)"
  wattbit::log "debootstrap --variant=minbase $DEBIAN_SUITE from $mirror (about a minute)"
  rm -rf "$raw.tmp"
  debootstrap --variant=minbase --include=python3 "$DEBIAN_SUITE" "$raw.tmp" "$mirror" \
    >"$CACHE_DIR/debootstrap.log" 2>&1 \
    || wattbit::die "debootstrap failed; see $CACHE_DIR/debootstrap.log"
  mv "$raw.tmp" "$raw"
fi
if [[ ! -d "$base" ]]; then
  rm -rf "$base.tmp"
  cp -a "$raw" "$base.tmp"
  slim_rootfs "$base.tmp"
  mv "$base.tmp" "$base"
fi
if [[ ! -d "$builder" ]]; then
  wattbit::log "builder rootfs: + python3-venv"
  rm -rf "$builder.tmp"
  cp -a "$raw" "$builder.tmp"
  cp /etc/resolv.conf "$builder.tmp/etc/resolv.conf"
  chroot_run "$builder.tmp" apt-get install -y --no-install-recommends python3-venv \
    >"$CACHE_DIR/builder.log" 2>&1 || wattbit::die "apt-get in the builder failed; see $CACHE_DIR/builder.log"
  chroot_run "$builder.tmp" apt-get clean
  mv "$builder.tmp" "$builder"
fi

# ---------------------------------------------------------------- builder stage
work="$(mktemp -d "${TMPDIR:-/tmp}/wattbit-image.XXXXXX")"
trap 'rm -rf "$work"' EXIT

rootfs_python="$(chroot_run "$base" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
host_python="${WATTBIT_PYTHON:-python3}"
[[ "$("$host_python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" == "$rootfs_python" ]] \
  || wattbit::die "$host_python is not Python $rootfs_python (the rootfs's); set WATTBIT_PYTHON"

# Build from a copy of the sources the Dockerfile copies, so no build/ or egg-info lands
# in the checkout.
mkdir -p "$work/src" "$work/wheels"
cp -a pyproject.toml README.md operator "$work/src/"
find "$work/src" \( -name __pycache__ -o -name '*.egg-info' \) -prune -exec rm -rf {} +
wattbit::log "pip wheel (the package and its dependencies)"
(cd "$work/src" && "$host_python" -m pip wheel --quiet --disable-pip-version-check \
  --wheel-dir "$work/wheels" .)

wattbit::log "venv in the builder rootfs"
stage="$work/builder"
cp -a "$builder" "$stage"
cp -a "$work/wheels" "$stage/wheels"
chroot_run "$stage" python3 -m venv "$VENV"
chroot_run "$stage" "$VENV/bin/pip" install --quiet --no-index --find-links /wheels \
  --disable-pip-version-check wattbit
chroot_run "$stage" "$VENV/bin/pip" uninstall --quiet -y pip setuptools
mkdir -p "$work/venv-layer/opt"
mv "$stage$VENV" "$work/venv-layer$VENV"
rm -rf "$stage"

# ---------------------------------------------------------------- final image
wattbit::log "OCI image $IMAGE_REF"
rm -rf "$OUT_DIR/oci"
mkdir -p "$OUT_DIR"
umoci init --layout "$OUT_DIR/oci"
umoci new --image "$IMAGE_REF"
umoci insert --image "$IMAGE_REF" --history.created_by "debootstrap --variant=minbase --include=python3 $DEBIAN_SUITE" \
  "$base" /
umoci insert --image "$IMAGE_REF" --history.created_by "venv $VENV with wattbit $VERSION" \
  "$work/venv-layer" /
umoci config --image "$IMAGE_REF" \
  --config.user 65532:65532 \
  --config.entrypoint python --config.entrypoint -m --config.entrypoint wattbit \
  --config.env "PATH=$RUN_PATH" \
  --config.env PYTHONDONTWRITEBYTECODE=1 \
  --config.env PYTHONUNBUFFERED=1 \
  --config.env LANG=C.UTF-8 \
  --config.workingdir / \
  --config.label "org.opencontainers.image.title=wattbit" \
  --config.label "org.opencontainers.image.version=$VERSION" \
  --config.label "org.opencontainers.image.licenses=Apache-2.0" \
  --history.created_by "USER 65532:65532; ENTRYPOINT python -m wattbit"
umoci gc --layout "$OUT_DIR/oci"
chroot_run "$base" dpkg-query -W -f '${Package}=${Version}\n' >"$OUT_DIR/packages.txt"
printf 'oci:%s\n' "$IMAGE_REF"
