#!/usr/bin/env python3
"""Checks properties of the rendered chart that schemas cannot: the numbers and
the hardening the deployment checklist asks for. Usage: assert_rendered.py DEFAULT.yaml ALL-ON.yaml"""
import sys

import yaml


def load(path):
    return [d for d in yaml.safe_load_all(open(path)) if d]


def by(docs, kind):
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def pod_specs(docs):
    for d in docs:
        spec = None
        if d["kind"] in ("Deployment", "Job"):
            spec = d["spec"]["template"]["spec"]
        elif d["kind"] == "CronJob":
            spec = d["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        if spec is not None:
            yield d, spec


problems = []


def check(cond, what):
    if not cond:
        problems.append(what)


default, all_on = load(sys.argv[1]), load(sys.argv[2])
for name, docs in (("default", default), ("all-on", all_on)):
    text = yaml.safe_dump_all(docs)
    check("jwt-secret:" not in text and "postgres://" not in text, f"{name}: a secret value is rendered")
    check(not by(docs, "Secret"), f"{name}: the chart must not create Secrets (existing ones only)")
    for d, spec in pod_specs(docs):
        n = f"{name} {d['kind']}/{d['metadata']['name']}"
        check(spec.get("automountServiceAccountToken") is False, f"{n}: mounts a service-account token")
        psc = spec.get("securityContext", {})
        check(psc.get("runAsNonRoot") is True, f"{n}: runAsNonRoot")
        check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{n}: seccomp RuntimeDefault")
        for c in spec["containers"]:
            sc = c.get("securityContext", {})
            check(sc.get("readOnlyRootFilesystem") is True, f"{n}: read-only root file system")
            check(sc.get("allowPrivilegeEscalation") is False, f"{n}: allowPrivilegeEscalation false")
            check(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{n}: drop ALL capabilities")
            check("limits" in c.get("resources", {}), f"{n}: resource limits")
            for e in c.get("env", []):
                check(not (e["name"] in ("NTSB_DATABASE_URL", "NTSB_JWT_SECRET") and "value" in e),
                      f"{n}: {e['name']} given as a value")
    sa = by(docs, "ServiceAccount")
    check(all(s.get("automountServiceAccountToken") is False for s in sa.values()), f"{name}: ServiceAccount automounts")

deps = by(default, "Deployment")
for tier, role in (("ntsb-ntsb-analytics-api", "api"), ("ntsb-ntsb-analytics-ml", "ml")):
    c = deps[tier]["spec"]["template"]["spec"]["containers"][0]
    check(c["args"][:4] == ["serve", "--production", "--role", role], f"{tier}: serves --role {role}")
    check(c["livenessProbe"]["httpGet"]["path"] == "/health", f"{tier}: liveness /health")
    check(c["readinessProbe"]["httpGet"]["path"] == "/ready", f"{tier}: readiness /ready")
    check(c["startupProbe"]["httpGet"]["path"] == "/health", f"{tier}: startup probe")
    check(any(e.get("configMapRef") for e in c.get("envFrom", [])), f"{tier}: configuration from a ConfigMap")

hpa = by(default, "HorizontalPodAutoscaler")
for name, lo, hi, cpu in (("ntsb-ntsb-analytics-api", 2, 10, 70), ("ntsb-ntsb-analytics-ml", 1, 5, 80)):
    h = hpa.get(name)
    check(h is not None, f"HPA {name} missing")
    if h:
        util = h["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"]
        check((h["spec"]["minReplicas"], h["spec"]["maxReplicas"], util) == (lo, hi, cpu),
              f"HPA {name}: want {lo}-{hi} at {cpu}% CPU")
check(len(by(default, "PodDisruptionBudget")) == 2, "a PodDisruptionBudget per tier")

nps = by(default, "NetworkPolicy")
deny = [p for p in nps.values() if set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress") and not p["spec"].get("egress")]
check(deny, "a deny-by-default NetworkPolicy")

ing = list(by(default, "Ingress").values())
check(len(ing) == 1 and "cert-manager.io/cluster-issuer" in ing[0]["metadata"]["annotations"]
      and ing[0]["spec"].get("tls"), "Ingress with TLS through cert-manager")
if ing:
    paths = {p["path"]: p["backend"]["service"]["name"] for p in ing[0]["spec"]["rules"][0]["http"]["paths"]}
    check(paths.get("/api/v1/ml", "").endswith("-ml") and paths.get("/").endswith("-api"), f"ingress paths: {paths}")

jobs = [d for d in default if d["kind"] == "Job"]
check(len(jobs) == 1 and jobs[0]["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
      and jobs[0]["spec"]["template"]["spec"]["containers"][0]["args"] == ["db", "migrate"],
      "the migration is a pre-install/pre-upgrade hook Job")
cron = by(default, "CronJob")
check({n.rsplit("-", 1)[-1] for n in cron} == {"hourly", "daily"}, f"hourly and daily backup CronJobs: {list(cron)}")
check(not any(n.endswith("-sync") for n in cron), "the sync CronJob is off by default")
sync = by(all_on, "CronJob").get("ntsb-ntsb-analytics-sync")
check(sync is not None, "all-on renders the sync CronJob")
if sync:
    c = sync["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in c.get("env", [])}
    check(c["args"] == ["sync"] and sync["spec"]["concurrencyPolicy"] == "Forbid", "sync: `ntsb sync`, one at a time")
    check(env.get("NTSB_SYNC_ALLOWED_HOSTS") == "data.ntsb.gov", f"sync: allowlist from values: {env}")
check(by(all_on, "ServiceMonitor") and by(all_on, "PrometheusRule"), "all-on renders ServiceMonitor and PrometheusRule")
check(not by(default, "ServiceMonitor"), "ServiceMonitor is optional (off by default)")

if problems:
    sys.exit("rendered chart:\n  " + "\n  ".join(problems))
print(f"rendered chart: ok ({len(default)} objects by default, {len(all_on)} with every option)")
