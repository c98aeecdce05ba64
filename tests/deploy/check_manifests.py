#!/usr/bin/env python3
"""Checks rendered Helm manifests and deploy/compose.yaml against the binaries.

usage: check_manifests.py BIN_DIR RENDERED.yaml:PARTITIONS [...] --compose FILE
Every DOSSIERSYNC_<FLAG> variable and --flag argument must be a flag of the binary it is given to
(from `BINARY --helpfull`); probes, resources, security contexts, PDBs, the HPA, NetworkPolicy,
ServiceMonitor and PrometheusRule must be there and consistent with the ports.
"""
import re
import subprocess
import sys

import yaml

BINARIES = {"intake": "dossier-intake", "sync": "dossier-sync",
            "reconciliation": "dossier-reconciliation", "dvcqg-sim": "dvcqg-sim",
            "console": "dossier-console"}
# Variables a binary reads directly (not flags): the DVCQG credentials from the environment.
NON_FLAG_ENV = {"DOSSIERSYNC_DVCQG_USERNAME", "DOSSIERSYNC_DVCQG_PASSWORD"}
errors = []


def fail(msg):
    errors.append(msg)


_flags = {}


def flags_of(bin_dir, binary):
    if binary not in _flags:
        out = subprocess.run([f"{bin_dir}/{binary}", "--helpfull"], capture_output=True, text=True)
        _flags[binary] = set(re.findall(r"^\s+--(\w+)", out.stdout + out.stderr, re.M))
        if len(_flags[binary]) < 5:
            fail(f"{binary} --helpfull listed no flags")
    return _flags[binary]


def check_env_and_args(bin_dir, where, binary, env_names, args):
    known = flags_of(bin_dir, binary)
    for name in env_names:
        if not name.startswith("DOSSIERSYNC_") or name in NON_FLAG_ENV:
            continue
        flag = name[len("DOSSIERSYNC_"):].lower()
        if flag not in known:
            fail(f"{where}: {name} is not a flag of {binary} (--{flag})")
    for a in args:
        m = re.match(r"--(\w+)", a)
        if m and m.group(1) not in known:
            fail(f"{where}: {a} is not a flag of {binary}")


def check_chart(bin_dir, partitions, path):
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    kinds = {}
    for d in docs:
        kinds.setdefault(d["kind"], []).append(d)
    for kind in ["Deployment", "Service", "ConfigMap", "PodDisruptionBudget",
                 "HorizontalPodAutoscaler", "NetworkPolicy", "ServiceMonitor", "PrometheusRule"]:
        if kind not in kinds:
            fail(f"{path}: no {kind}")
    deployments = {d["metadata"]["name"]: d for d in kinds.get("Deployment", [])}
    # The console's Deployment only when console.enabled.
    expected = 4 if any(n.endswith("-console") for n in deployments) else 3
    if len(deployments) != expected:
        fail(f"{path}: expected {expected} Deployments, got {sorted(deployments)}")
    services = {s["metadata"]["name"]: s for s in kinds.get("Service", [])}
    for name, d in deployments.items():
        pod = d["spec"]["template"]["spec"]
        psc = pod.get("securityContext", {})
        if not psc.get("runAsNonRoot") or psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            fail(f"{name}: pod securityContext not hardened: {psc}")
        if pod.get("automountServiceAccountToken") is not False:
            fail(f"{name}: service account token mounted")
        for c in pod["containers"]:
            component = c["name"]
            binary = BINARIES[component]
            if not c["image"].endswith(binary.replace("dossier-", "dossier-")) and binary not in c["image"]:
                fail(f"{name}: image {c['image']} is not {binary}")
            sc = c.get("securityContext", {})
            if sc.get("allowPrivilegeEscalation") is not False or not sc.get("readOnlyRootFilesystem") \
                    or sc.get("capabilities", {}).get("drop") != ["ALL"]:
                fail(f"{name}: container securityContext not hardened: {sc}")
            res = c.get("resources", {})
            for k in ("requests", "limits"):
                if not res.get(k, {}).get("cpu") or not res.get(k, {}).get("memory"):
                    fail(f"{name}: resources.{k} missing cpu or memory")
            ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
            env = {e["name"]: e.get("value") for e in c.get("env", [])}
            # The console serves HTTP (pages and /healthz) on one port; the others gRPC + metrics.
            console = binary == "dossier-console"
            main_port = "http" if console else "grpc"
            if env.get("DOSSIERSYNC_LISTEN") != f"0.0.0.0:{ports.get(main_port)}":
                fail(f"{name}: DOSSIERSYNC_LISTEN {env.get('DOSSIERSYNC_LISTEN')} vs port {ports.get(main_port)}")
            if not console and env.get("DOSSIERSYNC_METRICS_LISTEN") != f"0.0.0.0:{ports.get('metrics')}":
                fail(f"{name}: DOSSIERSYNC_METRICS_LISTEN vs metrics port {ports.get('metrics')}")
            for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/livez"),
                                ("startupProbe", "/livez")):
                want_path, want_port = ("/healthz", "http") if console else (path, "metrics")
                p = c.get(probe)
                if not p:
                    fail(f"{name}: no {probe}")
                elif p.get("httpGet", {}).get("path") != want_path or p["httpGet"]["port"] != want_port:
                    fail(f"{name}: {probe} is not the {want_port} port's {want_path}: {p}")
            if binary == "dossier-reconciliation":
                # SPEC §7: scheduled runs by default, incremental and a full sweep.
                if env.get("DOSSIERSYNC_INCREMENTAL_EVERY") in (None, "", "0", "0s"):
                    fail(f"{name}: no incremental reconciliation schedule")
                if env.get("DOSSIERSYNC_FULL_SWEEP_AT") in (None, "") and \
                        env.get("DOSSIERSYNC_FULL_SWEEP_EVERY") in (None, "", "0", "0s"):
                    fail(f"{name}: no full sweep scheduled")
            pre_stop = c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
            if pre_stop <= 0:
                fail(f"{name}: no preStop delay: rolling updates would cancel calls in flight")
            if pod.get("terminationGracePeriodSeconds", 30) <= pre_stop:
                fail(f"{name}: terminationGracePeriodSeconds leaves no time to drain after preStop")
            check_env_and_args(bin_dir, name, binary, env.keys(), c.get("args", []))
            svc = services.get(name)
            if not svc:
                fail(f"{name}: no Service")
            else:
                sp = {p["name"]: p["port"] for p in svc["spec"]["ports"]}
                if any(sp.get(k) != ports.get(k) for k in ("grpc", "metrics", "http")):
                    fail(f"{name}: Service ports {sp} vs container ports {ports}")
    pdb_targets = {p["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
                   for p in kinds.get("PodDisruptionBudget", [])}
    if pdb_targets != {"dossier-intake", "dossier-sync", "dossier-reconciliation"}:
        fail(f"{path}: PodDisruptionBudgets cover {pdb_targets}")
    hpas = {h["spec"]["scaleTargetRef"]["name"].rsplit("-", 1)[-1]: h
            for h in kinds.get("HorizontalPodAutoscaler", [])}
    if set(hpas) != {"sync", "intake"}:
        fail(f"{path}: HPAs target {sorted(hpas)}, expected intake and sync")
    if "sync" in hpas and hpas["sync"]["spec"]["maxReplicas"] != partitions:
        fail(f"{path}: sync HPA max {hpas['sync']['spec']['maxReplicas']} is not the partition "
             f"count {partitions}")
    for name, d in deployments.items():
        if name.endswith("-intake") and "replicas" in d["spec"]:
            fail(f"{name}: fixed replicas while an HPA scales it")
    if not any("Ingress" in n["spec"].get("policyTypes", []) and "Egress" in n["spec"].get("policyTypes", [])
               for n in kinds.get("NetworkPolicy", [])):
        fail(f"{path}: no default-deny NetworkPolicy")
    alerts = {r["alert"]: r for g in kinds.get("PrometheusRule", [{}])[0].get("spec", {}).get("groups", [])
              for r in g["rules"]}
    for metric in ("dossiersync_sync_consumer_lag", "dossiersync_sync_dead_letters_total",
                   "dossiersync_reconciliation_consistency_ratio", "dossiersync_dvcqg_calls_total"):
        if not any(metric in r["expr"] for r in alerts.values()):
            fail(f"{path}: no alert on {metric}")
    for sm in kinds.get("ServiceMonitor", []):
        if sm["spec"]["endpoints"][0]["port"] != "metrics":
            fail(f"{path}: ServiceMonitor does not scrape the metrics port")
    return len(docs)


def check_compose(bin_dir, path):
    doc = yaml.safe_load(open(path))
    n = 0
    for name, svc in doc["services"].items():
        target = (svc.get("build") or {}).get("target")
        if target not in BINARIES:
            continue
        n += 1
        env = svc.get("environment", {})
        check_env_and_args(bin_dir, f"compose {name}", BINARIES[target], env.keys(),
                           svc.get("command", []))
        if svc.get("read_only") is not True:
            fail(f"compose {name}: not read_only")
    if n != 5:
        fail(f"compose: expected 5 of our services, found {n}")


def main():
    bin_dir = sys.argv[1]
    rest = sys.argv[2:]
    compose = rest[rest.index("--compose") + 1]
    charts = rest[:rest.index("--compose")]
    for c in charts:
        path, partitions = c.rsplit(":", 1)
        print(f"{path}: {check_chart(bin_dir, int(partitions), path)} manifests")
    check_compose(bin_dir, compose)
    for e in errors:
        print("FAIL:", e)
    print(f"checked {len(charts)} renderings and {compose}: {len(errors)} problems")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
