# kafka-python 2.0 KafkaAdminClient (Debian python3-kafka; min(its max, broker max) per API:
# CreateTopics v3, DeleteTopics v3, CreatePartitions v1, DescribeConfigs v2, AlterConfigs v1,
# Metadata v5) against gregor: create a topic with partitions and a config, list it, describe the
# override and its source, alter it, grow it, delete it; and the errors it raises (existing topic,
# shrinking partitions, unknown config). kafka-python 2.0 has no DeleteRecords.
import sys, time, traceback
from kafka.admin import KafkaAdminClient, NewTopic, NewPartitions, ConfigResource, ConfigResourceType
from kafka.errors import (TopicAlreadyExistsError, InvalidPartitionsError, InvalidTopicError,
                          UnknownTopicOrPartitionError)

TOPIC_CONFIG, DEFAULT_CONFIG = 1, 5  # DescribeConfigs ConfigSource
INVALID_CONFIG, UNKNOWN_TOPIC_OR_PARTITION = 40, 3

broker = sys.argv[1]
topic = "kafka-python-admin-%d" % int(time.time() * 1000)
step = "start"


class Mismatch(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Mismatch("%s: %s" % (step, what))


def expect_error(error_type, f, *args, **kwargs):
    try:
        r = f(*args, **kwargs)
    except error_type:
        return
    except Exception as e:  # the wrong error
        raise Mismatch("%s: expected %s, got %s: %s" % (step, error_type.__name__, type(e).__name__, e))
    raise Mismatch("%s: expected %s, the call succeeded: %r" % (step, error_type.__name__, r))


def configs_of(admin, name, keys=None):
    """{config name: (value, source)} of a topic, from DescribeConfigs v2 (v1 would lack sources)."""
    res = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name, dict.fromkeys(keys) if keys else None)])
    check(len(res) == 1, "one DescribeConfigs response, got %r" % (res,))
    check(res[0].API_VERSION == 2, "DescribeConfigs v2 expected, got v%d" % res[0].API_VERSION)
    resources = res[0].resources
    check(len(resources) == 1, "one resource, got %r" % (resources,))
    error_code, error_message, _rtype, rname, entries = resources[0]
    return error_code, error_message, rname, {e[0]: (e[1], e[3]) for e in entries}


def partitions_of(admin, name):
    t = [t for t in admin.describe_topics([name]) if t["topic"] == name]
    check(len(t) == 1, "%s missing from metadata" % name)
    check(t[0]["error_code"] == 0, "metadata error %d for %s" % (t[0]["error_code"], name))
    return len(t[0]["partitions"])


def eventually(what, f, timeout=10.0):
    until = time.time() + timeout
    last = None
    while time.time() < until:
        last = f()
        if last is True:
            return
        time.sleep(0.2)
    raise Mismatch("%s: %s (last: %r)" % (step, what, last))


def alter(admin, name, configs):
    r = admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, name, configs)])
    check(len(r.resources) == 1, "one AlterConfigs result, got %r" % (r.resources,))
    return r.resources[0][0], r.resources[0][1]


def main():
    global step
    admin = KafkaAdminClient(bootstrap_servers=broker, client_id="gregor-interop-admin",
                             api_version_auto_timeout_ms=10000, request_timeout_ms=15000)
    try:
        step = "create_topics"
        r = admin.create_topics([NewTopic(topic, 3, 1, topic_configs={"retention.ms": "123456"})], timeout_ms=10000)
        check([e[:2] for e in r.topic_errors] == [(topic, 0)], "result %r" % (r.topic_errors,))

        step = "list_topics"
        check(topic in admin.list_topics(), "%s not listed" % topic)
        step = "metadata after create"
        check(partitions_of(admin, topic) == 3, "3 partitions expected")

        step = "create_topics existing"
        expect_error(TopicAlreadyExistsError, admin.create_topics, [NewTopic(topic, 1, 1)], timeout_ms=10000)
        step = "create_topics invalid name"
        expect_error(InvalidTopicError, admin.create_topics, [NewTopic("bad/name", 1, 1)], timeout_ms=10000)
        step = "create_topics validate_only"
        r = admin.create_topics([NewTopic(topic + "-validated", 2, 1)], timeout_ms=10000, validate_only=True)
        check([e[:2] for e in r.topic_errors] == [(topic + "-validated", 0)], "result %r" % (r.topic_errors,))
        check(topic + "-validated" not in admin.list_topics(), "validate_only created the topic")

        step = "describe_configs"
        err, msg, rname, cfg = configs_of(admin, topic)
        check(err == 0, "error %d %s" % (err, msg))
        check(rname == topic, "resource name %r" % rname)
        check(cfg.get("retention.ms") == ("123456", TOPIC_CONFIG), "retention.ms (value, source) = %r" % (cfg.get("retention.ms"),))
        check(cfg.get("cleanup.policy") == ("delete", DEFAULT_CONFIG), "cleanup.policy (value, source) = %r" % (cfg.get("cleanup.policy"),))
        err, msg, rname, cfg = configs_of(admin, topic, ["retention.ms"])
        check(list(cfg) == ["retention.ms"], "only the key asked for, got %r" % list(cfg))

        step = "alter_configs"
        err, msg = alter(admin, topic, {"retention.ms": "999"})
        check(err == 0, "error %d %s" % (err, msg))
        err, msg, rname, cfg = configs_of(admin, topic)
        check(cfg.get("retention.ms") == ("999", TOPIC_CONFIG), "retention.ms (value, source) = %r" % (cfg.get("retention.ms"),))
        step = "alter_configs unknown key"
        err, msg = alter(admin, topic, {"no.such.config": "1"})
        check(err == INVALID_CONFIG, "expected INVALID_CONFIG (40), got %d %s" % (err, msg))
        step = "alter_configs unknown topic"
        err, msg = alter(admin, topic + "-missing", {"retention.ms": "1000"})
        check(err == UNKNOWN_TOPIC_OR_PARTITION, "expected UNKNOWN_TOPIC_OR_PARTITION (3), got %d %s" % (err, msg))

        step = "create_partitions"
        r = admin.create_partitions({topic: NewPartitions(5)}, timeout_ms=10000)
        check([e[:2] for e in r.topic_errors] == [(topic, 0)], "result %r" % (r.topic_errors,))
        eventually("5 partitions in metadata", lambda: partitions_of(admin, topic) == 5 or partitions_of(admin, topic))
        step = "create_partitions shrink"
        expect_error(InvalidPartitionsError, admin.create_partitions, {topic: NewPartitions(2)}, timeout_ms=10000)

        step = "delete_topics"
        r = admin.delete_topics([topic], timeout_ms=10000)
        check([e[:2] for e in r.topic_error_codes] == [(topic, 0)], "result %r" % (r.topic_error_codes,))
        eventually("%s gone from list_topics" % topic, lambda: topic not in admin.list_topics())
        step = "delete_topics again"
        expect_error(UnknownTopicOrPartitionError, admin.delete_topics, [topic], timeout_ms=10000)
        print("kafka-python-admin ok")
    finally:
        admin.close()


try:
    main()
except Mismatch as e:
    print("kafka-python-admin FAILED: %s" % e, file=sys.stderr)
    sys.exit(1)
except Exception as e:
    print("kafka-python-admin FAILED at step '%s': %s: %s" % (step, type(e).__name__, e), file=sys.stderr)
    traceback.print_exc()
    sys.exit(1)
