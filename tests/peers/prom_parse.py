"""Parses Prometheus text exposition format from stdin with prometheus_client's own parser
(the reference Python client, as a Prometheus server would read it) and prints its samples as
JSON: [[name, {label: value}, value], ...]. A malformed exposition raises and exits non-zero."""

import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families

samples = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        v = None if math.isnan(s.value) else s.value
        samples.append([s.name, dict(s.labels), v, family.type])
json.dump(samples, sys.stdout)
