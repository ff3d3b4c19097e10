"""The committed dashboard assets are exactly what `make frontend` builds from web/frontend/src."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "web" / "frontend" / "src"
BUILT = ROOT / "src" / "watchkeeper" / "web" / "static"


def test_built_assets_match_their_sources() -> None:
    sources = sorted(p.name for p in SOURCE.iterdir() if p.is_file())
    assert sources == ["dashboard.css", "dashboard.js"]
    for name in sources:
        assert (BUILT / name).read_bytes() == (SOURCE / name).read_bytes(), (
            f"{name}: edit web/frontend/src/{name}, then run `make frontend`"
        )


def test_uplot_is_shipped_with_its_licence() -> None:
    assert (BUILT / "uPlot.iife.min.js").stat().st_size > 10_000
    assert "MIT" in (BUILT / "uPlot.LICENSE").read_text()
    assert (BUILT / "VERSION").read_text().startswith("uPlot ")
