"""A transactional source cluster for tests: librdkafka's mock cluster (confluent-kafka's
librdkafka 2.16, which writes transaction control markers; rdkafka 0.39's 2.12 does not).

Writes five transactions of five records to orders/0 (commit, abort, commit, abort, commit),
prints the mock's bootstrap address, and keeps the cluster up until stdin closes.
"""
import io
import logging
import re
import sys

from confluent_kafka import Producer

log = io.StringIO()
logger = logging.getLogger("mock")
logger.setLevel(logging.DEBUG)
logger.addHandler(logging.StreamHandler(log))
producer = Producer({
    "bootstrap.servers": "unused:1",
    "test.mock.num.brokers": 1,
    "transactional.id": "writer",
    "logger": logger,
})
producer.init_transactions(10)
n = 0
for commit in (True, False, True, False, True):
    producer.begin_transaction()
    for _ in range(5):
        producer.produce("orders", key=b"k", value=f"v{n}".encode(), partition=0, timestamp=1_000 + n)
        n += 1
    producer.flush(10)
    (producer.commit_transaction if commit else producer.abort_transaction)(10)
address = re.search(r"127\.0\.0\.1:\d+", log.getvalue())
if not address:
    sys.exit("the mock cluster's address was not logged")
print(address.group(0), flush=True)
sys.stdin.read()
