# kafka-python 2.0 (Debian python3-kafka; its own protocol code and group client: FindCoordinator,
# JoinGroup, SyncGroup, Heartbeat, OffsetFetch, OffsetCommit, LeaveGroup at the versions it infers
# from ApiVersions) against gregor's group coordinator. Two consumers in one group split a
# 3-partition topic, each record is seen exactly once, consumer.commit() offsets are read back, and
# a new consumer in the same group after both left starts at the committed offsets.
# kafka-python's JoinGroup blocks its caller until the rebalance completes, so each group member
# runs in its own thread (one KafkaConsumer per thread).
import logging, os, sys, threading, time, traceback
from kafka import KafkaProducer, KafkaConsumer, TopicPartition, ConsumerRebalanceListener

# kafka-python logs "Fetch to node 0 failed: Cancelled" at ERROR when close() drops its in-flight fetch.
logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(threadName)s %(name)s %(levelname)s %(message)s")
broker = sys.argv[1]
topic = "kafka-python-group-%d" % int(time.time() * 1000)
group = topic + "-g"
PHASE_S = 40
t0 = time.time()


def log(msg):
    print("[%.1fs] %s" % (time.time() - t0, msg), flush=True)


def new_consumer(name):
    return KafkaConsumer(bootstrap_servers=broker, client_id=name, group_id=group, auto_offset_reset="earliest",
                         enable_auto_commit=False, session_timeout_ms=10000, heartbeat_interval_ms=1000,
                         api_version_auto_timeout_ms=10000)


def wait_for(what, cond, members=(), seconds=PHASE_S):
    end = time.time() + seconds
    while not cond():
        for m in members:
            if m.error:
                raise AssertionError("%s failed: %r" % (m.name, m.error))
        if time.time() > end:
            raise AssertionError("timed out after %d s waiting for %s" % (seconds, what))
        time.sleep(0.05)


class Member(ConsumerRebalanceListener):
    """One group member polled by its own thread until stop is set; then commit() and close()."""

    def __init__(self, name):
        self.name = name
        self.assignment = None
        self.got = []
        self.error = None
        self.closed = False
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.consumer = new_consumer(name)
        self.thread = threading.Thread(target=self.run, name=name, daemon=True)

    def on_partitions_revoked(self, revoked):
        self.assignment = None

    def on_partitions_assigned(self, assigned):
        self.assignment = sorted(tp.partition for tp in assigned if tp.topic == topic)
        log("%s assigned %s" % (self.name, self.assignment))

    def records(self):
        with self.lock:
            return list(self.got)

    def run(self):
        try:
            self.consumer.subscribe([topic], listener=self)
            while not self.stop.is_set():
                for tp, msgs in self.consumer.poll(timeout_ms=200).items():
                    with self.lock:
                        self.got.extend((tp.partition, m.offset, m.value.decode()) for m in msgs)
            self.consumer.commit()
            self.consumer.close()
            self.closed = True
        except Exception as e:  # reported by the main thread
            logging.exception("%s failed", self.name)
            self.error = e

    def finish(self):
        self.stop.set()
        self.thread.join(30)
        if self.thread.is_alive():
            raise AssertionError("%s did not commit and close within 30 s" % self.name)
        if self.error:
            raise AssertionError("%s failed: %r" % (self.name, self.error))
        assert self.closed


members = []
producer = None
try:
    producer = KafkaProducer(bootstrap_servers=broker, acks="all", api_version_auto_timeout_ms=10000)
    # The producer's metadata request auto-creates the topic (num.partitions=3).
    assert producer.partitions_for(topic) == {0, 1, 2}, producer.partitions_for(topic)

    # Phase 1+2: kafka-python commits nothing on a rebalance with auto-commit off, so records read
    # before the second member joined would be read again: produce once the group is stable.
    a, b = Member("A"), Member("B")
    members += [a, b]
    a.thread.start()
    b.thread.start()

    def stable():
        pa, pb = a.assignment, b.assignment
        return bool(pa) and bool(pb) and len(set(pa) | set(pb)) == 3 and len(pa) + len(pb) == 3

    wait_for("both members assigned disjoint partitions covering 0..2", stable, members)
    log("group stable: A %s B %s" % (a.assignment, b.assignment))
    sent = [producer.send(topic, key=b"k%d" % i, value=b"r-%d" % i, partition=i % 3) for i in range(30)]
    meta = [f.get(timeout=20) for f in sent]
    assert sorted((m.partition, m.offset) for m in meta) == sorted((p, o) for p in range(3) for o in range(10)), meta

    wait_for("all 30 records", lambda: len({r[2] for r in a.records() + b.records()}) >= 30, members)
    time.sleep(1)  # let any duplicate show up
    ga, gb = a.records(), b.records()
    values = sorted(r[2] for r in ga + gb)
    assert values == sorted("r-%d" % i for i in range(30)), "each of r-0..r-29 exactly once: %s" % values
    pa, pb = {r[0] for r in ga}, {r[0] for r in gb}
    assert ga and gb, "both members should get records (A %d, B %d)" % (len(ga), len(gb))
    assert not (pa & pb), "members read overlapping partitions: A %s B %s" % (pa, pb)
    assert sorted(pa) == a.assignment and sorted(pb) == b.assignment, (pa, a.assignment, pb, b.assignment)
    for r in (ga, gb):
        for p in {x[0] for x in r}:
            assert [x[1] for x in r if x[0] == p] == list(range(10)), (p, r)
    log("phase 2 ok: A read partitions %s (%d records), B read %s (%d)" % (sorted(pa), len(ga), sorted(pb), len(gb)))

    # Phase 3: consumer.commit() then close() (LeaveGroup) in each member's thread.
    a.finish()
    b.finish()

    # Phase 4: new records; a new member of the same group starts at the committed offsets.
    sent = [producer.send(topic, key=b"k%d" % i, value=b"s-%d" % i, partition=i % 3) for i in range(5)]
    [f.get(timeout=20) for f in sent]
    c = new_consumer("C")
    members.append(c)
    tps = [TopicPartition(topic, p) for p in range(3)]
    committed = [c.committed(tp) for tp in tps]  # OffsetFetch without joining
    assert committed == [10, 10, 10], "committed offsets read back: %s" % committed
    log("phase 3 ok: committed %s" % committed)
    c.subscribe([topic])
    got = []
    end = time.time() + PHASE_S
    while len(got) < 5 and not any(v.startswith("r-") for _, _, v in got):
        if time.time() > end:
            raise AssertionError("timed out after %d s waiting for the 5 new records, got %s" % (PHASE_S, got))
        for tp, msgs in c.poll(timeout_ms=200).items():
            got.extend((tp.partition, m.offset, m.value.decode()) for m in msgs)
    drain_end = time.time() + 1
    while time.time() < drain_end:
        for tp, msgs in c.poll(timeout_ms=200).items():
            got.extend((tp.partition, m.offset, m.value.decode()) for m in msgs)
    assert sorted(v for _, _, v in got) == ["s-%d" % i for i in range(5)], \
        "new member should get exactly s-0..s-4 (committed offsets honoured); got %s" % got
    assert sorted((p, o) for p, o, _ in got) == [(0, 10), (0, 11), (1, 10), (1, 11), (2, 10)], got
    assert sorted(tp.partition for tp in c.assignment()) == [0, 1, 2]
    c.commit()
    c.close()
    log("phase 4 ok: new member read exactly s-0..s-4 from offset 10")
    print("kafka-python-group ok")
except Exception as e:
    traceback.print_exc()
    print("kafka-python-group FAILED:", e, flush=True)
    for m in members:
        if isinstance(m, Member):
            print("%s: assignment %s got %s" % (m.name, m.assignment, m.records()), flush=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1)  # group members may still be polling in their threads
if producer is not None:
    producer.close(timeout=5)
