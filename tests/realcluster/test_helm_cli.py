"""The real Helm CLI (built from its Go module) on both charts: lint and template, and the same
objects as the in-process renderer the chart tests use."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kratix_py.local_platform import helm
from kratix_py.testing.fixtures_controlplane import run_helm

pytestmark = [pytest.mark.real_cluster]

REPO = Path(__file__).resolve().parents[2]
DESTINATION_VALUES = REPO / "deploy" / "destination" / "values" / "flux-git.yaml"
CHARTS = {
    "kratix": [],
    "kratix-destination": ["--values", str(DESTINATION_VALUES)],
}


@pytest.mark.parametrize("chart", sorted(CHARTS))
def test_helm_lints_and_templates_the_chart_as_the_renderer_does(
    chart: str, helm_binary: Path, tmp_path: Path
) -> None:
    chart_dir = REPO / "charts" / chart
    linted = run_helm(helm_binary, "lint", str(chart_dir), *CHARTS[chart], home=tmp_path)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert "0 chart(s) failed" in linted.stdout
    templated = run_helm(helm_binary, "template", "release", str(chart_dir), *CHARTS[chart], home=tmp_path)
    assert templated.returncode == 0, templated.stderr
    from_cli = sorted((d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(templated.stdout) if d)
    values = yaml.safe_load(DESTINATION_VALUES.read_text()) if chart == "kratix-destination" else {}
    rendered = helm.render(chart_dir, values, name="release")
    from_renderer = sorted(
        (d["kind"], d["metadata"]["name"])
        for text in rendered.manifests.values()
        for d in yaml.safe_load_all(text)
        if d
    )
    assert from_cli, "helm template rendered nothing"
    assert from_cli == from_renderer
