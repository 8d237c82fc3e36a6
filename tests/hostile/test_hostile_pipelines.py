"""The bad-input suite: hostile pipelines on the local platform with real containers (issue 13).

One pipeline image (images/pipeline) does what the request's ``spec.case`` names. Every case runs
as its own request of one Promise, all at once, on the local platform (API emulator, pod runner
with podman, the operator, a Git server with two Destinations). For each case the table says what
must happen: the pipeline is refused with a reason that names the file or field, or it is accepted.
Then, for all of them together: nothing was written outside its directory in Git, the requests
that were there before are untouched, and the operator still serves a new request.

Some cases are refused by the operator rather than in the pipeline (issue 13 items 1 and 2: a
forged Work, ``filepath.mode: none`` clashes and writes into ``.kratix/``): their pipelines run to
the end, and what is checked is the refusal the operator reports.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kratix_py import contract as c
from kratix_py import kube as k
from kratix_py.core import conditions as cond
from kratix_py.local_platform.gitserver import GitServer
from kratix_py.local_platform.kratix_image import build_pipeline_image, ensure_kratix_image
from kratix_py.local_platform.operator import RunningOperator, settings_for
from kratix_py.operator import resources as r
from kratix_py.testing.fixtures import wait_for

pytestmark = [pytest.mark.containers, pytest.mark.slow]

_TREE = hashlib.sha256(str(Path(__file__).resolve().parents[2]).encode()).hexdigest()[:10]
PIPELINE_IMAGE = f"localhost/kratix-py-hostile-pipeline:{_TREE}"
ADAPTER_IMAGE = f"localhost/kratix-py-hostile-adapter:{_TREE}"
"""kratix-py's image under a tag of the suite's own, one per source tree: another checkout running
this suite at the same time rebuilds its own tag, and cannot swap the adapter (or the pipeline
image) under this run with images built from other sources."""
GROUP = "hostile.kratix.io"
REQUESTS = k.Resource(GROUP, "v1alpha1", "hostiles", True, "Hostile")
NAMESPACE = "default"
PASSWORD = "git-Pa55word-hostile"
TOKEN = "tok_hostile_5f4e3d2c1b"
REFUSED = "refused with a named reason"
ACCEPTED = "accepted"
SETTLE_TIMEOUT = 900.0
CANARIES = ("dev/dependencies/kratix-canary-namespace.yaml", "dev/resources/kratix-canary-configmap.yaml")


@dataclass(frozen=True)
class Case:
    """One hostile input: what the pipeline does (``name`` = ``spec.case``) and what must happen."""

    name: str
    item: str
    """Where it comes from: an item of issue 13, or ``handled`` for inputs refused before."""
    outcome: str
    reason: str = ""
    """Part of the refusal message: the file or field and the problem."""
    by_operator: bool = False
    """Refused by the operator, not in the pipeline (whose run succeeds): see the extra checks."""
    extra: tuple[str, ...] = field(default_factory=tuple)

    @property
    def request(self) -> str:
        return f"case-{self.name}"


CASES = [
    # refused before this work
    Case("ok", "handled", ACCEPTED),
    Case("empty-output", "handled", ACCEPTED),
    Case("symlink", "handled", REFUSED, "output file passwd.yaml is a symbolic link (to /etc/passwd)"),
    Case("fifo", "handled", REFUSED, "output file pipe.yaml is not a regular file (a pipe (FIFO))"),
    Case("invalid-yaml", "handled", REFUSED, "output file broken.yaml is not valid YAML"),
    Case("non-utf8-name", "handled", REFUSED, 'output file name "caf\\xe9.yaml" is not valid UTF-8'),
    Case(
        "bad-selectors",
        "handled",
        REFUSED,
        "destination-selectors.yaml entry 0: directory 'a/b' is not allowed",
    ),
    Case("forged-conditions", "handled", ACCEPTED, extra=("operator-conditions",)),
    Case(
        "status-kratix-key",
        "handled",
        REFUSED,
        "status.yaml: 'kratix' is a status field managed by kratix-py",
    ),
    Case("status-invalid-yaml", "handled", REFUSED, "status.yaml is not valid YAML"),
    Case("bad-retry-after", "handled", REFUSED, "workflow-control.yaml: retryAfter"),
    Case("failing-container", "handled", REFUSED, "container main exited 3: the database quota is exceeded"),
    Case("bad-work-path", "handled", REFUSED, "'../../../escape.yaml' contains '..'", extra=("placement",)),
    # item 3: YAML within limits
    Case("status-alias-bomb", "3", REFUSED, "status.yaml expands to more than 1000000 values"),
    Case("status-deep-nesting", "3", REFUSED, "status.yaml nests deeper than 100 levels"),
    Case(
        "selectors-alias-bomb", "3", REFUSED, "destination-selectors.yaml expands to more than 1000000 values"
    ),
    Case("control-alias-bomb", "3", REFUSED, "workflow-control.yaml expands to more than 1000000 values"),
    Case("output-alias-bomb", "3", REFUSED, "output file bomb.yaml expands to more than 1000000 values"),
    Case("status-symlink", "3", REFUSED, "status.yaml is a symbolic link; write a regular file instead"),
    Case("status-fifo", "3", REFUSED, "status.yaml is a pipe (FIFO)"),
    # item 4: Secrets in status
    Case(
        "print-secret",
        "4",
        REFUSED,
        "exited 3: logging in with *** | token=*** was rejected",
        extra=("no-secret",),
    ),
    # item 5: size
    Case(
        "huge-file", "5", REFUSED, "output file huge.yaml is 50.0 MiB, over the limit of 8.0 MiB for one file"
    ),
    Case("work-too-big", "5", REFUSED, "largest files once compressed: noise.bin (1.6 MiB)"),
    Case("too-many-files", "5", REFUSED, "the output has more than 1000 files and directories"),
    Case("status-too-big", "5", REFUSED, "status.yaml is 300.0 KiB, over the limit of 256.0 KiB"),
    # item 6: paths, and YAML that is not a Kubernetes object
    Case("dot-git-path", "6", REFUSED, "output directory '.GIT' contains a '.git' segment"),
    Case("backslash-name", "6", REFUSED, "output file 'a\\\\b.yaml' contains a backslash"),
    Case("newline-name", "6", REFUSED, "output file 'line\\nbreak.yaml' contains a control character"),
    Case("yaml-list", "6", REFUSED, "output file values.yaml is a list, not an object"),
    Case("yaml-scalar", "6", REFUSED, "output file values.yaml is a str, not an object"),
    Case("yaml-no-kind", "6", REFUSED, "output file values.yaml has no apiVersion and no kind"),
    # item 7: least privilege by default
    Case("privileges", "7", ACCEPTED, extra=("unprivileged",)),
    # items 1 and 2: refused by the operator
    Case("forged-work", "1", REFUSED, "forged identity", by_operator=True, extra=("victim-kept",)),
    Case(
        "flat-clash-a", "2", REFUSED, "shared.yaml is also claimed by", by_operator=True, extra=("reported",)
    ),
    Case(
        "flat-clash-b", "2", REFUSED, "shared.yaml is also claimed by", by_operator=True, extra=("reported",)
    ),
    Case(
        "flat-bookkeeping",
        "2",
        REFUSED,
        "is in .kratix/, where kratix-py keeps the Destination's bookkeeping",
        by_operator=True,
        extra=("reported",),
    ),
]


# -- the platform ------------------------------------------------------------------------------------


def _promise() -> dict[str, Any]:
    container = {
        "name": "main",
        "image": PIPELINE_IMAGE,
        "env": [
            {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hostile-token", "key": "token"}}}
        ],
    }
    schema = {
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {"case": {"type": "string"}}}},
    }
    return {
        "apiVersion": c.API_VERSION,
        "kind": "Promise",
        "metadata": {"name": "hostile"},
        "spec": {
            "api": {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": f"hostiles.{GROUP}"},
                "spec": {
                    "group": GROUP,
                    "scope": "Namespaced",
                    "names": {"kind": "Hostile", "plural": "hostiles", "singular": "hostile"},
                    "versions": [
                        {
                            "name": "v1alpha1",
                            "served": True,
                            "storage": True,
                            "schema": {"openAPIV3Schema": schema},
                        }
                    ],
                },
            },
            "workflows": {
                "resource": {
                    "configure": [
                        {
                            "apiVersion": c.API_VERSION,
                            "kind": "Pipeline",
                            "metadata": {"name": "configure"},
                            # Fail fast: a refused input is refused again on every retry.
                            "spec": {"containers": [container], "jobOptions": {"backoffLimit": 0}},
                        }
                    ]
                }
            },
        },
    }


def _secret(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()},
    }


def _destination(name: str, labels: dict[str, str], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": c.API_VERSION,
        "kind": "Destination",
        "metadata": {"name": name, "labels": labels},
        "spec": {"path": name, "stateStoreRef": {"kind": "GitStateStore", "name": "git"}, **spec},
    }


def _request(name: str, case: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1alpha1",
        "kind": "Hostile",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"case": case},
    }


def _condition(obj: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    found = cond.find(((obj or {}).get("status") or {}).get("conditions"), kind)
    return dict(found) if found else {}


def _settled(kube: k.Kube, name: str) -> dict[str, Any] | None:
    """The request once its workflow is over: failed, or completed and its Works no longer pending."""
    obj = kube.get(REQUESTS, name, NAMESPACE)
    completed = _condition(obj, c.CONDITION_CONFIGURE_WORKFLOW_COMPLETED).get("status") == "True"
    if completed and _condition(obj, c.CONDITION_RECONCILED).get("status") in ("True", "False"):
        return obj
    if _condition(obj, c.CONDITION_CONFIGURE_WORKFLOW_COMPLETED).get("reason") == "ConfigureWorkflowFailed":
        return obj
    return None


@dataclass
class Suite:
    kube: k.Kube
    git: GitServer
    repo: str
    operator: RunningOperator
    before: dict[str, Any]
    """The victims' files and status before the cases ran."""
    results: dict[str, dict[str, Any]]
    """Request name -> the request once settled."""

    def tree(self) -> dict[str, bytes]:
        return self.git.read_tree(self.repo)

    def request_dir(self, name: str) -> str:
        return f"dev/resources/{NAMESPACE}/hostile/{name}/"


def _victims(kube: k.Kube, git: GitServer, repo: str) -> dict[str, Any]:
    tree = git.read_tree(repo)
    state: dict[str, Any] = {}
    for name in ("victim", "victim-forged"):
        obj = kube.get(REQUESTS, name, NAMESPACE) or {}
        prefix = f"dev/resources/{NAMESPACE}/hostile/{name}/"
        state[name] = {
            "files": {path: data for path, data in tree.items() if path.startswith(prefix)},
            "status": {key: value for key, value in (obj.get("status") or {}).items() if key != "conditions"},
            "reconciled": _condition(obj, c.CONDITION_RECONCILED).get("status"),
        }
    return state


@pytest.fixture(scope="module")
def suite(platform_factory_module: Callable[..., Any], base_image: str) -> Iterator[Suite]:
    ensure_kratix_image(ADAPTER_IMAGE)
    build_pipeline_image(Path(__file__).parent / "images" / "pipeline", PIPELINE_IMAGE)
    with GitServer(username="kratix", password=PASSWORD, https=False, ssh=False) as git:
        repo = "hostile-state"
        git.create_repo(repo)
        platform = platform_factory_module(pods="podman")
        kube = k.Kube(platform.api_client())
        kube.create(k.SECRETS, _secret("git-creds", {"username": "kratix", "password": PASSWORD}))
        kube.create(k.SECRETS, _secret("hostile-token", {"token": TOKEN}))
        kube.create(
            r.GIT_STATE_STORES,
            {
                "apiVersion": c.API_VERSION,
                "kind": "GitStateStore",
                "metadata": {"name": "git"},
                "spec": {
                    "url": git.http_url(repo),
                    "secretRef": {"name": "git-creds", "namespace": NAMESPACE},
                },
            },
        )
        kube.create(r.DESTINATIONS, _destination("dev", {"env": "dev"}))
        kube.create(
            r.DESTINATIONS,
            _destination("flat", {"mode": "flat"}, strictMatchLabels=True, filepath={"mode": "none"}),
        )
        settings = settings_for(str(platform.kubeconfig), pipeline_adapter_image=ADAPTER_IMAGE)
        with RunningOperator(settings) as operator:
            kube.create(r.PROMISES, _promise())
            wait_for(
                lambda: (
                    (kube.get(r.PROMISES, "hostile") or {}).get("status", {}).get("status") == "Available"
                ),
                timeout=60,
                what="the Promise to become Available",
            )
            for victim in ("victim", "victim-forged"):
                kube.create(REQUESTS, _request(victim, "ok"))
            for victim in ("victim", "victim-forged"):
                wait_for(
                    lambda v=victim: (
                        _condition(kube.get(REQUESTS, v, NAMESPACE), "Reconciled").get("status") == "True"
                    ),
                    timeout=240,
                    what=f"{victim} to be reconciled",
                )
            before = _victims(kube, git, repo)
            for case in CASES:
                kube.create(REQUESTS, _request(case.request, case.name))
            results: dict[str, dict[str, Any]] = {}
            deadline = time.monotonic() + SETTLE_TIMEOUT
            while len(results) < len(CASES) and time.monotonic() < deadline:
                for case in CASES:
                    if case.request not in results and (settled := _settled(kube, case.request)):
                        results[case.request] = settled
                time.sleep(1)
            yield Suite(kube, git, repo, operator, before, results)


@pytest.fixture(scope="module")
def platform_factory_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Any]]:
    """``platform_factory`` for a whole module: every case shares one platform and operator."""
    from kratix_py.local_platform.platform import LocalPlatform
    from kratix_py.testing.fixtures import install_crds

    started: list[LocalPlatform] = []

    def start(**options: Any) -> LocalPlatform:
        platform = LocalPlatform(workdir=tmp_path_factory.mktemp("hostile-platform"), **options).start()
        started.append(platform)
        install_crds(k.Kube(platform.api_client()))
        return platform

    yield start
    for platform in reversed(started):
        platform.stop()


# -- the checks -----------------------------------------------------------------------------------------


def _case_params() -> list[Any]:
    return [pytest.param(case, id=case.name) for case in CASES]


def _placements_of(kube: k.Kube, work: str) -> list[dict[str, Any]]:
    return kube.list(r.WORKPLACEMENTS, NAMESPACE, labels={c.LABEL_WORK: work})


def _check_extra(suite: Suite, case: Case, obj: dict[str, Any]) -> None:
    kube = suite.kube
    if "operator-conditions" in case.extra:
        # The pipeline wrote Reconciled/WorksSucceeded itself; the operator's own verdict stands.
        for kind in (c.CONDITION_RECONCILED, c.CONDITION_WORKS_SUCCEEDED):
            assert _condition(obj, kind).get("reason") != "Forged", _condition(obj, kind)
    if "unprivileged" in case.extra:
        status = obj["status"]
        assert status["uid"] != 0, "pipeline containers run as a non-root user"
        assert status["capEff"] == "0000000000000000", "with no capabilities"
        assert status["noNewPrivs"] == "1", "and no privilege escalation"
    if "no-secret" in case.extra:
        events = kube.list(k.EVENTS, NAMESPACE)
        everything = json.dumps([obj, events])
        assert TOKEN not in everything
        assert any("***" in event.get("message", "") for event in events)
    if "placement" in case.extra:
        work = f"evil-{case.request}"
        placement = wait_for(
            lambda: next(
                (
                    p
                    for p in _placements_of(kube, work)
                    if _condition(p, c.CONDITION_WRITE_SUCCEEDED).get("status") == "False"
                ),
                None,
            ),
            timeout=120,
            what=f"the WorkPlacement of {work} to refuse its path",
        )
        assert case.reason in _condition(placement, c.CONDITION_WRITE_SUCCEEDED)["message"]
    if "reported" in case.extra:
        obj = kube.get(REQUESTS, case.request, NAMESPACE) or obj
        reported = [
            condition
            for condition in (obj.get("status") or {}).get("conditions") or []
            if condition.get("status") == "False" and case.reason in str(condition.get("message"))
        ]
        assert reported, f"no condition of {case.request} reports the problem with {case.reason}"
        events = [
            event
            for event in kube.list(k.EVENTS, NAMESPACE)
            if (event.get("involvedObject") or {}).get("name") == case.request
            and event.get("type") == "Warning"
            and case.reason in event.get("message", "")
        ]
        assert events, f"no Warning Event on {case.request} reports the problem with {case.reason}"
    if "victim-kept" in case.extra:
        forged = f"forged-{case.request}"
        wait_for(
            lambda: (
                kube.get(r.WORKS, forged, NAMESPACE) is None
                or _condition(kube.get(r.WORKS, forged, NAMESPACE), c.CONDITION_READY)
            ),
            timeout=120,
            what=f"the Work {forged} to be handled",
        )
        time.sleep(5)  # any placement of the forged Work has been written by now
        victim = _victims(kube, suite.git, suite.repo)["victim-forged"]
        assert victim["files"] == suite.before["victim-forged"]["files"], "the victim's files were replaced"
        work = kube.get(r.WORKS, forged, NAMESPACE)
        assert work is not None, f"the forged Work {forged} is kept, refused, for a person to see"
        refused = _condition(work, c.CONDITION_READY)
        assert refused.get("status") == "False" and case.reason in refused.get("message", ""), refused
        assert _placements_of(kube, forged) == []
        assert suite.before["victim-forged"]["reconciled"] == victim["reconciled"] == "True"


def _refusal_messages(obj: dict[str, Any]) -> str:
    messages = [
        str(condition.get("message", "")) for condition in (obj.get("status") or {}).get("conditions") or []
    ]
    return "\n".join(messages)


@pytest.mark.parametrize("case", _case_params())
def test_hostile_input(suite: Suite, case: Case, record_property: Callable[[str, object], None]) -> None:
    record_property("hostile_case", case.name)
    record_property("hostile_expected", case.outcome)
    obj = suite.results.get(case.request)
    assert obj is not None, f"{case.request} did not settle within {SETTLE_TIMEOUT:.0f}s"
    own_files = [path for path in suite.tree() if path.startswith(suite.request_dir(case.request))]
    failed = (
        _condition(obj, c.CONDITION_CONFIGURE_WORKFLOW_COMPLETED).get("reason") == "ConfigureWorkflowFailed"
    )
    if case.by_operator:
        # Refused by the operator, not in the pipeline (whose run succeeds): see the extra checks.
        assert not failed, _condition(obj, c.CONDITION_CONFIGURE_WORKFLOW_COMPLETED)
    elif case.outcome == ACCEPTED or "placement" in case.extra:
        assert not failed, _condition(obj, c.CONDITION_CONFIGURE_WORKFLOW_COMPLETED)
        assert _condition(obj, c.CONDITION_RECONCILED).get("status") == "True" or "placement" in case.extra
        if case.name != "empty-output":
            assert own_files, f"{case.request} wrote nothing to its directory"
    else:
        messages = _refusal_messages(obj)
        assert failed and case.reason in messages, messages
        assert own_files == [], "a refused pipeline changed nothing in the state store"
        assert suite.kube.list(r.WORKS, NAMESPACE, labels={c.LABEL_RESOURCE_NAME: case.request}) == []
    _check_extra(suite, case, obj)


def test_nothing_was_written_outside_its_directory(suite: Suite) -> None:
    # Whose pipeline ran to the end may have files, each in its own directory; no refused one has.
    ran = {
        case.request
        for case in CASES
        if case.outcome == ACCEPTED or case.by_operator or "placement" in case.extra
    }
    owners = ran | {"victim", "victim-forged", "after-all"}
    prefix = f"dev/resources/{NAMESPACE}/hostile/"
    for path in suite.tree():
        assert path.startswith(("dev/", "flat/")), f"{path!r} is outside every Destination's directory"
        assert "escape" not in path
        if path.startswith(prefix):
            assert path[len(prefix) :].split("/", 1)[0] in owners, path
        elif path.startswith("dev/"):
            assert path in CANARIES, f"{path!r} is in the Destination but in no request's directory"


def test_the_requests_that_were_there_are_untouched(suite: Suite) -> None:
    after = _victims(suite.kube, suite.git, suite.repo)
    assert after["victim"] == suite.before["victim"]
    assert after["victim"]["reconciled"] == "True"


def test_the_operator_still_serves(suite: Suite) -> None:
    assert len(suite.results) == len(CASES)
    suite.kube.create(REQUESTS, _request("after-all", "ok"))
    wait_for(
        lambda: (
            _condition(suite.kube.get(REQUESTS, "after-all", NAMESPACE), "Reconciled").get("status") == "True"
        ),
        timeout=240,
        what="a new request to be reconciled after every hostile case",
    )
    assert [path for path in suite.tree() if path.startswith(suite.request_dir("after-all"))]
