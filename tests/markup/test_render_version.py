"""Stored renders stay true: `TELEGRAM_HTML_VERSION` changes whenever the output does.

Summaries keep their Telegram HTML (rendered when written); a render of another version is
redone. So a change to `to_telegram_html`'s output must bump the version, or readers would see
the old rendering. This digest of the real corpus' renders fails the suite until both move.
"""

import hashlib

from markup import TELEGRAM_HTML_VERSION, to_telegram_html
from tests.paths import PAPERNOTES
from tests.seed import seed_papers

# The digest each version produced (add a line when bumping the version; keep the old ones).
DIGESTS = {1: "c6db252ef78cf1a44c4ada9cf51e6d7c98d13191da979c309552b2965d2b2bee"}


def test_the_renderer_version_names_its_output() -> None:
    texts = [seed.summary for seed in seed_papers()]
    texts += [note.read_text(encoding="utf-8") for note in sorted(PAPERNOTES.glob("*.md"))]
    assert len(texts) > 100
    digest = hashlib.sha256()
    for text in texts:
        digest.update(to_telegram_html(text).encode())
        digest.update(b"\0")
    assert digest.hexdigest() == DIGESTS[TELEGRAM_HTML_VERSION], (
        "to_telegram_html's output changed: bump markup.TELEGRAM_HTML_VERSION and record "
        "the new digest here"
    )
