"""``bench_ray --scaling-table``: throughput on paper from a measured per-image time, 1 / 8 / 64 actors."""

from __future__ import annotations

import pytest

from tests.benchmarks.bench_ray import main, scaling_table


def test_the_table_scales_the_measured_rate_by_actors_less_the_overhead():
    rows = [line for line in scaling_table(30.0, 0.25).splitlines() if line.startswith("| ") and line[2].isdigit()]
    rates = [float(row.split("|")[2].replace(",", "")) for row in rows]
    assert [row.split("|")[1].strip() for row in rows] == ["1", "8", "64"]
    assert rates == pytest.approx([1.6, 12.8, 102.4], abs=0.01)  # 60 / (30 s x 1.25) per actor
    assert "| 64 | 102.40 | 6,144 | 16.3 |" in scaling_table(30.0, 0.25)


def test_it_needs_a_measured_figure(capsys):
    with pytest.raises(SystemExit):
        main(["--scaling-table"])
    assert "--seconds-per-image" in capsys.readouterr().err
