#!/usr/bin/env python3
"""Run one command and report its cost: wall time, user and system CPU, peak RSS.

Usage: rusage.py OUT.json CMD [ARG...]

Why Python: os.wait4() returns the child's own rusage with microsecond CPU times
and ru_maxrss, where GNU time prints only hundredths of a second. The clock starts
just before fork and stops when wait4 returns, so this script's own start-up is
not counted. The command inherits stdin/stdout/stderr.
"""

import json
import os
import sys
import time


def main():
    out_path, argv = sys.argv[1], sys.argv[2:]
    t0 = time.perf_counter_ns()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    _, status, ru = os.wait4(pid, 0)
    t1 = time.perf_counter_ns()
    code = os.waitstatus_to_exitcode(status)
    with open(out_path, "w", encoding="utf-8") as fh:
        json.dump({
            "code": code,
            "wallMs": (t1 - t0) / 1e6,
            "userMs": ru.ru_utime * 1000,
            "sysMs": ru.ru_stime * 1000,
            "maxRssKiB": ru.ru_maxrss,
        }, fh)


if __name__ == "__main__":
    main()
