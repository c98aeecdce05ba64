"""Every alert has a promtool test where it fires and one where it stays silent, and a
runbook_url whose anchor is a section of docs/OPERATIONS.md (GitHub's anchors)."""
import re
import sys

import yaml

rules = yaml.safe_load(open(sys.argv[1]))
tests = yaml.safe_load(open(sys.argv[2]))
doc = open(sys.argv[3], encoding="utf-8").read()


def anchor(heading):
    a = heading.strip().lower()
    a = re.sub(r"[^\w\- ]", "", a)
    return a.replace(" ", "-")


anchors = {anchor(m.group(1)) for m in re.finditer(r"^#+ (.+)$", doc, re.M)}
fires, silent = set(), set()
for t in tests["tests"]:
    for a in t.get("alert_rule_test", []):
        (fires if a.get("exp_alerts") else silent).add(a["alertname"])
problems = []
alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
for r in alerts:
    name = r["alert"]
    if name not in fires:
        problems.append(f"{name}: no test where it fires")
    if name not in silent:
        problems.append(f"{name}: no test where it stays silent")
    url = r.get("annotations", {}).get("runbook_url", "")
    if "#" not in url or url.split("#", 1)[1] not in anchors:
        problems.append(f"{name}: runbook_url {url!r} names no section of docs/OPERATIONS.md")
if problems:
    sys.exit("\n".join(problems))
print(f"{len(alerts)} alerts: each fires and stays silent in a test, each runbook section exists")
