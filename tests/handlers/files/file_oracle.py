#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Runs one scenario of the files suite through CPython's logging, the
# oracle: file_oracle.py SCENARIO.json. The scenario's "config" is the
# dictConfig document; "clock" (optional) replaces time.time with a fake
# clock that each step may set ("time"); each step's "log" is
# [logger, levelno, message]. Files are written where the document says.
import datetime
import json
import logging
import logging.config
import logging.handlers  # noqa: F401 (the classes the documents name)
import sys
import time

with open(sys.argv[1], encoding="utf-8") as f:
    scenario = json.load(f)

if "clock" in scenario:
    fake = [scenario["clock"]]
    time.time = lambda: float(fake[0])

config = scenario["config"]
for handler in config.get("handlers", {}).values():
    # JSON has no datetime.time: "HH:MM:SS" in the document (offhand reads
    # the string itself).
    at = handler.get("atTime")
    if isinstance(at, str):
        handler["atTime"] = datetime.time(*(int(p) for p in at.split(":")))

logging.config.dictConfig(config)
for step in scenario["steps"]:
    if "time" in step:
        fake[0] = step["time"]
    if "log" in step:
        name, level, message = step["log"]
        logging.getLogger(name).log(level, "%s", message)
logging.shutdown()
