"""The PDF's text pages: the standard PDF fonts where they can show the text, embedded fonts where
they cannot (a character outside Windows-1252), and the same line pitch either way."""

from __future__ import annotations

import re
from pathlib import Path

from rfatrial.analysis.report import Section, Table, _core_fonts, _pdf


def fonts(pdf: bytes) -> set[str]:
    return {m.decode() for m in re.findall(rb"/BaseFont\s*/([A-Za-z0-9+-]+)", pdf)}


def test_core_fonts_cover_windows_1252_only() -> None:
    assert _core_fonts("eGFR, mL/min/1.73m²; bilirubin, µmol/L; CIRSE >= 3 - naïve")
    assert not _core_fonts("grade ≥ 3")
    assert not _core_fonts("Site Łódź")


def test_text_pages_standard_fonts_unless_they_lack_a_character(tmp_path: Path) -> None:
    latin = Section(
        "a",
        "Baseline",
        ["Albumin, g/L; creatinine, µmol/L"],
        [Table("Rows", ["", "n"], [["eGFR, mL/min/1.73m²", "3"]])],
    )
    assert _pdf([latin], tmp_path / "latin.pdf", "0" * 64) == 1
    assert fonts((tmp_path / "latin.pdf").read_bytes()) == {"Helvetica-Bold", "Courier"}
    other = Section("b", "Sites", ["Site Łódź: 12 patients, grade ≥ 3"])
    assert _pdf([latin, other], tmp_path / "both.pdf", "0" * 64) == 2
    found = fonts((tmp_path / "both.pdf").read_bytes())
    assert {"Helvetica-Bold", "Courier"} <= found
    assert any("DejaVu" in f for f in found)  # the page with Ł and ≥ embeds its fonts
