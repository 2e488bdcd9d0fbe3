#!/usr/bin/env bash
# Checks everything under deploy/ that can be checked without a cluster or a
# container runtime (CI runs it; tools come from deploy/tools.sh):
#   - the Helm chart: `helm lint --strict`, `helm template` with the default
#     values and with every optional feature on, the manifests validated against
#     the Kubernetes 1.30 schemas, and the properties the issue asks for;
#   - the Prometheus rules (`promtool check rules`, `promtool test rules`), the
#     chart's copy of them, the Prometheus and Alertmanager configurations and
#     the Alertmanager routing;
#   - the Grafana dashboards are what deploy/grafana/generate.py writes;
#   - the compose file and the other YAML parse, and what they mount exists;
#   - the chart packaged with provenance (`helm package --sign`, a key made for the
#     check) and checked with `helm verify`, which refuses other keys and changes.
set -euo pipefail
cd "$(dirname "$0")"
PATH="$(./tools.sh | tail -1):$PATH"
PY="${NTSB_TOOLS_DIR:-$HOME/.cache/ntsb-tools}/venv/bin/python"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

echo "== helm lint"
chart=helm/ntsb-analytics
helm lint --strict "$chart"
helm lint --strict "$chart" -f "$chart/ci/all-on-values.yaml"

echo "== helm template + Kubernetes 1.30 schemas"
helm template ntsb "$chart" --namespace ntsb > "$out/default.yaml"
helm template ntsb "$chart" --namespace ntsb -f "$chart/ci/all-on-values.yaml" > "$out/all-on.yaml"
for f in default all-on; do
  log="$(kubernetes-validate --kubernetes-version 1.30.0 --strict --quiet "$out/$f.yaml" 2>&1)" || {
    echo "$log"; echo "$f: manifests do not validate"; exit 1; }
  # Only the Prometheus Operator kinds may lack a schema (checked below).
  if echo "$log" | grep -v -E "kind (PrometheusRule|ServiceMonitor) with api version monitoring.coreos.com/v1" | grep -q .; then
    echo "$log"; echo "$f: unexpected validation output"; exit 1
  fi
done
"$PY" helm/assert_rendered.py "$out/default.yaml" "$out/all-on.yaml"
cmp prometheus/rules/ntsb.yml "$chart/files/prometheus-rules.yml" || {
  echo "$chart/files/prometheus-rules.yml differs from prometheus/rules/ntsb.yml: copy it"; exit 1; }
"$PY" - "$out/all-on.yaml" "$out/rule.yml" <<'PYEOF'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
rule = [d for d in docs if d["kind"] == "PrometheusRule"][0]
yaml.safe_dump(rule["spec"], open(sys.argv[2], "w"))
PYEOF
promtool check rules "$out/rule.yml"

echo "== prometheus and alertmanager"
promtool check rules prometheus/rules/*.yml
promtool test rules prometheus/tests/*.yml
# promtool check config resolves rule_files from their absolute compose paths: check a copy.
sed 's#/etc/prometheus/rules/#rules/#' prometheus/prometheus.yml > prometheus/.check.yml
trap 'rm -rf "$out" prometheus/.check.yml' EXIT
promtool check config prometheus/.check.yml
amtool check-config alertmanager/alertmanager.yml
route() { amtool config routes test --config.file=alertmanager/alertmanager.yml "$@"; }
[ "$(route severity=critical alertname=NtsbInstanceDown)" = pagerduty-and-slack ] || { echo "critical alerts must page"; exit 1; }
[ "$(route severity=warning alertname=NtsbRedisDown)" = slack ] || { echo "warnings must go to Slack only"; exit 1; }

echo "== grafana dashboards"
python3 grafana/generate.py
git diff --exit-code -- grafana/dashboards || { echo "dashboards differ from generate.py's output"; exit 1; }

echo "== compose and other YAML"
"$PY" - <<'PYEOF'
import os, sys, yaml
for path in ["compose.yaml", "loki/loki.yaml", "loki/promtail.yaml",
             "grafana/provisioning/datasources/prometheus.yaml", "grafana/provisioning/dashboards/ntsb.yaml"]:
    yaml.safe_load(open(path))
compose = yaml.safe_load(open("compose.yaml"))
problems = []
for name, svc in compose["services"].items():
    for vol in svc.get("volumes", []):
        src = vol.split(":")[0]
        if src.startswith("./") and not os.path.exists(src):
            problems.append(f"services.{name}: mounts {src}, which does not exist")
    for secret in svc.get("secrets", []):
        if secret not in compose["secrets"]:
            problems.append(f"services.{name}: secret {secret} is not declared")
    build = svc.get("build")
    if build and not os.path.exists(os.path.join(build["context"], build["dockerfile"])):
        problems.append(f"services.{name}: no {build['dockerfile']}")
    for dep in svc.get("depends_on", []):
        if dep not in compose["services"]:
            problems.append(f"services.{name}: depends on unknown service {dep}")
for name, s in compose["secrets"].items():
    if not s["file"].startswith("./secrets/"):
        problems.append(f"secrets.{name}: secret files live under ./secrets/")
api = compose["services"]["api"]
if not api.get("read_only") or "ALL" not in api.get("cap_drop", []):
    problems.append("services.api: must run read-only with every capability dropped")
docker = open("Dockerfile").read()
for needle in ["--locked", "@sha256:", "USER 10001", "HEALTHCHECK", "/health", "mdbtools"]:
    if needle not in docker:
        problems.append(f"Dockerfile: missing {needle}")
if problems:
    sys.exit("\n".join(problems))
print("compose.yaml, Dockerfile and configs: ok")
PYEOF
echo "== chart provenance (helm package --sign, helm verify)"
# A throw-away OpenPGP key made here, never committed: the release key is used the
# same way from its own files (docs/DEPLOYMENT.md, "Chart provenance").
export GNUPGHOME="$out/gnupg"
mkdir -m 0700 "$GNUPGHOME"
head -c 24 /dev/urandom | base64 | tr -d '\n' > "$out/passphrase"
gpg_batch() { gpg --batch --quiet --pinentry-mode loopback --passphrase-file "$out/passphrase" "$@"; }
gpg_batch --quick-gen-key 'NTSB chart check <chart-check@example.invalid>' rsa3072 sign never
gpg_batch --export-secret-keys chart-check@example.invalid > "$out/secring.gpg"
gpg --export chart-check@example.invalid > "$out/pubring.gpg"
gpg_batch --quick-gen-key 'Someone else <other@example.invalid>' rsa3072 sign never
gpg --export other@example.invalid > "$out/other.gpg"
tgz="$(NTSB_HELM_SIGNING_KEY=chart-check@example.invalid NTSB_HELM_KEYRING="$out/secring.gpg" \
  NTSB_HELM_PASSPHRASE_FILE="$out/passphrase" NTSB_HELM_VERIFY_KEYRING="$out/pubring.gpg" \
  helm/package.sh "$out/chart" | tail -1)"
if helm verify --keyring "$out/other.gpg" "$tgz" >/dev/null 2>&1; then
  echo "helm verify accepted a chart signed by another key"; exit 1
fi
# A chart changed after signing (a template added) must fail verification.
mkdir "$out/tamper" && tar -xzf "$tgz" -C "$out/tamper"
echo '# injected' > "$out/tamper/ntsb-analytics/templates/injected.yaml"
tar -czf "$tgz" -C "$out/tamper" ntsb-analytics
if helm verify --keyring "$out/pubring.gpg" "$tgz" >/dev/null 2>&1; then
  echo "helm verify accepted a chart modified after signing"; exit 1
fi
gpgconf --kill gpg-agent 2>/dev/null || true
unset GNUPGHOME
echo "chart signed, verified; other keys and modified charts refused"

echo "deploy checks passed"
