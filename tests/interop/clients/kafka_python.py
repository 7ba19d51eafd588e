# kafka-python 2.0 (Debian python3-kafka; infers the broker version from ApiVersions, then uses fixed
# old versions) against gregor: acks=all produce, assign + consume, offsets_for_times, end offsets,
# and a gzip-compressed produce read back (docs/compression.md).
import sys, time
from kafka import KafkaProducer, KafkaConsumer, TopicPartition

broker = sys.argv[1]
topic = "kafka-python-%d" % int(time.time() * 1000)
p = KafkaProducer(bootstrap_servers=broker, acks="all", api_version_auto_timeout_ms=10000)
sent = [p.send(topic, key=b"k%d" % i, value=b"v%d" % i, partition=0).get(timeout=20) for i in range(3)]
assert [m.offset for m in sent] == [0, 1, 2], sent
p.close()

c = KafkaConsumer(bootstrap_servers=broker, consumer_timeout_ms=5000, api_version_auto_timeout_ms=10000,
                  enable_auto_commit=False, group_id=None)
tp = TopicPartition(topic, 0)
c.assign([tp])
c.seek_to_beginning(tp)
got = [(m.offset, m.value) for m in c]
assert got == [(0, b"v0"), (1, b"v1"), (2, b"v2")], got
found = c.offsets_for_times({tp: 0})[tp]
assert found.offset == 0 and found.timestamp == sent[0].timestamp, (found, sent[0])
assert c.end_offsets([tp])[tp] == 3
c.close()

# gzip: kafka-python compresses with Python's gzip module (its own framing code), gregor validates
# every record on append, and kafka-python decompresses what gregor serves.
gz = topic + "-gzip"
p = KafkaProducer(bootstrap_servers=broker, acks="all", compression_type="gzip", linger_ms=50,
                  api_version_auto_timeout_ms=10000)
futures = [p.send(gz, key=b"k%d" % i, value=(b"compressed value %d " % i) * 8, partition=0) for i in range(20)]
assert [f.get(timeout=20).offset for f in futures] == list(range(20))
p.close()
c = KafkaConsumer(bootstrap_servers=broker, consumer_timeout_ms=5000, api_version_auto_timeout_ms=10000,
                  enable_auto_commit=False, group_id=None)
tp = TopicPartition(gz, 0)
c.assign([tp])
c.seek_to_beginning(tp)
zgot = [(m.offset, m.key, m.value) for m in c]
assert zgot == [(i, b"k%d" % i, (b"compressed value %d " % i) * 8) for i in range(20)], zgot
c.close()
print("kafka-python ok", got, "gzip", len(zgot))
