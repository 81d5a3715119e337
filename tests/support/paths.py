"""Where the tests find the repository's files, so a test module can move without its paths."""

from __future__ import annotations

from pathlib import Path

#: The repository root (the directory holding pyproject.toml).
ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"
#: The shipped sample feeds, one ``NAME.xml`` each.
SAMPLE_FEEDS = SEEDS / "feeds"
#: The packaged seed dossier.
SEED_FILE = SEEDS / "hk-zhejiang-supply-chain.json"
#: Hostile, broken and mis-encoded bodies for the ingest tests.
INGEST_FIXTURES = ROOT / "tests" / "ingest" / "fixtures"


def ingest_fixture(name: str) -> bytes:
    """The bytes of ``tests/ingest/fixtures/NAME``."""
    return (INGEST_FIXTURES / name).read_bytes()
