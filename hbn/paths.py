"""Where the repository's parts live (one place: hbn.book, hbn.toc, hbn.variants and the page
helpers all read these)."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
