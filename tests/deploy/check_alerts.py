#!/usr/bin/python3
"""Checks the alerting rules of deploy/prometheus/rules/squatstream.rules.yml against the conventions they
keep (the monitoring mixins'): every alert has severity critical or warning, a summary, a description, and a
runbook_url whose anchor is a section of docs/RUNBOOK.md; and every alert has, in the promtool tests
(deploy/prometheus/tests/*.test.yml), a test where it fires and one where it stays silent.

usage: check_alerts.py
"""
import glob
import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def slug(heading):
    """GitHub's anchor for a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def main():
    rules = yaml.safe_load(open(os.path.join(ROOT, "deploy/prometheus/rules/squatstream.rules.yml")))
    test_files = sorted(glob.glob(os.path.join(ROOT, "deploy/prometheus/tests/*.test.yml")))
    runbook = open(os.path.join(ROOT, "docs/RUNBOOK.md")).read()
    anchors = {slug(h) for h in re.findall(r"^#+ (.*)$", runbook, re.M)}
    faults = []
    alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
    for r in alerts:
        name = r["alert"]
        severity = r.get("labels", {}).get("severity")
        if severity not in ("critical", "warning"):
            faults.append(f"{name}: severity {severity!r} (critical or warning)")
        ann = r.get("annotations", {})
        for key in ("summary", "description", "runbook_url"):
            if not ann.get(key):
                faults.append(f"{name}: no {key}")
        url = ann.get("runbook_url", "")
        if "docs/RUNBOOK.md#" not in url:
            faults.append(f"{name}: runbook_url {url!r} does not point into docs/RUNBOOK.md")
        elif url.split("#", 1)[1] not in anchors:
            faults.append(f"{name}: docs/RUNBOOK.md has no section #{url.split('#', 1)[1]}")
    fires, silent = set(), set()
    for t in (t for f in test_files for t in yaml.safe_load(open(f))["tests"]):
        for a in t.get("alert_rule_test", []):
            (fires if a.get("exp_alerts") else silent).add(a["alertname"])
    for name in sorted({r["alert"] for r in alerts}):
        if name not in fires:
            faults.append(f"{name}: no test where it fires")
        if name not in silent:
            faults.append(f"{name}: no test where it stays silent")
    if faults:
        sys.exit("check_alerts:\n  " + "\n  ".join(faults))
    print(f"check_alerts: {len(alerts)} alerting rules ({len({r['alert'] for r in alerts})} alerts): severity, "
          "summary, description, runbook section, and tests that fire and stay silent")


if __name__ == "__main__":
    main()
