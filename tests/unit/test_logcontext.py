"""Log lines carry their strategy, subcloud and step."""

import logging

from dcmanager.common import logcontext


def test_the_context_prefixes_the_message_and_is_on_the_record(caplog):
    log = logcontext.bind(logging.getLogger("dcmanager.test"), 3, "sc1", 12)

    with caplog.at_level(logging.INFO, logger="dcmanager.test"):
        log.info("ended %s", "complete")

    (record,) = caplog.records
    assert record.getMessage() == "[strategy=3 subcloud=sc1 step=12] ended complete"
    assert (record.strategy, record.subcloud, record.step) == (3, "sc1", 12)


def test_unknown_fields_are_left_out(caplog):
    log = logcontext.bind(logging.getLogger("dcmanager.test"), subcloud="sc2", step=5)

    with caplog.at_level(logging.INFO, logger="dcmanager.test"):
        log.warning("no longer ours")

    (record,) = caplog.records
    assert record.getMessage() == "[subcloud=sc2 step=5] no longer ours"
    assert not hasattr(record, "strategy")
