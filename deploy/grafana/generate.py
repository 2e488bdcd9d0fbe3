#!/usr/bin/env python3
"""Writes the four provisioned Grafana dashboards (dashboards/*.json).

The dashboards are generated so that every panel has the same shape and the
queries live in one readable place; `deploy/check.sh` fails when the committed
JSON differs from what this script writes. Run it after editing:

    python3 deploy/grafana/generate.py
"""
import json
import pathlib

DS = {"type": "prometheus", "uid": "prometheus"}
OUT = pathlib.Path(__file__).resolve().parent / "dashboards"


def panel(title, exprs, unit="short", kind="timeseries", legend=None, desc=""):
    targets = []
    for i, expr in enumerate(exprs if isinstance(exprs, list) else [exprs]):
        if isinstance(expr, tuple):
            expr, fmt = expr
        else:
            fmt = legend
        t = {"datasource": DS, "expr": expr, "refId": chr(ord("A") + i)}
        if fmt:
            t["legendFormat"] = fmt
        if kind == "table":
            t["format"] = "table"
            t["instant"] = True
        targets.append(t)
    return {
        "type": kind,
        "title": title,
        "description": desc,
        "datasource": DS,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
        "targets": targets,
    }


def dashboard(uid, title, panels, tags):
    laid = []
    for i, p in enumerate(panels):
        p = dict(p, id=i + 1, gridPos={"h": 8, "w": 12, "x": (i % 2) * 12, "y": (i // 2) * 8})
        laid.append(p)
    return {
        "uid": uid,
        "title": title,
        "tags": ["ntsb"] + tags,
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "job",
                    "type": "query",
                    "datasource": DS,
                    "query": "label_values(ntsb_build_info, job)",
                    "includeAll": True,
                    "multi": True,
                    "current": {"text": "All", "value": "$__all"},
                }
            ]
        },
        "panels": laid,
    }


J = 'job=~"$job"'

API = dashboard(
    "ntsb-api",
    "NTSB API",
    [
        panel("Requests per second by route", f"sum by (route) (rate(ntsb_http_requests_total{{{J}}}[5m]))", "reqps", legend="{{route}}"),
        panel("Responses by status", f"sum by (status) (rate(ntsb_http_requests_total{{{J}}}[5m]))", "reqps", legend="{{status}}"),
        panel("Server error ratio (SLO 99.9%)", f"ntsb:http_error_ratio:rate5m{{{J}}}", "percentunit", legend="{{job}}"),
        panel("p95 latency by route group, with target", [
            (f"ntsb:route_group:p95_seconds{{{J}}}", "{{group}}"),
            ("ntsb:route_group:p95_target_seconds", "target {{group}}"),
        ], "s"),
        panel("p50 / p99 latency, all routes", [
            (f"histogram_quantile(0.5, sum by (le) (rate(ntsb_http_request_duration_seconds_bucket{{{J}}}[5m])))", "p50"),
            (f"histogram_quantile(0.99, sum by (le) (rate(ntsb_http_request_duration_seconds_bucket{{{J}}}[5m])))", "p99"),
        ], "s"),
        panel("Requests in flight", f"sum by (instance) (ntsb_http_requests_in_flight{{{J}}})", legend="{{instance}}"),
        panel("Response cache hit ratio", f"ntsb:cache_hit_ratio:rate5m{{{J}}}", "percentunit", legend="{{job}}"),
        panel("Response cache size", [
            (f"sum by (instance) (ntsb_cache_bytes{{{J}}})", "{{instance}} bytes"),
            (f"max(ntsb_cache_capacity_bytes{{{J}}})", "budget"),
        ], "bytes"),
        panel("Cache invalidations (data changed)", f"sum(increase(ntsb_cache_invalidations_total{{{J}}}[1h]))", "short", legend="per hour"),
        panel("Versions running", f"count by (version) (ntsb_build_info{{{J}}})", "short", legend="{{version}}"),
    ],
    ["api"],
)

ML = dashboard(
    "ntsb-ml",
    "NTSB ML",
    [
        panel("Models loaded (replicas serving each)", f"sum by (model) (ntsb_ml_model_loaded{{{J}}})", legend="{{model}}"),
        panel("Events scored per second by model", f"sum by (model) (rate(ntsb_ml_predictions_total{{{J}}}[5m]))", "ops", legend="{{model}}"),
        panel("Scoring call p95 latency by model", f"histogram_quantile(0.95, sum by (model, le) (rate(ntsb_ml_prediction_duration_seconds_bucket{{{J}}}[5m])))", "s", legend="{{model}}"),
        panel("Scoring call p50 latency by model", f"histogram_quantile(0.5, sum by (model, le) (rate(ntsb_ml_prediction_duration_seconds_bucket{{{J}}}[5m])))", "s", legend="{{model}}"),
        panel("Failed scoring calls by model", f"sum by (model) (rate(ntsb_ml_prediction_errors_total{{{J}}}[5m]))", "ops", legend="{{model}}"),
        panel("ML routes by status", f'sum by (route, status) (rate(ntsb_http_requests_total{{{J},route=~"/api/v1/ml/.*"}}[5m]))', "reqps", legend="{{route}} {{status}}"),
        panel("ML tier CPU use (share of its cores)", f"rate(process_cpu_seconds_total{{{J}}}[5m]) / on (job, instance) ntsb_process_cpu_cores", "percentunit", legend="{{instance}}"),
        panel("ML tier memory", f"process_resident_memory_bytes{{{J}}}", "bytes", legend="{{instance}}"),
    ],
    ["ml"],
)

INFRA = dashboard(
    "ntsb-infrastructure",
    "NTSB infrastructure",
    [
        panel("Targets up", 'up{job=~"ntsb.*"}', legend="{{job}} {{instance}}"),
        panel("CPU use (share of the cores each may use)", f"rate(process_cpu_seconds_total{{{J}}}[5m]) / on (job, instance) ntsb_process_cpu_cores", "percentunit", legend="{{instance}}"),
        panel("Resident memory and limit", [
            (f"process_resident_memory_bytes{{{J}}}", "{{instance}}"),
            (f"ntsb_process_memory_limit_bytes{{{J}}}", "limit {{instance}}"),
        ], "bytes"),
        panel("Uptime", f"ntsb_uptime_seconds{{{J}}}", "s", legend="{{instance}}"),
        panel("Database pool connections by state", f"sum by (instance, state) (ntsb_store_pool_connections{{{J}}})", legend="{{instance}} {{state}}"),
        panel("Database pool idle ceiling", f"ntsb_store_pool_max_idle{{{J}}}", legend="{{instance}}"),
        panel("Redis reachable", f"ntsb_redis_up{{{J}}}", legend="{{instance}}"),
        panel("Redis errors and outages", [
            (f"sum by (instance) (increase(ntsb_redis_errors_total{{{J}}}[15m]))", "errors {{instance}}"),
            (f"sum by (instance) (increase(ntsb_redis_outages_total{{{J}}}[15m]))", "outages {{instance}}"),
        ]),
        panel("Search index documents", f"ntsb_index_documents{{{J}}}", legend="{{instance}}"),
        panel("Search index lag (changes behind the store)", f'max by (instance) (ntsb_index_position{{{J},of="store"}}) - max by (instance) (ntsb_index_position{{{J},of="index"}})', legend="{{instance}}"),
        panel("Hours since the last successful backup", '(time() - kube_cronjob_status_last_successful_time{cronjob=~".*-backup-.*"}) / 3600', "h", legend="{{cronjob}}",
              desc="From kube-state-metrics (Kubernetes only)."),
    ],
    ["infrastructure"],
)

BUSINESS = dashboard(
    "ntsb-business",
    "NTSB business",
    [
        panel("Requests per second by caller tier", f"sum by (tier) (rate(ntsb_ratelimit_decisions_total{{{J}}}[5m]))", "reqps", legend="{{tier}}"),
        panel("Refused by limits, by tier and reason", f'sum by (tier, decision) (rate(ntsb_ratelimit_decisions_total{{{J},decision!="allowed"}}[5m]))', "reqps", legend="{{tier}} {{decision}}"),
        panel("Quota use: share of requests refused, by tier", f'sum by (tier) (rate(ntsb_ratelimit_decisions_total{{{J},decision=~"rate_limited|quota_exceeded"}}[1h])) / sum by (tier) (rate(ntsb_ratelimit_decisions_total{{{J}}}[1h]))', "percentunit", legend="{{tier}}"),
        panel("New accounts (registrations)", f'sum(increase(ntsb_http_requests_total{{{J},route="/api/v1/auth/register",status=~"2.."}}[1d]))', "short", legend="per day"),
        panel("Top endpoints, last 24 h", f"topk(10, sum by (route) (increase(ntsb_http_requests_total{{{J}}}[24h])))", "short", kind="table"),
        panel("Exports per hour", f'sum by (route) (increase(ntsb_http_requests_total{{{J},route=~"/api/v1/export/.*"}}[1h]))', "short", legend="{{route}}"),
        panel("Records loaded by outcome", f"max by (outcome) (ntsb_ingest_records_total{{{J}}})", "short", legend="{{outcome}}"),
        panel("Loads by status", f"max by (status) (ntsb_ingest_loads_total{{{J}}})", "short", legend="{{status}}"),
        panel("Hours since the last load finished", f"(time() - max(ntsb_ingest_last_load_finished_seconds{{{J}}})) / 3600", "h", legend="hours"),
        panel("Events searchable", f"max(ntsb_index_documents{{{J}}})", "short", legend="documents"),
    ],
    ["business"],
)

if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    for name, board in [("api", API), ("ml", ML), ("infrastructure", INFRA), ("business", BUSINESS)]:
        (OUT / f"ntsb-{name}.json").write_text(json.dumps(board, indent=2, sort_keys=True) + "\n")
