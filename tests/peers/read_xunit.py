"""Reads an xUnit (JUnit XML) file with junitparser (python3-junitparser), as a CI system
would, and prints what it found as one JSON line: the suites, their counts and every case with
its failure message, if any."""

import json
import sys

from junitparser import JUnitXml, Failure


def main(path):
    xml = JUnitXml.fromfile(path)
    suites = []
    for suite in xml:
        cases = []
        for case in suite:
            failure = next((r.message for r in case.result if isinstance(r, Failure)), None)
            cases.append({"name": case.name, "classname": case.classname, "failure": failure})
        suites.append(
            {"name": suite.name, "tests": suite.tests, "failures": suite.failures, "cases": cases}
        )
    print(json.dumps({"suites": suites}, sort_keys=True))


if __name__ == "__main__":
    main(sys.argv[1])
