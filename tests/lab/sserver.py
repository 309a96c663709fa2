"""`openssl s_server` as a real TLS peer for the scanner: old protocols, anonymous suites.

OpenSSL 3 still negotiates TLS 1.0/1.1, anonymous (aNULL) and NULL suites at
@SECLEVEL=0, which is what mail servers configured long ago do. Each server is its own
process on a tls-verdicts loopback address, stopped by its process id.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.lab.pki import Pair
from tests.lab.servers import LabError, Process, ensure_free, wait_for_ports


def start_s_server(
    name: str, address: str, port: int, pair: Pair, directory: Path, *options: str
) -> Process:
    """openssl s_server on address:port with the given extra options (protocols, ciphers)."""
    ensure_free([(address, port)], name)
    log = directory / f"{name}.log"
    command = [
        "openssl",
        "s_server",
        "-quiet",
        "-accept",
        f"{address}:{port}",
        "-cert",
        str(pair.cert_file),
        "-key",
        str(pair.key_file),
        *options,
    ]
    try:
        popen = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
    except OSError as exc:
        raise LabError(f"cannot start openssl s_server: {exc}") from None
    process = Process(name, popen, log)
    try:
        wait_for_ports([(address, port)], process)
    except LabError:
        process.stop()
        raise
    return process
