#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Runs Doxygen for the `docs` target: makes the output directory, runs it,
# and prints the warnings (Doxygen writes them to a log file) so that a
# failing build says why.
import os
import subprocess
import sys

doxygen, doxyfile, output = sys.argv[1:4]
os.makedirs(output, exist_ok=True)
log = os.path.join(output, "warnings.log")
if os.path.exists(log):
    os.remove(log)
status = subprocess.run([doxygen, doxyfile]).returncode
warnings = open(log, encoding="utf-8").read() if os.path.exists(log) else ""
if warnings.strip():
    sys.stderr.write(warnings)
    status = status or 1
if status == 0:
    print(f"API reference: {os.path.join(output, 'html', 'index.html')}")
sys.exit(status)
