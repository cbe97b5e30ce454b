"""`jijiu rank-demo` (the routing demo) runs end to end and prints what it promises."""

from __future__ import annotations

from pathlib import Path

import pytest

from dispatch.cli import main


def test_demo_prints_network_load_times_and_ranking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """On the Wulin fixture: size, cold and cached load, a 5-row table, and a picture."""
    monkeypatch.setenv("JIJIU_CACHE_DIR", str(tmp_path / "cache"))
    png = tmp_path / "rank.png"
    assert main(["rank-demo", "--network", "wulin", "--units", "50", "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "3,949 nodes" in out
    assert "cold" in out and "cached" in out
    rows = [line for line in out.splitlines() if line[:4].strip().isdigit()]
    assert len(rows) == 5
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"


def test_demo_refuses_a_silly_fleet(capsys: pytest.CaptureFixture[str]) -> None:
    """--units 0 is a usage error (exit 2), not a crash."""
    with pytest.raises(SystemExit) as info:
        main(["rank-demo", "--network", "wulin", "--units", "0"])
    assert info.value.code == 2
