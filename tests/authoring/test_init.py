"""``init promise``: the scaffold is valid as written, and bad arguments are refused by flag."""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from kratix_py.authoring.init import TEMPLATES, PromiseScaffold, render_templates, scaffold_problem
from kratix_py.authoring.validate import validate

from .conftest import REPO, Outcome

SCAFFOLD = PromiseScaffold(
    name="my-db", group="db.example.com", kind="Database", version="v1beta1", plural="databases"
)


def test_init_writes_the_promise_folder(tmp_path: Path, run_cli: Callable[..., Outcome]) -> None:
    target = tmp_path / "my-db"
    outcome = run_cli(
        "init", "promise", "my-db", "--group", "db.example.com", "--kind", "Database", "--dir", target
    )
    assert outcome.code == 0, outcome.err
    written = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert written == [
        "README.md",
        "destinations.yaml",
        "example-request.yaml",
        "pipelines/configure/Dockerfile",
        "pipelines/configure/pipeline.py",
        "promise.yaml",
        "tests/example/expected/pipelines/configure/configmap.yaml",
        "tests/example/expected/scheduling.yaml",
        "tests/example/expected/status.yaml",
        "tests/example/request.yaml",
    ]
    assert (
        "python -m kratix_py.authoring.build pipelines/configure localhost/my-db-configure:v0.1.0"
        in outcome.out
    )


def test_the_scaffold_validates_without_warnings(tmp_path: Path) -> None:
    files = render_templates(SCAFFOLD)
    for relative, text in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    report = validate(
        tmp_path / "promise.yaml",
        [tmp_path / "example-request.yaml", tmp_path / "tests/example/request.yaml"],
    )
    assert report.findings == []
    assert [dict(r.defaults) for r in report.requests] == [{"spec.size": "small"}] * 2
    promise = yaml.safe_load(files["promise.yaml"])
    assert promise["spec"]["api"]["metadata"]["name"] == "databases.db.example.com"
    assert promise["spec"]["api"]["spec"]["versions"][0]["name"] == "v1beta1"
    request = yaml.safe_load(files["example-request.yaml"])
    assert (request["apiVersion"], request["kind"]) == ("db.example.com/v1beta1", "Database")
    compile(files["pipelines/configure/pipeline.py"], "pipeline.py", "exec")
    assert "FROM ${BASE_IMAGE}" in files["pipelines/configure/Dockerfile"]
    assert "$" not in files["tests/example/expected/status.yaml"].replace("<ignored>", "")


@pytest.mark.parametrize(
    ("change", "flag"),
    [
        ({"name": "My_DB"}, "NAME"),
        ({"group": "nodots"}, "--group"),
        ({"kind": "database"}, "--kind"),
        ({"version": "1.0"}, "--version"),
        ({"plural": "Databases"}, "--plural"),
    ],
)
def test_bad_arguments_are_refused_naming_the_flag(change: dict[str, str], flag: str) -> None:
    values = {**SCAFFOLD.values(), **change}
    scaffold = PromiseScaffold(
        values["name"], values["group"], values["kind"], values["version"], values["plural"]
    )
    problem = scaffold_problem(scaffold)
    assert problem is not None and problem.startswith(flag)


def test_init_never_overwrites_without_force(tmp_path: Path, run_cli: Callable[..., Outcome]) -> None:
    args = ("init", "promise", "my-db", "--group", "db.example.com", "--kind", "Database", "--dir", tmp_path)
    assert run_cli(*args).code == 0
    (tmp_path / "promise.yaml").write_text("# mine\n")
    refused = run_cli(*args)
    assert refused.code == 1
    assert "would overwrite README.md, destinations.yaml, example-request.yaml and 7 more" in refused.err
    assert (tmp_path / "promise.yaml").read_text() == "# mine\n"
    assert run_cli(*args, "--force").code == 0
    assert (tmp_path / "promise.yaml").read_text() != "# mine\n"


def test_the_templates_ship_with_the_package() -> None:
    """setuptools only packages data files matched by package-data; an unmatched template would be
    missing from an installed kratix-py, and init would scaffold an incomplete Promise."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["kratix_py"]
    package = REPO / "src" / "kratix_py"
    unmatched = [
        path.relative_to(package).as_posix()
        for path in TEMPLATES.rglob("*")
        if path.is_file()
        and not any(
            fnmatch.fnmatch(path.relative_to(package).as_posix(), p.replace("**/", "*")) for p in patterns
        )
    ]
    assert unmatched == [], f"add a package-data pattern for {unmatched} to pyproject.toml"
