// The configuration tables (detail/config_table.hpp): each key declared once drives parsing,
// bounds, defaults and the docs; these tests hold the tables to the structs they fill.
#include <gregor/broker/broker_config.hpp>
#include <gregor/broker/topic_config.hpp>
#include <gregor/net/server.hpp>
#include <gregor/storage/log_config.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <set>
#include <string>
#include <string_view>

using namespace gregor;
namespace config_ns = gregor::detail::config;

namespace {

// Parsing each row's documented default into a fresh struct changes nothing: the initialisers
// and the table say the same.
template <typename Config, std::size_t N>
void defaults_agree(const std::array<config_ns::key<Config>, N>& table) {
    for (const auto& k : table) {
        if (k.load == nullptr || k.default_text.empty()) continue;
        CAPTURE(k.name);
        const Config fresh{};
        Config parsed{};
        config_ns::apply(k, parsed, std::string(k.name), std::string(k.default_text));
        const auto a = k.load(fresh), b = k.load(parsed);
        CHECK(a.i == b.i);
        CHECK(a.s == b.s);
        CHECK(a.unset == b.unset);
    }
}

} // namespace

TEST_CASE("every key's default is its field's initial value", "[config]") {
    defaults_agree(broker_keys);
    defaults_agree(storage::log_keys);
    defaults_agree(net::server_keys);
}

TEST_CASE("names are unique across the broker, log and network tables", "[config]") {
    std::set<std::string> seen;
    const auto add = [&](const auto& table) {
        for (const auto& k : table) {
            CAPTURE(k.name);
            CHECK(seen.insert(std::string(k.name)).second);
            config_ns::for_each_token(k.aliases, ' ', [&](std::string_view a) { CHECK(seen.insert(std::string(a)).second); });
        }
    };
    add(broker_keys);
    add(storage::log_keys);
    add(net::server_keys);
}

TEST_CASE("bounds stop overflow and bad values name their key", "[config]") {
    CHECK_THROWS_WITH(broker_config::from_properties({{"log.roll.hours", "9223372036854775807"}}),
                      Catch::Contains("log.roll.hours"));
    CHECK_THROWS_WITH(broker_config::from_properties({{"log.retention.minutes", "999999999999999999"}}),
                      Catch::Contains("log.retention.minutes"));
    CHECK_THROWS_WITH(broker_config::from_properties({{"num.partitions", "0"}}), Catch::Contains("num.partitions"));
    CHECK_THROWS_WITH(broker_config::from_properties({{"log.segment.bytes", "13"}}),
                      Catch::Contains("log.segment.bytes"));
    CHECK_THROWS_WITH(broker_config::from_properties({{"no.such.key", "1"}}), Catch::Contains("no.such.key"));
    CHECK_THROWS_WITH(broker_config::from_properties({{"log.cleanup.policy", "shred"}}),
                      Catch::Contains("log.cleanup.policy"));
    CHECK_THROWS_WITH(net::server_config::from_properties({{"max.connections", "-1"}}),
                      Catch::Contains("max.connections"));
    // Fields set in code are checked by validate() against the same bounds.
    broker_config c;
    c.num_partitions = 0;
    CHECK_THROWS_WITH(c.validate(), Catch::Contains("num.partitions"));
}

TEST_CASE("*.ms beats *.minutes beats *.hours whatever the order, as in Kafka", "[config]") {
    const auto c = broker_config::from_properties(
        {{"log.retention.hours", "1"}, {"log.retention.ms", "1234"}, {"log.retention.minutes", "2"}});
    CHECK(c.log.retention_ms == 1234);
    CHECK(broker_config::from_properties({{"log.retention.hours", "2"}, {"log.retention.minutes", "3"}})
              .log.retention_ms == 180000);
    CHECK(broker_config::from_properties({{"log.roll.hours", "2"}}).log.segment_ms == 7200000);
    CHECK(broker_config::from_properties({{"log.retention.hours", "-1"}}).log.retention_ms == -1);
}

TEST_CASE("topic-level names override the broker's settings for one topic", "[config]") {
    broker_config base;
    const auto t = effective_topic_config(base, {{"retention.ms", "1000"},
                                                 {"cleanup.policy", "compact, delete"},
                                                 {"max.message.bytes", "2048"},
                                                 {"message.timestamp.type", "LogAppendTime"}});
    CHECK(t.log.retention_ms == 1000);
    CHECK(t.log.cleanup_policy == storage::cleanup_policy::compact_and_delete);
    CHECK(t.message_max_bytes == 2048);
    CHECK(t.message_timestamp_type == timestamp_type::log_append_time);
    CHECK(base.log.retention_ms == 604800000);
    CHECK(is_topic_config("segment.bytes"));
    CHECK_FALSE(is_topic_config("log.segment.bytes"));
    CHECK_THROWS_WITH(effective_topic_config(base, {{"log.retention.ms", "1"}}), Catch::Contains("log.retention.ms"));
}
