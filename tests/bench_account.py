"""Benchmark: is `login` as slow as its slowest service, and does `roundtrip` add
less than 200 ms to the server's own delivery time?

Run by hand inside the lab's namespaces (needs root), not in CI:

    python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]'   # once
    unshare --net --mount --pid --fork --mount-proc -- .venv/bin/python \\
        tests/lab/namespace.py "$(.venv/bin/python tests/lab/provision.py)" -- \\
        .venv/bin/python tests/bench_account.py [--runs N]

Against the real account lab (Exim submission -> LMTP -> Dovecot, tests/lab/accountlab.py):
- login: each service alone, then IMAP + POP3 + SMTP at once (medians);
- roundtrip: the whole command core (logins, send, watch, delete), the moment the
  message file appears in the Maildir (the server's delivery, seen by a 1 ms poller in
  this process), and what the command spends after that (noticing it, deleting it,
  logging out).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from diag.account.login import AccountOptions, login
from diag.account.model import Target
from diag.account.roundtrip import roundtrip
from diag.account.secret import Secret
from diag.account.session import Credentials
from diag.model import Security
from tests.lab import accountlab
from tests.lab.accountlab import ADDRESS, PASSWORD, USER
from tests.lab.bench import median_ms

TARGETS = {
    "imap": Target("imap", ADDRESS, 993, Security.TLS, USER, "option"),
    "pop3": Target("pop3", ADDRESS, 995, Security.TLS, USER, "option"),
    "smtp": Target("smtp", ADDRESS, 465, Security.TLS, USER, "option"),
}


def files(directory: Path) -> set[str]:
    return {p.name.split(":")[0] for sub in ("new", "cur") for p in (directory / sub).glob("*")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    root = Path(tempfile.mkdtemp(prefix="maildiag-bench-account-"))
    os.chmod(root, 0o755)
    lab = accountlab.start(root)
    try:
        options = AccountOptions(timeout=10, ca_file=lab.ca_file)
        creds = Credentials(Secret(PASSWORD))

        def run_login(names: list[str]) -> None:
            report = asyncio.run(login(USER, [TARGETS[n] for n in names], creds, options))
            assert all(r.outcome.value == "ok" for r in report.results), report

        alone = {n: median_ms(lambda n=n: run_login([n]), runs) for n in TARGETS}
        together = median_ms(lambda: run_login(list(TARGETS)), runs)
        for name, ms in alone.items():
            print(f"login {name} alone:           {ms:7.1f} ms")
        print(
            f"login all three at once:     {together:7.1f} ms "
            f"(slowest alone {max(alone.values()):.1f} ms, sum {sum(alone.values()):.1f} ms)"
        )

        inbox = lab.maildir("INBOX")
        totals, deliveries, after, arrivals = [], [], [], []
        for _ in range(runs):
            known = files(inbox) if inbox.exists() else set()
            seen: list[float] = []
            stop = threading.Event()

            def watch(known=known, seen=seen, stop=stop) -> None:
                while not stop.is_set():
                    if inbox.exists() and files(inbox) - known:
                        seen.append(time.perf_counter())
                        return
                    time.sleep(0.001)

            watcher = threading.Thread(target=watch)
            watcher.start()
            begin = time.perf_counter()
            report = asyncio.run(
                roundtrip(
                    USER,
                    TARGETS["smtp"],
                    TARGETS["imap"],
                    creds,
                    options,
                    sender=USER,
                    recipient=USER,
                    wait=20,
                )
            )
            end = time.perf_counter()
            stop.set()
            watcher.join()
            assert report.arrival.folder == "INBOX" and report.cleanup.deleted, report
            totals.append((end - begin) * 1000)
            deliveries.append((seen[0] - begin) * 1000)
            after.append((end - seen[0]) * 1000)
            arrivals.append(report.arrival.seconds * 1000)
        med = statistics.median
        print(f"roundtrip total:             {med(totals):7.1f} ms")
        print(
            f"  message file appears at:   {med(deliveries):7.1f} ms (server delivery, "
            "from the start)"
        )
        print(f"  command after that:        {med(after):7.1f} ms (notice it, delete it, log out)")
        print(f"  arrival.seconds reported:  {med(arrivals):7.1f} ms (end of DATA to seeing it)")
    finally:
        lab.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
