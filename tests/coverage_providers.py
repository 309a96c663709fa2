"""Coverage report: the share of the public databases' mailbox domains that
`maildiag lookup --no-mx` answers, and the misses.

Run by hand (not in CI; it needs the two snapshots, read with git only):

    python tests/coverage_providers.py --ispdb GIT_DIR --deltachat GIT_DIR [--curated-only]

GIT_DIR: a clone (bare or not) of thunderbird/autoconfig and of deltachat/provider-db.
Every <domain> of ispdb/* and every `domains` item of _providers/*.md counts (wildcard
domains excepted); each is looked up exactly as `lookup --no-mx` does.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from diag.errors import BadInput
from diag.providers import autoconfig, deltachat
from diag.providers.database import load
from diag.providers.lookup import lookup_offline, parse_query


def git(git_dir: Path, *args: str) -> bytes:
    return subprocess.run(
        ["git", f"--git-dir={git_dir}", *args], check=True, capture_output=True
    ).stdout


def files(git_dir: Path, prefix: str) -> list[str]:
    names = git(git_dir, "ls-tree", "-r", "--name-only", "HEAD", prefix).decode().splitlines()
    return [n for n in names if n.count("/") == 1]


def ispdb_domains(git_dir: Path) -> dict[str, str]:
    out = {}
    for name in files(git_dir, "ispdb/"):
        try:
            root = autoconfig.parse_xml(git(git_dir, "show", f"HEAD:{name}"), name)
        except BadInput:
            continue
        for element in root.iter():
            if element.tag.rpartition("}")[2] == "domain" and (element.text or "").strip():
                out.setdefault(element.text.strip().lower(), name)
    return out


def deltachat_domains(git_dir: Path) -> dict[str, str]:
    out = {}
    for name in files(git_dir, "_providers/"):
        if not name.endswith(".md") or name.endswith("example.com.md"):
            continue
        try:
            meta = deltachat.front_matter(git(git_dir, "show", f"HEAD:{name}").decode(), name)
        except (BadInput, UnicodeDecodeError):
            continue
        for domain in meta.get("domains") or []:
            if isinstance(domain, str) and "*" not in domain:
                out.setdefault(domain.strip().lower(), name)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ispdb", type=Path, required=True)
    parser.add_argument("--deltachat", type=Path, required=True)
    parser.add_argument(
        "--curated-only", action="store_true", help="only maildiag's own entries (a baseline)"
    )
    args = parser.parse_args()
    database = load(default_user=False)
    layers = {"curated"} if args.curated_only else {"curated", "ispdb", "deltachat", "user"}
    total_hits = total = 0
    misses: list[tuple[str, str]] = []
    for title, domains in (
        ("Thunderbird ISPDB", ispdb_domains(args.ispdb)),
        ("Delta Chat provider database", deltachat_domains(args.deltachat)),
    ):
        hits = 0
        for domain, source in sorted(domains.items()):
            try:
                found = database.candidates(parse_query(domain).domain)
            except BadInput:
                misses.append((domain, f"{source} (not a valid domain)"))
                continue
            found = [p for p in found if p.layer in layers]
            hits += bool(found)
            if not found:
                misses.append((domain, source))
            elif not args.curated_only:
                assert lookup_offline(parse_query(domain), database).provider is found[0]
        share = 100 * hits / len(domains) if domains else 0
        print(f"{title}: {hits} of {len(domains)} mailbox domains answered ({share:.1f}%)")
        total_hits += hits
        total += len(domains)
    print(f"both: {total_hits} of {total} ({100 * total_hits / total:.1f}%)")
    print(f"misses ({len(misses)}):")
    for domain, source in misses:
        print(f"  {domain}  [{source}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
