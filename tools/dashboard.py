"""Writes helm/dossier-sync/dashboards/dossier-sync.json, the Grafana dashboard the chart ships
(ConfigMap labelled grafana_dashboard). Edit the panels here and run it again:
    python3 tools/dashboard.py
tests/prometheus_e2e.sh runs every panel's expression against a real Prometheus."""
import json
import os

RATE = "5m"
PANELS = [
    # (title, unit, [(expr, legend)], kind)
    ("Intake: accepted changes/s", "ops",
     [(f"sum(rate(dossiersync_intake_accepted_total[{RATE}]))", "accepted")], "timeseries"),
    ("Intake: rejections/s by reason and field", "ops",
     [(f"sum by (reason, field) (rate(dossiersync_intake_rejected_total[{RATE}]))",
       "{{reason}} {{field}}")], "timeseries"),
    ("Outbox backlog (accepted, not yet on Kafka)", "short",
     [("sum(dossiersync_intake_outbox_backlog)", "backlog")], "timeseries"),
    ("Sync: consumer lag", "short",
     [("sum(dossiersync_sync_consumer_lag)", "lag")], "timeseries"),
    ("Sync: pushes/s by outcome", "ops",
     [(f"sum by (outcome) (rate(dossiersync_sync_pushes_total[{RATE}]))", "{{outcome}}")],
     "timeseries"),
    ("DVCQG: call latency p50 / p99 by service", "s",
     [(f"histogram_quantile(0.5, sum by (le, service) (rate(dossiersync_dvcqg_call_seconds_bucket[{RATE}])))",
       "p50 {{service}}"),
      (f"histogram_quantile(0.99, sum by (le, service) (rate(dossiersync_dvcqg_call_seconds_bucket[{RATE}])))",
       "p99 {{service}}")], "timeseries"),
    ("DVCQG: failed calls/s by service and outcome", "ops",
     [(f'sum by (service, outcome) (rate(dossiersync_dvcqg_calls_total{{outcome!~"accepted|already_exists|not_found"}}[{RATE}]))',
       "{{service}} {{outcome}}")], "timeseries"),
    ("DVCQG circuit breaker (1 = open)", "short",
     [("max(dossiersync_sync_breaker_open)", "open")], "stat"),
    ("Dead letters (last hour)", "short",
     [("sum(increase(dossiersync_sync_dead_letters_total[1h]))", "dead letters")], "stat"),
    ("Drift found by kind (last hour)", "short",
     [("sum by (kind) (increase(dossiersync_reconciliation_drift_total[1h]))", "{{kind}}")],
     "timeseries"),
    ("Consistency (last reconciliation)", "percentunit",
     [("min(dossiersync_reconciliation_consistency_ratio)", "consistency")], "stat"),
    ("National score forecast (points)", "short",
     [("max by (view) (dossiersync_reconciliation_score_points)", "{{view}}"),
      ("max(dossiersync_reconciliation_score_points_at_stake)", "at stake (sync gap)")],
     "timeseries"),
]


def panel(i, title, unit, targets, kind):
    return {
        "id": i + 1,
        "type": kind,
        "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 12, "x": (i % 2) * 12, "y": (i // 2) * 8},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [{"refId": chr(ord("A") + k), "expr": e, "legendFormat": l}
                    for k, (e, l) in enumerate(targets)],
    }


dashboard = {
    "uid": "dossier-sync",
    "title": "dossier-sync",
    "tags": ["dossier-sync", "dvcqg"],
    "timezone": "Asia/Ho_Chi_Minh",
    "schemaVersion": 38,
    "version": 1,
    "refresh": "30s",
    "time": {"from": "now-6h", "to": "now"},
    "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus",
                             "label": "Prometheus"}]},
    "panels": [panel(i, *p) for i, p in enumerate(PANELS)],
}
out = os.path.join(os.path.dirname(__file__), "..", "helm", "dossier-sync", "dashboards",
                   "dossier-sync.json")
with open(out, "w") as f:
    json.dump(dashboard, f, indent=1, ensure_ascii=False)
    f.write("\n")
