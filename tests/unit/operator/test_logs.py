"""Log lines name the object of the reconcile they belong to (issue 14, item 5)."""

from __future__ import annotations

import io
import json
import logging

from kopf._core.actions.loggers import ObjectJsonFormatter

from kratix_py.operator import logs


def _logged(formatter: logging.Formatter, *, inside: bool) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(logs.ObjectFilter())
    logger = logging.getLogger("kratix_py.test_logs")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        if inside:
            with logs.reconciling(logs.ObjectRef("Redis", "my-redis", "team-a"), 7):
                logger.warning("started pipeline %s", "first")
        else:
            logger.warning("leading")
    finally:
        logger.removeHandler(handler)
    return stream.getvalue().strip()


def test_text_lines_in_a_reconcile_name_kind_namespace_name_and_reconcile() -> None:
    line = _logged(logs.TextFormatter(), inside=True)
    assert line.endswith("Redis team-a/my-redis #7: started pipeline first"), line
    assert _logged(logs.TextFormatter(), inside=False).endswith("] leading")


def test_json_lines_carry_the_object_and_reconcile_as_fields() -> None:
    record = json.loads(_logged(ObjectJsonFormatter(), inside=True))
    assert record["message"] == "started pipeline first"
    assert record["object"] == {"kind": "Redis", "name": "my-redis", "namespace": "team-a"}
    assert record["reconcile"] == 7 and record["severity"] == "warn"
    assert "object" not in json.loads(_logged(ObjectJsonFormatter(), inside=False))


def test_keys_become_objects_in_the_users_words() -> None:
    assert str(logs.ref_for_key(("promise", "redis"))) == "Promise redis"
    assert str(logs.ref_for_key(("work", "default", "w"))) == "Work default/w"
    assert str(logs.ref_for_key(("statestore", "GitStateStore", "default"))) == "GitStateStore default"
    request = ("request", "test.kratix.io", "v1alpha1", "redises", "default", "my-redis")
    assert str(logs.ref_for_key(request, "Redis")) == "Redis default/my-redis"
