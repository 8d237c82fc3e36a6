"""The kubelet stand-in's log endpoint: the path the API server proxies ``kubectl logs`` to, over mutual TLS."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from kratix_py.local_platform.controlplane_pki import Pki, generate
from kratix_py.local_platform.kubelet_logs import KubeletLogServer, tail

LOGS = {("default", "job-pod", "greet"): "one\ntwo\nthree\n"}
PREVIOUS = {("default", "job-pod", "greet"): "the run before the restart\n"}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return generate(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def server(pki: Pki) -> Iterator[KubeletLogServer]:
    running = KubeletLogServer(
        lambda ns, pod, container: LOGS.get((ns, pod, container)),
        previous_lookup=lambda ns, pod, container: PREVIOUS.get((ns, pod, container)),
        cert=pki.serving.cert,
        key=pki.serving.key,
        client_ca=pki.ca.cert,
    ).start()
    yield running
    running.stop()


def _get(server: KubeletLogServer, pki: Pki, path: str, client: Path | None) -> tuple[int, str]:
    context = ssl.create_default_context(cafile=str(pki.ca.cert))
    if client is not None:
        context.load_cert_chain(str(client), str(client.with_suffix(".key")))
    try:
        with urllib.request.urlopen(
            f"https://127.0.0.1:{server.port}{path}", context=context, timeout=10
        ) as a:
            return a.status, a.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_the_api_servers_client_certificate_reads_a_containers_log_tail(
    server: KubeletLogServer, pki: Pki
) -> None:
    code, text = _get(
        server, pki, "/containerLogs/default/job-pod/greet?tailLines=2", pki.kubelet_client.cert
    )
    assert (code, text) == (200, "two\nthree\n")


def test_an_unknown_container_is_404_and_names_it(server: KubeletLogServer, pki: Pki) -> None:
    code, text = _get(server, pki, "/containerLogs/default/job-pod/other", pki.kubelet_client.cert)
    assert code == 404 and '"other"' in text


def test_previous_reads_the_run_before_a_restart_and_is_400_when_there_was_none(
    server: KubeletLogServer, pki: Pki
) -> None:
    path = "/containerLogs/default/job-pod/{}?previous=true&tailLines=5"
    code, text = _get(server, pki, path.format("greet"), pki.kubelet_client.cert)
    assert (code, text) == (200, "the run before the restart\n")
    code, text = _get(server, pki, path.format("other"), pki.kubelet_client.cert)
    assert code == 400 and 'previous terminated container "other"' in text


def test_a_client_without_a_certificate_of_the_cluster_ca_is_refused(
    server: KubeletLogServer, pki: Pki
) -> None:
    with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
        _get(server, pki, "/containerLogs/default/job-pod/greet", None)


def test_tail_applies_lines_then_bytes() -> None:
    assert tail("a\nb\nc\n", 2, None) == "b\nc\n"
    assert tail("a\nb\nc\n", None, 3) == "a\nb"
    assert tail("a\nb\n", 0, None) == ""
