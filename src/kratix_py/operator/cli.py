"""``kratix-py operator``: run the operator until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging

from kratix_py.errors import CommandError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from kratix_py.operator.settings import OperatorSettings

    parser.epilog = (
        "A flag wins over its KRATIX_PY_* environment variable, which wins over the default shown."
    )
    OperatorSettings.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    import kopf

    from kratix_py.operator.app import Operator
    from kratix_py.operator.settings import OperatorSettings

    try:
        settings = OperatorSettings.from_sources(args)
    except ValueError as error:
        raise CommandError(str(error)) from None
    kopf.configure(
        verbose=settings.log_level.upper() == "DEBUG",
        quiet=settings.log_level.upper() in ("WARNING", "ERROR"),
        log_format=kopf.LogFormat.JSON if settings.log_format == "json" else kopf.LogFormat.FULL,
    )
    logging.getLogger("kratix_py").setLevel(settings.log_level.upper())
    from kratix_py import kube as k
    from kratix_py.operator import kratix_config, logs, metrics_endpoint

    for handler in logging.getLogger().handlers:  # kopf.configure's: lines name their object
        logs.install(handler, json=settings.log_format == "json")

    # Kratix's ConfigMap fills in what no flag or variable set (read once, as Kratix does).
    api_client = k.load_api_client(settings.kubeconfig)
    config = kratix_config.read(k.Kube(api_client))
    kratix_config.report(config)
    try:
        settings = OperatorSettings.from_sources(args, config=config.settings)
    except ValueError as error:
        raise CommandError(f"{error} (set by ConfigMap {kratix_config.WHERE})") from None
    operator = Operator(settings, api_client)
    metrics_endpoint.serve(settings.metrics_port)
    liveness = f"http://0.0.0.0:{settings.health_port}/healthz" if settings.health_port else None
    asyncio.run(operator.run(liveness_endpoint=liveness))
    return 0
