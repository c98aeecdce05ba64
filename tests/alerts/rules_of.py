"""Writes the rule groups of a rendered PrometheusRule as a Prometheus rule file."""
import sys

import yaml

rule = yaml.safe_load(open(sys.argv[1]))
assert rule["kind"] == "PrometheusRule", rule["kind"]
yaml.safe_dump({"groups": rule["spec"]["groups"]}, open(sys.argv[2], "w"), sort_keys=False)
