// The Kafka API handlers (broker/handlers/): the ApiVersions answer and the dispatch both come from
// one list, so every advertised API is answered, nothing unlisted is, and the advertised ranges
// are still those wire::broker_advertised_apis (docs/protocol.md §4) asks for, plus the admin APIs
// (docs/protocol.md §17), whose handlers are exercised over TCP at their old and newest versions.
#include "broker_test_util.hpp"

#include <gregor/broker/handlers/handlers.hpp>
#include <gregor/broker/kafka_server.hpp>
#include <gregor/net/client.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/header.hpp>
#include <gregor/wire/messages/alter_configs.hpp>
#include <gregor/wire/messages/alter_partition.hpp>
#include <gregor/wire/messages/broker_heartbeat.hpp>
#include <gregor/wire/messages/broker_registration.hpp>
#include <gregor/wire/messages/offset_for_leader_epoch.hpp>
#include <gregor/wire/messages/api_versions.hpp>
#include <gregor/wire/messages/create_partitions.hpp>
#include <gregor/wire/messages/create_topics.hpp>
#include <gregor/wire/messages/delete_records.hpp>
#include <gregor/wire/messages/delete_topics.hpp>
#include <gregor/wire/messages/describe_cluster.hpp>
#include <gregor/wire/messages/describe_configs.hpp>
#include <gregor/wire/messages/fetch.hpp>
#include <gregor/wire/messages/find_coordinator.hpp>
#include <gregor/wire/messages/incremental_alter_configs.hpp>
#include <gregor/wire/messages/init_producer_id.hpp>
#include <gregor/wire/messages/list_offsets.hpp>
#include <gregor/wire/messages/metadata.hpp>
#include <gregor/wire/messages/produce.hpp>
#include <gregor/wire/messages/delete_groups.hpp>
#include <gregor/wire/messages/describe_groups.hpp>
#include <gregor/wire/messages/heartbeat.hpp>
#include <gregor/wire/messages/join_group.hpp>
#include <gregor/wire/messages/leave_group.hpp>
#include <gregor/wire/messages/list_groups.hpp>
#include <gregor/wire/messages/offset_commit.hpp>
#include <gregor/wire/messages/offset_delete.hpp>
#include <gregor/wire/messages/offset_fetch.hpp>
#include <gregor/wire/messages/sync_group.hpp>
#include <gregor/wire/messages/add_offsets_to_txn.hpp>
#include <gregor/wire/messages/add_partitions_to_txn.hpp>
#include <gregor/wire/messages/end_txn.hpp>
#include <gregor/wire/messages/txn_offset_commit.hpp>
#include <gregor/wire/messages/write_txn_markers.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

using namespace gregor;
using namespace std::chrono_literals;
namespace bh = gregor::broker_handlers;

namespace {

using default_broker = broker<>;

template <typename... H>
constexpr std::optional<wire::version_range> served_of(bh::handler_list<H...>, wire::api_key k) {
    std::optional<wire::version_range> out;
    ((H::api::key == k ? (out = H::served, 0) : 0), ...);
    return out;
}

std::unique_ptr<kafka_server<default_broker>> serve(default_broker& b) {
    kafka_server_config sc;
    sc.net.host = "127.0.0.1";
    sc.net.port = 0;
    return std::make_unique<kafka_server<default_broker>>(b, sc);
}

/// A request frame with only a header: what the dispatcher decides on before any body is read.
byte_buffer header_only(wire::api_key key, std::int16_t version, std::int32_t corr) {
    byte_buffer out;
    byte_writer w(out);
    const auto start = wire::begin_frame(w);
    wire::request_header{key, version, corr, "handlers-test"}.encode(w);
    wire::finish_frame(w, start);
    return out;
}

/// A request with a body that decodes wherever the codec implements `version`, so that only the
/// dispatcher's served range can turn it away (a bare header elsewhere).
template <typename Req>
byte_buffer decodable(std::int16_t version, std::int32_t corr) {
    if (!wire::supports_version<typename Req::api>(version)) return header_only(Req::api::key, version, corr);
    byte_buffer out;
    wire::encode_request_frame(out, version, corr, "handlers-test", Req{});
    return out;
}
byte_buffer decodable_request(wire::api_key key, std::int16_t version, std::int32_t corr) {
    switch (key) {
    case wire::api_key::api_versions: return decodable<wire::api_versions::request>(version, corr);
    case wire::api_key::metadata: return decodable<wire::metadata::request>(version, corr);
    case wire::api_key::produce: return decodable<wire::produce::request>(version, corr);
    case wire::api_key::fetch: return decodable<wire::fetch::request>(version, corr);
    case wire::api_key::list_offsets: return decodable<wire::list_offsets::request>(version, corr);
    case wire::api_key::init_producer_id: return decodable<wire::init_producer_id::request>(version, corr);
    case wire::api_key::find_coordinator: return decodable<wire::find_coordinator::request>(version, corr);
    case wire::api_key::create_topics: return decodable<wire::create_topics::request>(version, corr);
    case wire::api_key::delete_topics: return decodable<wire::delete_topics::request>(version, corr);
    case wire::api_key::delete_records: return decodable<wire::delete_records::request>(version, corr);
    case wire::api_key::describe_configs: return decodable<wire::describe_configs::request>(version, corr);
    case wire::api_key::alter_configs: return decodable<wire::alter_configs::request>(version, corr);
    case wire::api_key::create_partitions: return decodable<wire::create_partitions::request>(version, corr);
    case wire::api_key::incremental_alter_configs:
        return decodable<wire::incremental_alter_configs::request>(version, corr);
    case wire::api_key::describe_cluster: return decodable<wire::describe_cluster::request>(version, corr);
    default: return header_only(key, version, corr);
    }
}

/// The frame of the latest roundtrip's answer: decoded responses hold views into it (names, keys,
/// records), valid until the next roundtrip.
byte_buffer& last_frame() {
    static byte_buffer frame;
    return frame;
}

template <typename Resp, typename Req>
Resp roundtrip(net::blocking_client& c, std::int16_t version, std::int32_t corr, const Req& req) {
    byte_buffer frame;
    wire::encode_request_frame(frame, version, corr, "handlers-test", req);
    REQUIRE(c.send_raw(frame.view()) == net::blocking_client::status::ok);
    byte_buffer f;
    const auto st = c.read_frame(f, 5s);
    INFO("read status " << static_cast<int>(st));
    REQUIRE(st == net::blocking_client::status::ok);
    byte_reader r(f.view());
    const auto h = wire::response_header::decode(r, wire::response_header_version(Req::api::key, version));
    REQUIRE(h);
    CHECK(h->correlation_id == corr);
    auto resp = Resp::decode(r, version);
    REQUIRE(resp);
    last_frame() = std::move(f); // the heap block the views point into moves with it
    return std::move(*resp);
}

wire::api_versions::response api_versions(net::blocking_client& c, std::int16_t version, std::int32_t corr) {
    wire::api_versions::request req;
    req.client_software_name = "handlers-test";
    req.client_software_version = "1";
    return roundtrip<wire::api_versions::response>(c, version, corr, req);
}

/// CreateTopics of one topic with one partition and replication factor 1 at `version`.
wire::create_topics::response create_topic(net::blocking_client& c, std::int16_t version, std::int32_t corr,
                                           const std::string& name, std::int32_t partitions = 1) {
    wire::create_topics::request req;
    req.topics.push_back({name, partitions, 1, {}, {}});
    req.timeout_ms = 5000;
    return roundtrip<wire::create_topics::response>(c, version, corr, req);
}

/// A member of a fresh group `group`, joined and (with `synced`) assigned at JoinGroup v3 /
/// SyncGroup v3: the id, and the generation.
std::pair<std::string, std::int32_t> member_of(net::blocking_client& c, std::int32_t corr, const std::string& group,
                                               bool synced) {
    static const std::string metadata = "subscription";
    wire::join_group::request j;
    j.group_id = group;
    j.session_timeout_ms = 10000;
    j.rebalance_timeout_ms = 10000;
    j.protocol_type = "consumer";
    j.protocols.push_back({"range", as_bytes(metadata)});
    const auto jr = roundtrip<wire::join_group::response>(c, 3, corr, j);
    REQUIRE(jr.error_code == error_code::none);
    std::pair<std::string, std::int32_t> out{std::string(jr.member_id), jr.generation_id};
    if (synced) {
        wire::sync_group::request s;
        s.group_id = group;
        s.generation_id = out.second;
        s.member_id = out.first;
        s.assignments.push_back({out.first, as_bytes(metadata)});
        REQUIRE(roundtrip<wire::sync_group::response>(c, 3, corr, s).error_code == error_code::none);
    }
    return out;
}

/// A simple consumer's commit (no membership) of offset 1 of "t"-0 for `group`.
// InitProducerId for transactional id `id` (v4): the producer id and epoch to use.
std::pair<producer_id, producer_epoch> txn_init(net::blocking_client& c, std::int32_t corr, const std::string& id) {
    wire::init_producer_id::request req;
    req.transactional_id = id;
    req.transaction_timeout_ms = 60000;
    const auto resp = roundtrip<wire::init_producer_id::response>(c, 4, corr + 2, req);
    REQUIRE(resp.error_code == error_code::none);
    return {resp.producer_id, resp.producer_epoch};
}

void commit_simple(net::blocking_client& c, std::int32_t corr, const std::string& group, std::int16_t version = 2) {
    wire::offset_commit::request req;
    req.group_id = group;
    req.topics.push_back({"t", {{partition_id{0}, offset{1}, leader_epoch{-1}, -1, std::string_view("meta")}}});
    const auto resp = roundtrip<wire::offset_commit::response>(c, version, corr, req);
    REQUIRE(resp.topics.size() == 1);
    CHECK(resp.topics[0].partitions.at(0).error_code == error_code::none);
}

/// Sends a request of API `key` at `version` that the broker can answer and checks the answer.
/// `id` is topic "t"'s id (Metadata v10+ answers it, Fetch v13+ names the topic by it).
void exercise(net::blocking_client& c, wire::api_key key, std::int16_t version, std::int32_t corr, wire::uuid id = {}) {
    INFO(wire::to_string(key) << " v" << version);
    switch (key) {
    case wire::api_key::api_versions: {
        const auto resp = api_versions(c, version, corr);
        CHECK(resp.error_code == error_code::none);
        return;
    }
    case wire::api_key::metadata: {
        wire::metadata::request req;
        req.topics.emplace();
        req.topics->push_back({"t"});
        const auto resp = roundtrip<wire::metadata::response>(c, version, corr, req);
        REQUIRE(resp.topics.size() == 1);
        CHECK(resp.topics[0].error_code == error_code::none);
        CHECK(resp.topics[0].partitions.size() == 1);
        if (version >= 10) CHECK(resp.topics[0].topic_id == id);
        if (version >= 7) CHECK(resp.topics[0].partitions.at(0).leader_epoch == leader_epoch{0});
        return;
    }
    case wire::api_key::produce: {
        const auto batch = test::make_batch("h", 2);
        wire::produce::request req;
        req.acks = 1;
        wire::produce::partition_data pd;
        pd.partition_index = partition_id{0};
        pd.records = batch.view();
        req.topics.push_back({"t", {pd}});
        const auto resp = roundtrip<wire::produce::response>(c, version, corr, req);
        REQUIRE(resp.responses.size() == 1);
        REQUIRE(resp.responses[0].partitions.size() == 1);
        CHECK(resp.responses[0].partitions[0].error_code == error_code::none);
        return;
    }
    case wire::api_key::fetch: {
        wire::fetch::request req;
        req.max_wait_ms = 500; // the produces above left data: answered at once
        req.max_bytes = 1 << 20;
        wire::fetch::fetch_partition fp;
        fp.partition_index = partition_id{0};
        fp.fetch_offset = offset{0};
        fp.partition_max_bytes = 1 << 20;
        req.topics.push_back({"t", {fp}, id});
        const auto resp = roundtrip<wire::fetch::response>(c, version, corr, req);
        REQUIRE(resp.responses.size() == 1);
        CHECK(resp.responses[0].partitions.at(0).error_code == error_code::none);
        CHECK(resp.responses[0].partitions.at(0).records);
        CHECK(!resp.responses[0].partitions.at(0).records->empty());
        if (version >= 13) CHECK(resp.responses[0].topic_id == id);
        return;
    }
    case wire::api_key::list_offsets: {
        wire::list_offsets::request req;
        req.topics.push_back({"t", {{partition_id{0}, wire::list_offsets::latest_timestamp, 1}}});
        const auto resp = roundtrip<wire::list_offsets::response>(c, version, corr, req);
        REQUIRE(resp.topics.size() == 1);
        CHECK(resp.topics[0].partitions.at(0).error_code == error_code::none);
        return;
    }
    case wire::api_key::init_producer_id: {
        const auto resp =
            roundtrip<wire::init_producer_id::response>(c, version, corr, wire::init_producer_id::request{});
        CHECK(resp.error_code == error_code::none);
        CHECK(resp.producer_id.value() >= 0);
        return;
    }
    case wire::api_key::find_coordinator: {
        wire::find_coordinator::request req;
        req.key = "group";
        const auto resp = roundtrip<wire::find_coordinator::response>(c, version, corr, req);
        CHECK(resp.error_code == error_code::none);
        return;
    }
    case wire::api_key::create_topics: {
        const auto name = "ex-create-" + std::to_string(corr);
        const auto resp = create_topic(c, version, corr, name);
        REQUIRE(resp.topics.size() == 1);
        CHECK(resp.topics[0].name == name);
        CHECK(resp.topics[0].error_code == error_code::none);
        if (version >= 5) CHECK(resp.topics[0].num_partitions == 1);
        return;
    }
    case wire::api_key::delete_topics: {
        // A topic of its own, created at v7 for its id (v6 deletes by id).
        const auto name = "ex-delete-" + std::to_string(corr);
        const auto created = create_topic(c, 7, corr, name);
        REQUIRE(created.topics.at(0).error_code == error_code::none);
        wire::delete_topics::request req;
        if (version >= 6)
            req.topics.push_back({std::string_view{}, created.topics[0].topic_id});
        else
            req.topic_names.push_back(name);
        const auto resp = roundtrip<wire::delete_topics::response>(c, version, corr, req);
        REQUIRE(resp.responses.size() == 1);
        CHECK(resp.responses[0].error_code == error_code::none);
        CHECK(resp.responses[0].name == name);
        return;
    }
    case wire::api_key::delete_records: {
        wire::delete_records::request req;
        req.topics.push_back({"t", {{partition_id{0}, offset{-1}}}}); // up to the high watermark
        const auto resp = roundtrip<wire::delete_records::response>(c, version, corr, req);
        REQUIRE(resp.topics.size() == 1);
        CHECK(resp.topics[0].partitions.at(0).error_code == error_code::none);
        CHECK(resp.topics[0].partitions.at(0).low_watermark.value() >= 0);
        return;
    }
    case wire::api_key::describe_configs: {
        wire::describe_configs::request req;
        req.resources.push_back({wire::describe_configs::resource_type::topic, "t", std::nullopt});
        const auto resp = roundtrip<wire::describe_configs::response>(c, version, corr, req);
        REQUIRE(resp.results.size() == 1);
        CHECK(resp.results[0].error_code == error_code::none);
        CHECK_FALSE(resp.results[0].configs.empty());
        return;
    }
    case wire::api_key::alter_configs: {
        wire::alter_configs::request req;
        req.resources.push_back({wire::alter_configs::resource_type::topic, "t", {{"retention.ms", "86400000"}}});
        const auto resp = roundtrip<wire::alter_configs::response>(c, version, corr, req);
        REQUIRE(resp.responses.size() == 1);
        CHECK(resp.responses[0].error_code == error_code::none);
        return;
    }
    case wire::api_key::create_partitions: {
        const auto name = "ex-grow-" + std::to_string(corr);
        REQUIRE(create_topic(c, 4, corr, name).topics.at(0).error_code == error_code::none);
        wire::create_partitions::request req;
        req.topics.push_back({name, 2, std::nullopt});
        req.timeout_ms = 1000;
        const auto resp = roundtrip<wire::create_partitions::response>(c, version, corr, req);
        REQUIRE(resp.results.size() == 1);
        CHECK(resp.results[0].error_code == error_code::none);
        return;
    }
    case wire::api_key::incremental_alter_configs: {
        wire::incremental_alter_configs::request req;
        req.resources.push_back(
            {wire::incremental_alter_configs::resource_type::topic,
             "t",
             {{"segment.bytes", wire::incremental_alter_configs::config_operation::set, "1048576"}}});
        const auto resp = roundtrip<wire::incremental_alter_configs::response>(c, version, corr, req);
        REQUIRE(resp.responses.size() == 1);
        CHECK(resp.responses[0].error_code == error_code::none);
        return;
    }
    case wire::api_key::describe_cluster: {
        const auto resp =
            roundtrip<wire::describe_cluster::response>(c, version, corr, wire::describe_cluster::request{});
        CHECK(resp.error_code == error_code::none);
        CHECK(resp.brokers.size() == 1);
        return;
    }
    case wire::api_key::offset_for_leader_epoch: {
        // One node leads at epoch 0 from offset 0: epoch 0 ends at the log end.
        wire::offset_for_leader_epoch::request req;
        req.topics.push_back({"t", {{partition_id{0}, leader_epoch{-1}, leader_epoch{0}}}});
        const auto resp = roundtrip<wire::offset_for_leader_epoch::response>(c, version, corr, req);
        REQUIRE(resp.topics.size() == 1);
        const auto& p = resp.topics[0].partitions.at(0);
        CHECK(p.error_code == error_code::none);
        if (version >= 1) CHECK(p.leader_epoch == leader_epoch{0});
        CHECK(p.end_offset.value() >= 0);
        return;
    }
    case wire::api_key::alter_partition: {
        // Controller-only: a single node has no controller.
        wire::alter_partition::request req;
        req.broker_id = node_id{0};
        const auto resp = roundtrip<wire::alter_partition::response>(c, version, corr, req);
        CHECK(resp.error_code == error_code::not_controller);
        return;
    }
    case wire::api_key::broker_registration: {
        wire::broker_registration::request req;
        req.broker_id = node_id{5};
        req.listeners.push_back({"PLAINTEXT", "127.0.0.1", 9999, 0});
        const auto resp = roundtrip<wire::broker_registration::response>(c, version, corr, req);
        CHECK(resp.error_code == error_code::not_controller);
        return;
    }
    case wire::api_key::broker_heartbeat: {
        wire::broker_heartbeat::request req;
        req.broker_id = node_id{5};
        const auto resp = roundtrip<wire::broker_heartbeat::response>(c, version, corr, req);
        CHECK(resp.error_code == error_code::not_controller);
        return;
    }
    case wire::api_key::offset_commit: commit_simple(c, corr, "ex-commit", version); return;
    case wire::api_key::offset_fetch: {
        commit_simple(c, corr, "ex-fetch");
        wire::offset_fetch::request req;
        std::vector<wire::offset_fetch::request_topic> topics{{"t", {partition_id{0}}}};
        if (version >= 8)
            req.groups.push_back({"ex-fetch", std::nullopt, -1, topics});
        else
            req.group_id = "ex-fetch", req.topics = topics;
        const auto resp = roundtrip<wire::offset_fetch::response>(c, version, corr, req);
        const auto& ts = version >= 8 ? resp.groups.at(0).topics : resp.topics;
        REQUIRE(ts.size() == 1);
        CHECK(ts[0].partitions.at(0).error_code == error_code::none);
        CHECK(ts[0].partitions.at(0).committed_offset == offset{1});
        return;
    }
    case wire::api_key::join_group: {
        wire::join_group::request req;
        const auto group = "ex-join-" + std::to_string(corr);
        req.group_id = group;
        req.session_timeout_ms = 10000;
        req.rebalance_timeout_ms = 10000;
        req.protocol_type = "consumer";
        req.protocols.push_back({"range", {}});
        const auto resp = roundtrip<wire::join_group::response>(c, version, corr, req);
        // v4+: a new dynamic member first gets its id (KIP-394); older ones join at once.
        CHECK(resp.error_code == (version >= 4 ? error_code::member_id_required : error_code::none));
        CHECK_FALSE(resp.member_id.empty());
        if (version < 4) CHECK(resp.leader == resp.member_id);
        return;
    }
    case wire::api_key::sync_group: {
        const auto group = "ex-sync-" + std::to_string(corr);
        const auto [member, gen] = member_of(c, corr, group, false);
        const std::string assignment = "assigned";
        wire::sync_group::request req;
        req.group_id = group;
        req.generation_id = gen;
        req.member_id = member;
        req.assignments.push_back({member, as_bytes(assignment)});
        const auto resp = roundtrip<wire::sync_group::response>(c, version, corr, req);
        CHECK(resp.error_code == error_code::none);
        CHECK(as_string_view(resp.assignment) == assignment);
        return;
    }
    case wire::api_key::heartbeat: {
        const auto group = "ex-heartbeat-" + std::to_string(corr);
        const auto [member, gen] = member_of(c, corr, group, true);
        wire::heartbeat::request req;
        req.group_id = group;
        req.generation_id = gen;
        req.member_id = member;
        CHECK(roundtrip<wire::heartbeat::response>(c, version, corr, req).error_code == error_code::none);
        return;
    }
    case wire::api_key::leave_group: {
        const auto group = "ex-leave-" + std::to_string(corr);
        const auto [member, gen] = member_of(c, corr, group, true);
        wire::leave_group::request req;
        req.group_id = group;
        if (version >= 3)
            req.members.push_back({member, std::nullopt, std::nullopt});
        else
            req.member_id = member;
        const auto resp = roundtrip<wire::leave_group::response>(c, version, corr, req);
        CHECK(resp.error_code == error_code::none);
        if (version >= 3) CHECK(resp.members.at(0).error_code == error_code::none);
        return;
    }
    case wire::api_key::list_groups: {
        commit_simple(c, corr, "ex-list");
        const auto resp = roundtrip<wire::list_groups::response>(c, version, corr, wire::list_groups::request{});
        CHECK(resp.error_code == error_code::none);
        CHECK(std::any_of(resp.groups.begin(), resp.groups.end(), [](const auto& g) { return g.group_id == "ex-list"; }));
        return;
    }
    case wire::api_key::describe_groups: {
        const auto group = "ex-describe-" + std::to_string(corr);
        (void)member_of(c, corr, group, true);
        wire::describe_groups::request req;
        req.groups.push_back(group);
        const auto resp = roundtrip<wire::describe_groups::response>(c, version, corr, req);
        REQUIRE(resp.groups.size() == 1);
        CHECK(resp.groups[0].error_code == error_code::none);
        CHECK(resp.groups[0].group_state == "Stable");
        CHECK(resp.groups[0].members.size() == 1);
        return;
    }
    case wire::api_key::delete_groups: {
        const auto group = "ex-delete-" + std::to_string(corr);
        commit_simple(c, corr, group);
        wire::delete_groups::request req;
        req.groups_names.push_back(group);
        const auto resp = roundtrip<wire::delete_groups::response>(c, version, corr, req);
        REQUIRE(resp.results.size() == 1);
        CHECK(resp.results[0].error_code == error_code::none);
        return;
    }
    case wire::api_key::offset_delete: {
        const auto group = "ex-offset-delete-" + std::to_string(corr);
        commit_simple(c, corr, group);
        wire::offset_delete::request req;
        req.group_id = group;
        req.topics.push_back({"t", {{partition_id{0}}}});
        const auto resp = roundtrip<wire::offset_delete::response>(c, version, corr, req);
        CHECK(resp.error_code == error_code::none);
        REQUIRE(resp.topics.size() == 1);
        CHECK(resp.topics[0].partitions.at(0).error_code == error_code::none);
        return;
    }
    case wire::api_key::add_partitions_to_txn: {
        const auto id = "ex-apt-" + std::to_string(corr);
        const auto [pid, epoch] = txn_init(c, corr, id);
        wire::add_partitions_to_txn::request req;
        const std::vector<wire::add_partitions_to_txn::topic> topics{{"t", {partition_id{0}}}};
        if (version >= 4)
            req.transactions.push_back({id, pid, epoch, false, topics});
        else {
            req.v3_and_below_transactional_id = id;
            req.v3_and_below_producer_id = pid;
            req.v3_and_below_producer_epoch = epoch;
            req.v3_and_below_topics = topics;
        }
        const auto resp = roundtrip<wire::add_partitions_to_txn::response>(c, version, corr, req);
        const auto& results = version >= 4 ? resp.results_by_transaction.at(0).topic_results
                                           : resp.results_by_topic_v3_and_below;
        REQUIRE(results.size() == 1);
        CHECK(results[0].results_by_partition.at(0).partition_error_code == error_code::none);
        return;
    }
    case wire::api_key::add_offsets_to_txn: {
        const auto id = "ex-aot-" + std::to_string(corr);
        const auto [pid, epoch] = txn_init(c, corr, id);
        const auto resp = roundtrip<wire::add_offsets_to_txn::response>(
            c, version, corr, wire::add_offsets_to_txn::request{id, pid, epoch, "ex-txn-group"});
        CHECK(resp.error_code == error_code::none);
        return;
    }
    case wire::api_key::end_txn: {
        const auto id = "ex-end-" + std::to_string(corr);
        const auto [pid, epoch] = txn_init(c, corr, id);
        wire::add_partitions_to_txn::request add;
        add.v3_and_below_transactional_id = id;
        add.v3_and_below_producer_id = pid;
        add.v3_and_below_producer_epoch = epoch;
        add.v3_and_below_topics.push_back({"t", {partition_id{0}}});
        const auto added = roundtrip<wire::add_partitions_to_txn::response>(c, 0, corr + 1, add);
        REQUIRE(added.results_by_topic_v3_and_below.at(0).results_by_partition.at(0).partition_error_code ==
                error_code::none);
        const auto resp =
            roundtrip<wire::end_txn::response>(c, version, corr, wire::end_txn::request{id, pid, epoch, true});
        CHECK(resp.error_code == error_code::none);
        return;
    }
    case wire::api_key::write_txn_markers: {
        wire::write_txn_markers::request req;
        req.markers.push_back({producer_id{900000 + corr}, producer_epoch{0}, false, {{"t", {partition_id{0}}}}, 0});
        const auto resp = roundtrip<wire::write_txn_markers::response>(c, version, corr, req);
        REQUIRE(resp.markers.size() == 1);
        CHECK(resp.markers[0].topics.at(0).partitions.at(0).error_code == error_code::none);
        return;
    }
    case wire::api_key::txn_offset_commit: {
        const auto id = "ex-toc-" + std::to_string(corr);
        const auto [pid, epoch] = txn_init(c, corr, id);
        const auto added = roundtrip<wire::add_offsets_to_txn::response>(
            c, 0, corr + 1, wire::add_offsets_to_txn::request{id, pid, epoch, "ex-txn-group"});
        REQUIRE(added.error_code == error_code::none);
        wire::txn_offset_commit::request req;
        req.transactional_id = id;
        req.group_id = "ex-txn-group";
        req.producer_id = pid;
        req.producer_epoch = epoch;
        req.topics.push_back({"t", {{partition_id{0}, offset{1}, leader_epoch{-1}, std::nullopt}}});
        const auto resp = roundtrip<wire::txn_offset_commit::response>(c, version, corr, req);
        REQUIRE(resp.topics.size() == 1);
        CHECK(resp.topics[0].partitions.at(0).error_code == error_code::none);
        return;
    }
    default: FAIL("advertised but this test has no request for it: " << wire::to_string(key));
    }
}

} // namespace

TEST_CASE("the generated ApiVersions list is one entry per handler, with its advertised range", "[handlers]") {
    CHECK(bh::broker_advertised.size() == bh::all_handlers::size);
    // Produce is the one API advertised wider than it is served (librdkafka's compression check).
    CHECK(served_of(bh::all_handlers{}, wire::api_key::produce) == wire::version_range{3, 11});
    for (const auto& a : bh::broker_advertised) {
        INFO(wire::to_string(a.key));
        const auto served = served_of(bh::all_handlers{}, a.key);
        REQUIRE(served);
        CHECK(a.versions.min <= served->min);
        CHECK(a.versions.max == served->max);
    }
    // Nothing drifted between the hand-kept wire::broker_advertised_apis (what the wire tests and
    // fuzz seeds use) and the generated list: the same entries with the same ranges, and the
    // admin APIs (docs/protocol.md §17) each with the whole range its codec implements.
    const auto generated = [](wire::api_key k) -> std::optional<wire::version_range> {
        for (const auto& a : bh::broker_advertised)
            if (a.key == k) return a.versions;
        return std::nullopt;
    };
    for (const auto& a : wire::broker_advertised_apis) {
        INFO(wire::to_string(a.key));
        CHECK(generated(a.key) == std::optional<wire::version_range>(a.versions));
    }
    const std::vector<std::pair<wire::api_key, wire::version_range>> admin{
        {wire::api_key::create_topics, {0, 7}},
        {wire::api_key::delete_topics, {0, 6}},
        {wire::api_key::delete_records, {0, 2}},
        {wire::api_key::describe_configs, {0, 4}},
        {wire::api_key::alter_configs, {0, 2}},
        {wire::api_key::create_partitions, {0, 3}},
        {wire::api_key::incremental_alter_configs, {0, 1}},
        {wire::api_key::describe_cluster, {0, 1}}};
    for (const auto& [k, range] : admin) {
        INFO(wire::to_string(k));
        CHECK(generated(k) == std::optional<wire::version_range>(range));
    }
    CHECK(bh::broker_advertised.size() == wire::broker_advertised_apis.size());
    CHECK(std::is_sorted(bh::broker_advertised.begin(), bh::broker_advertised.end(),
                         [](const wire::advertised_api& a, const wire::advertised_api& b) { return a.key < b.key; }));
}

TEST_CASE("ApiVersions over TCP lists exactly the handlers, and every listed API is answered", "[handlers]") {
    broker_config cfg;
    cfg.group_initial_rebalance_delay_ms = 0; // each JoinGroup below is a group's first
    cfg.offsets_topic_num_partitions = 4;
    cfg.transaction_state_log_num_partitions = 4;
    default_broker b{cfg};
    REQUIRE(b.create_topic("t", 1) == error_code::none);
    auto srv = serve(b);
    net::blocking_client c("127.0.0.1", srv->port());

    for (const std::int16_t v : {std::int16_t{0}, std::int16_t{3}, std::int16_t{4}}) {
        INFO("ApiVersions v" << v);
        const auto resp = api_versions(c, v, 100 + v);
        CHECK(resp.error_code == error_code::none);
        REQUIRE(resp.api_keys.size() == bh::broker_advertised.size());
        for (std::size_t i = 0; i < resp.api_keys.size(); ++i) {
            CHECK(resp.api_keys[i].key == bh::broker_advertised[i].key);
            CHECK(resp.api_keys[i].min_version == bh::broker_advertised[i].versions.min);
            CHECK(resp.api_keys[i].max_version == bh::broker_advertised[i].versions.max);
        }
    }

    std::int32_t corr = 1000;
    const auto id = b.topic_metadata("t")->id;
    for (const auto& a : bh::broker_advertised) {
        const auto served = served_of(bh::all_handlers{}, a.key);
        REQUIRE(served);
        // Every served version, flexible ones included, answers in full.
        for (auto v = served->min; v <= served->max; ++v) exercise(c, a.key, v, ++corr, id);
    }
    // Still the same connection: nothing above closed it.
    exercise(c, wire::api_key::metadata, 6, ++corr);
}

TEST_CASE("unknown keys and unserved versions close only their own connection", "[handlers]") {
    default_broker b;
    REQUIRE(b.create_topic("t", 1) == error_code::none);
    auto srv = serve(b);
    net::blocking_client other("127.0.0.1", srv->port());
    (void)api_versions(other, 3, 1);

    const auto closes = [&](wire::api_key key, std::int16_t version) {
        INFO(wire::to_string(key) << " v" << version);
        net::blocking_client c("127.0.0.1", srv->port());
        // A request before the bad one is still answered: the close follows earlier responses.
        auto frames = header_only(wire::api_key::api_versions, 0, 7);
        const auto bad = decodable_request(key, version, 8);
        frames.append(bad.view());
        REQUIRE(c.send_raw(frames.view()) == net::blocking_client::status::ok);
        auto f = c.read_frame(5s);
        REQUIRE(f);
        byte_reader r(f->view());
        const auto h = wire::response_header::decode(r, 0);
        REQUIRE(h);
        CHECK(h->correlation_id == 7);
        CHECK(c.wait_closed(5s));
        // The other connection keeps being served.
        exercise(other, wire::api_key::metadata, 6, 9);
    };

    closes(static_cast<wire::api_key>(999), 0);
    closes(wire::api_key::api_versions, -1);
    for (const auto& a : bh::broker_advertised) {
        if (a.key != wire::api_key::api_versions) closes(a.key, static_cast<std::int16_t>(a.versions.max + 1));
        const auto served = served_of(bh::all_handlers{}, a.key);
        REQUIRE(served);
        if (served->min > 0) closes(a.key, static_cast<std::int16_t>(served->min - 1)); // Produce v2, Fetch v3
    }
}

TEST_CASE("ApiVersions above our range gets UNSUPPORTED_VERSION in a v0 body (KIP-511)", "[handlers]") {
    default_broker b;
    auto srv = serve(b);
    net::blocking_client c("127.0.0.1", srv->port());
    // Our range is the handler's, which may be narrower than what the codec implements.
    constexpr auto ours = bh::advertised_range<bh::api_versions_handler>();
    const auto frame = header_only(wire::api_key::api_versions, static_cast<std::int16_t>(ours.max + 1), 3);
    REQUIRE(c.send_raw(frame.view()) == net::blocking_client::status::ok);
    auto f = c.read_frame(5s);
    REQUIRE(f);
    byte_reader r(f->view());
    const auto h = wire::response_header::decode(r, 0);
    REQUIRE(h);
    CHECK(h->correlation_id == 3);
    const auto resp = wire::api_versions::response::decode(r, 0);
    REQUIRE(resp);
    CHECK(resp->error_code == error_code::unsupported_version);
    REQUIRE(resp->api_keys.size() == 1);
    CHECK(resp->api_keys[0].key == wire::api_key::api_versions);
    CHECK(resp->api_keys[0].min_version == ours.min);
    CHECK(resp->api_keys[0].max_version == ours.max);
    // The client retries at a version we know, on the same connection.
    CHECK(api_versions(c, 0, 4).api_keys.size() == bh::broker_advertised.size());
}

TEST_CASE("topic ids, leader epochs, sessions and batched coordinators as current clients use them", "[handlers]") {
    default_broker b;
    REQUIRE(b.create_topic("t", 1) == error_code::none);
    REQUIRE(b.produce("t", partition_id{0}, test::make_batch("x", 3), 1).error == error_code::none);
    auto srv = serve(b);
    net::blocking_client c("127.0.0.1", srv->port());
    const auto id = b.topic_metadata("t")->id;
    const auto fetch = [&](std::int16_t v, wire::uuid tid, leader_epoch epoch, std::int32_t session,
                           std::int32_t wait) {
        wire::fetch::request req;
        req.max_wait_ms = wait;
        req.max_bytes = 1 << 20;
        req.session_id = session;
        wire::fetch::fetch_partition fp;
        fp.partition_index = partition_id{0};
        fp.fetch_offset = offset{3}; // the end: nothing to read
        fp.partition_max_bytes = 1 << 20;
        fp.current_leader_epoch = epoch;
        req.topics.push_back({"t", {fp}, tid});
        return roundtrip<wire::fetch::response>(c, v, 7, req);
    };
    // Metadata v12 by id alone (null name) names the topic; an unknown id is UNKNOWN_TOPIC_ID.
    {
        wire::metadata::request req;
        req.topics.emplace();
        req.topics->push_back({std::string_view{}, id});
        wire::uuid other = id;
        other.bytes[0] ^= std::byte{1};
        req.topics->push_back({std::string_view{}, other});
        const auto resp = roundtrip<wire::metadata::response>(c, 12, 1, req);
        REQUIRE(resp.topics.size() == 2);
        CHECK(resp.topics[0].name == "t");
        CHECK(resp.topics[0].topic_id == id);
        CHECK(resp.topics[0].error_code == error_code::none);
        CHECK(resp.topics[1].error_code == error_code::unknown_topic_id);
        CHECK(resp.topics[1].topic_id == other);
    }
    // max_wait_ms 0 answers at once, with nothing.
    auto r0 = fetch(16, id, leader_epoch{-1}, 0, 0);
    CHECK(r0.responses.at(0).partitions.at(0).error_code == error_code::none);
    CHECK(r0.responses.at(0).partitions.at(0).high_watermark == offset{3});
    CHECK(r0.session_id == 0); // sessionless: the client keeps sending full fetches
    // Fetch v13+ with an id this broker does not know.
    wire::uuid unknown{};
    unknown.bytes[3] = std::byte{9};
    CHECK(fetch(13, unknown, leader_epoch{-1}, 0, 0).responses.at(0).partitions.at(0).error_code ==
          error_code::unknown_topic_id);
    // Leader epochs: the current one reads, an older one is fenced, a newer one unknown.
    CHECK(fetch(12, {}, leader_epoch{0}, 0, 0).responses.at(0).partitions.at(0).error_code == error_code::none);
    CHECK(fetch(12, {}, leader_epoch{1}, 0, 0).responses.at(0).partitions.at(0).error_code ==
          error_code::unknown_leader_epoch);
    // A session this broker never created.
    CHECK(fetch(12, {}, leader_epoch{-1}, 42, 0).error_code == error_code::fetch_session_id_not_found);
    // FindCoordinator v4+: one coordinator per key.
    {
        wire::find_coordinator::request req;
        req.coordinator_keys = {"g1", "g2"};
        const auto resp = roundtrip<wire::find_coordinator::response>(c, 5, 3, req);
        REQUIRE(resp.coordinators.size() == 2);
        CHECK(resp.coordinators[1].key == "g2");
        CHECK(resp.coordinators[1].node_id == node_id{0});
        CHECK(resp.coordinators[1].port == static_cast<std::int32_t>(srv->port()));
    }
    // ListOffsets v8: MAX_TIMESTAMP and EARLIEST_LOCAL, with the leader epoch.
    {
        wire::list_offsets::request req;
        req.topics.push_back({"t", {{partition_id{0}, -3, 1}, {partition_id{0}, -4, 1}}});
        const auto resp = roundtrip<wire::list_offsets::response>(c, 8, 4, req);
        REQUIRE(resp.topics.at(0).partitions.size() == 2);
        CHECK(resp.topics[0].partitions[0].offset == offset{2});
        CHECK(resp.topics[0].partitions[0].leader_epoch == leader_epoch{0});
        CHECK(resp.topics[0].partitions[1].offset == offset{0});
    }
}

// ---------------------------------------------------------------------------------------------
// The admin APIs (docs/protocol.md §17) over TCP, at old and newest versions.

namespace {

/// The config named `name` in a DescribeConfigs result, or nullptr.
const wire::describe_configs::config* find_config(const wire::describe_configs::result& res, std::string_view name) {
    for (const auto& c : res.configs)
        if (c.name == name) return &c;
    return nullptr;
}

/// DescribeConfigs of one topic at `version` (every config, with synonyms and documentation).
wire::describe_configs::response describe_topic(net::blocking_client& c, std::int16_t version, const std::string& name,
                                                std::optional<std::vector<std::string_view>> keys = std::nullopt) {
    wire::describe_configs::request req;
    req.resources.push_back({wire::describe_configs::resource_type::topic, name, std::move(keys)});
    req.include_synonyms = true;
    req.include_documentation = true;
    auto resp = roundtrip<wire::describe_configs::response>(c, version, 50, req);
    REQUIRE(resp.results.size() == 1);
    return resp;
}

using source = wire::describe_configs::config_source;

} // namespace

TEST_CASE("CreateTopics over TCP: created, refused with Kafka's errors, validate_only, v5+ configs", "[handlers]") {
    default_broker b;
    auto srv = serve(b);
    net::blocking_client c("127.0.0.1", srv->port());

    // v0: created; again: TOPIC_ALREADY_EXISTS (v0 has no message).
    auto r0 = create_topic(c, 0, 1, "a0", 2);
    REQUIRE(r0.topics.size() == 1);
    CHECK(r0.topics[0].error_code == error_code::none);
    REQUIRE(b.topic_metadata("a0"));
    CHECK(b.topic_metadata("a0")->partitions.size() == 2);
    r0 = create_topic(c, 0, 2, "a0", 2);
    CHECK(r0.topics.at(0).error_code == error_code::topic_already_exists);

    // v7: one request, one answer per topic.
    wire::create_topics::request req;
    req.topics = {{"ok7", 3, 1, {}, {{"retention.ms", "1000"}}},
                  {"a0", 1, 1, {}, {}},
                  {"bad name!", 1, 1, {}, {}},
                  {"zero", 0, 1, {}, {}},
                  {"rf0", 1, 0, {}, {}},
                  {"badcfg", 1, 1, {}, {{"no.such.config", "1"}}},
                  {"badvalue", 1, 1, {}, {{"retention.ms", "soon"}}},
                  {"nullcfg", 1, 1, {}, {{"retention.ms", std::nullopt}}},
                  {"dup", 1, 1, {}, {}},
                  {"dup", 2, 1, {}, {}},
                  {"asg", -1, -1, {{partition_id{1}, {node_id{0}}}, {partition_id{0}, {node_id{0}}}}, {}},
                  {"gap", -1, -1, {{partition_id{0}, {node_id{0}}}, {partition_id{2}, {node_id{0}}}}, {}}};
    const auto r7 = roundtrip<wire::create_topics::response>(c, 7, 3, req);
    REQUIRE(r7.topics.size() == req.topics.size() - 1); // "dup" answered once
    std::map<std::string, const wire::create_topics::creatable_topic_result*> by_name;
    for (const auto& t : r7.topics) by_name[std::string(t.name)] = &t;
    const auto& ok = *by_name.at("ok7");
    CHECK(ok.error_code == error_code::none);
    CHECK_FALSE(ok.error_message);
    CHECK(ok.num_partitions == 3);
    CHECK(ok.replication_factor == 1);
    REQUIRE(b.topic_metadata("ok7"));
    CHECK(ok.topic_id == b.topic_metadata("ok7")->id);
    CHECK(ok.topic_id != wire::uuid{});
    CHECK(ok.topic_config_error_code == error_code::none);
    REQUIRE(ok.configs);
    bool saw_retention = false, saw_default = false;
    for (const auto& cfg : *ok.configs) {
        if (cfg.name == "retention.ms") {
            saw_retention = true;
            CHECK(cfg.value == std::optional<std::string_view>("1000"));
            CHECK(cfg.config_source == static_cast<std::int8_t>(source::topic_config));
        } else if (cfg.name == "segment.bytes") {
            saw_default = true;
            CHECK(cfg.config_source == static_cast<std::int8_t>(source::default_config));
        }
    }
    CHECK(saw_retention);
    CHECK(saw_default);
    const auto error_of = [&](const char* n) { return by_name.at(n)->error_code; };
    CHECK(error_of("a0") == error_code::topic_already_exists);
    CHECK(by_name.at("a0")->error_message);
    CHECK(error_of("bad name!") == error_code::invalid_topic_exception);
    CHECK(error_of("zero") == error_code::invalid_partitions);
    CHECK(error_of("rf0") == error_code::invalid_replication_factor);
    CHECK(error_of("badcfg") == error_code::invalid_config);
    CHECK(error_of("badvalue") == error_code::invalid_config);
    CHECK(error_of("nullcfg") == error_code::invalid_config);
    CHECK(error_of("dup") == error_code::invalid_request);
    CHECK(by_name.at("dup")->error_message == std::optional<std::string_view>("Duplicate topic name."));
    CHECK(error_of("asg") == error_code::none);
    CHECK(by_name.at("asg")->num_partitions == 2);
    CHECK(error_of("gap") == error_code::invalid_replica_assignment);
    CHECK(by_name.at("bad name!")->configs == std::nullopt); // failures carry no configs
    for (const auto* gone : {"bad name!", "zero", "rf0", "badcfg", "badvalue", "nullcfg", "dup", "gap"}) {
        INFO(gone);
        CHECK_FALSE(b.topic_metadata(gone));
    }
    CHECK(b.topic_metadata("asg")->partitions.size() == 2);

    // validate_only: answered as if created, nothing created; v5 says what it would have made.
    wire::create_topics::request vo;
    vo.topics = {{"vo", 2, 1, {}, {{"cleanup.policy", "compact"}}}};
    vo.validate_only = true;
    const auto v1 = roundtrip<wire::create_topics::response>(c, 1, 4, vo);
    CHECK(v1.topics.at(0).error_code == error_code::none);
    const auto v5 = roundtrip<wire::create_topics::response>(c, 5, 5, vo);
    CHECK(v5.topics.at(0).error_code == error_code::none);
    CHECK(v5.topics[0].num_partitions == 2);
    REQUIRE(v5.topics[0].configs);
    CHECK_FALSE(v5.topics[0].configs->empty());
    CHECK_FALSE(b.topic_metadata("vo"));
    // validate_only still reports errors.
    vo.topics[0].num_partitions = -5;
    CHECK(roundtrip<wire::create_topics::response>(c, 1, 6, vo).topics.at(0).error_code ==
          error_code::invalid_partitions);

    // v4: -1 takes the broker's num.partitions.
    wire::create_topics::request defaults;
    defaults.topics = {{"defaults", -1, -1, {}, {}}};
    CHECK(roundtrip<wire::create_topics::response>(c, 4, 7, defaults).topics.at(0).error_code == error_code::none);
    CHECK(b.topic_metadata("defaults")->partitions.size() == static_cast<std::size_t>(b.config().num_partitions));
}

TEST_CASE("DescribeConfigs over TCP: topic overrides, defaults, broker configs and errors", "[handlers]") {
    default_broker b;
    REQUIRE(b.create_topic("t", 1, {{"retention.ms", "1000"}}) == error_code::none);
    auto srv = serve(b);
    net::blocking_client c("127.0.0.1", srv->port());

    // v0: is_default.
    {
        const auto resp = describe_topic(c, 0, "t", std::vector<std::string_view>{"retention.ms", "segment.bytes"});
        const auto& res = resp.results[0];
        CHECK(res.error_code == error_code::none);
        CHECK(res.resource_type == wire::describe_configs::resource_type::topic);
        CHECK(res.resource_name == "t");
        REQUIRE(res.configs.size() == 2);
        const auto* retention = find_config(res, "retention.ms");
        REQUIRE(retention);
        CHECK(retention->value == std::optional<std::string_view>("1000"));
        CHECK_FALSE(retention->is_default);
        const auto* segment = find_config(res, "segment.bytes");
        REQUIRE(segment);
        CHECK(segment->is_default);
    }
    // v4: sources, synonyms, types and documentation when asked for.
    {
        const auto resp = describe_topic(c, 4, "t");
        const auto& res = resp.results[0];
        CHECK(res.error_code == error_code::none);
        CHECK(res.configs.size() > 5); // every topic config
        const auto* retention = find_config(res, "retention.ms");
        REQUIRE(retention);
        CHECK(retention->config_source == source::topic_config);
        REQUIRE_FALSE(retention->synonyms.empty());
        CHECK(retention->synonyms[0].source == source::topic_config);
        CHECK(retention->synonyms[0].value == std::optional<std::string_view>("1000"));
        CHECK(retention->config_type != wire::describe_configs::config_type::unknown);
        REQUIRE(retention->documentation);
        CHECK_FALSE(retention->documentation->empty());
        const auto* segment = find_config(res, "segment.bytes");
        REQUIRE(segment);
        CHECK(segment->config_source == source::default_config);
        CHECK_FALSE(segment->is_default); // v0 only
    }
    // v1 without synonyms; v3 without documentation (the type is always there).
    {
        wire::describe_configs::request req;
        req.resources.push_back({wire::describe_configs::resource_type::topic, "t", std::nullopt});
        const auto r1 = roundtrip<wire::describe_configs::response>(c, 1, 2, req);
        const auto* retention = find_config(r1.results.at(0), "retention.ms");
        REQUIRE(retention);
        CHECK(retention->config_source == source::topic_config);
        CHECK(retention->synonyms.empty());
        const auto r3 = roundtrip<wire::describe_configs::response>(c, 3, 3, req);
        const auto* r3_retention = find_config(r3.results.at(0), "retention.ms");
        REQUIRE(r3_retention);
        CHECK_FALSE(r3_retention->documentation);
        CHECK(r3_retention->config_type != wire::describe_configs::config_type::unknown);
    }
    // Broker resources: this node's id or "", anything else INVALID_REQUEST; unknown types and
    // topics are errors of their own resource only.
    {
        using wire::describe_configs::resource_type;
        wire::describe_configs::request req;
        const auto self = std::to_string(b.config().node_id); // the request holds views
        req.resources = {{resource_type::broker, self, std::nullopt},
                         {resource_type::broker, "", std::vector<std::string_view>{"num.partitions"}},
                         {resource_type::broker, "7", std::nullopt},
                         {resource_type::broker_logger, "0", std::nullopt},
                         {resource_type::topic, "nope", std::nullopt}};
        const auto resp = roundtrip<wire::describe_configs::response>(c, 4, 4, req);
        REQUIRE(resp.results.size() == 5);
        CHECK(resp.results[0].error_code == error_code::none);
        CHECK_FALSE(resp.results[0].configs.empty());
        for (const auto& cfg : resp.results[0].configs) CHECK(cfg.read_only);
        CHECK(resp.results[1].error_code == error_code::none);
        REQUIRE(resp.results[1].configs.size() == 1);
        CHECK(resp.results[1].configs[0].name == "num.partitions");
        CHECK(resp.results[2].error_code == error_code::invalid_request);
        CHECK(resp.results[2].error_message);
        CHECK(resp.results[3].error_code == error_code::invalid_request);
        CHECK(resp.results[4].error_code == error_code::unknown_topic_or_partition);
        CHECK(resp.results[4].configs.empty());
    }
}

TEST_CASE("AlterConfigs and IncrementalAlterConfigs over TCP change what DescribeConfigs shows", "[handlers]") {
    default_broker b;
    REQUIRE(b.create_topic("t", 1, {{"retention.ms", "1000"}}) == error_code::none);
    auto srv = serve(b);
    net::blocking_client c("127.0.0.1", srv->port());
    const auto source_of = [&](const char* key) {
        const auto resp = describe_topic(c, 4, "t");
        const auto* cfg = find_config(resp.results[0], key);
        REQUIRE(cfg);
        return std::pair{cfg->config_source, std::string(cfg->value.value_or("<null>"))};
    };
    using alter_type = wire::alter_configs::resource_type;

    for (const std::int16_t v : {std::int16_t{0}, std::int16_t{2}}) {
        INFO("AlterConfigs v" << v);
        // The whole set: segment.bytes set, retention.ms (not listed) back to its default.
        wire::alter_configs::request req;
        req.resources = {{alter_type::topic, "t", {{"segment.bytes", "2097152"}}}};
        const auto resp = roundtrip<wire::alter_configs::response>(c, v, 10 + v, req);
        REQUIRE(resp.responses.size() == 1);
        CHECK(resp.responses[0].error_code == error_code::none);
        CHECK(resp.responses[0].resource_name == "t");
        CHECK(source_of("segment.bytes") == std::pair{source::topic_config, std::string("2097152")});
        CHECK(source_of("retention.ms").first == source::default_config);
        CHECK(b.topic_config("t")->log.segment_bytes == 2097152);
        // validate_only changes nothing; errors per resource.
        wire::alter_configs::request more;
        more.resources = {{alter_type::topic, "t", {{"segment.bytes", "4194304"}}},
                          {alter_type::topic, "nope", {{"segment.bytes", "4194304"}}},
                          {alter_type::broker, "0", {{"num.partitions", "3"}}},
                          {static_cast<alter_type>(8), "0", {}}};
        more.validate_only = true;
        const auto r2 = roundtrip<wire::alter_configs::response>(c, v, 20 + v, more);
        REQUIRE(r2.responses.size() == 4);
        CHECK(r2.responses[0].error_code == error_code::none);
        CHECK(r2.responses[1].error_code == error_code::unknown_topic_or_partition);
        CHECK(r2.responses[2].error_code == error_code::invalid_request);
        REQUIRE(r2.responses[2].error_message);
        CHECK(r2.responses[2].error_message->find("static") != std::string_view::npos);
        CHECK(r2.responses[3].error_code == error_code::invalid_request);
        CHECK(source_of("segment.bytes").second == "2097152");
        // A bad value names the key; a resource twice is answered once.
        wire::alter_configs::request bad;
        bad.resources = {{alter_type::topic, "t", {{"segment.bytes", "huge"}}}};
        const auto r3 = roundtrip<wire::alter_configs::response>(c, v, 30 + v, bad);
        CHECK(r3.responses.at(0).error_code == error_code::invalid_config);
        REQUIRE(r3.responses[0].error_message);
        CHECK(r3.responses[0].error_message->find("segment.bytes") != std::string_view::npos);
        bad.resources.push_back(bad.resources[0]);
        const auto r4 = roundtrip<wire::alter_configs::response>(c, v, 40 + v, bad);
        REQUIRE(r4.responses.size() == 1);
        CHECK(r4.responses[0].error_code == error_code::invalid_request);
    }

    using op = wire::incremental_alter_configs::config_operation;
    using inc_type = wire::incremental_alter_configs::resource_type;
    for (const std::int16_t v : {std::int16_t{0}, std::int16_t{1}}) {
        INFO("IncrementalAlterConfigs v" << v);
        // Only the listed keys change: segment.bytes (set by AlterConfigs) stays.
        wire::incremental_alter_configs::request req;
        req.resources = {{inc_type::topic, "t", {{"retention.ms", op::set, "5000"}}}};
        const auto resp = roundtrip<wire::incremental_alter_configs::response>(c, v, 50 + v, req);
        REQUIRE(resp.responses.size() == 1);
        CHECK(resp.responses[0].error_code == error_code::none);
        CHECK(source_of("retention.ms") == std::pair{source::topic_config, std::string("5000")});
        CHECK(source_of("segment.bytes") == std::pair{source::topic_config, std::string("2097152")});
        // DELETE goes back to the default; APPEND adds to a list.
        req.resources = {{inc_type::topic,
                          "t",
                          {{"retention.ms", op::remove, std::nullopt}, {"cleanup.policy", op::append, "compact"}}}};
        CHECK(roundtrip<wire::incremental_alter_configs::response>(c, v, 60 + v, req).responses.at(0).error_code ==
              error_code::none);
        CHECK(source_of("retention.ms").first == source::default_config);
        const auto [policy_source, policy] = source_of("cleanup.policy");
        CHECK(policy_source == source::topic_config);
        CHECK(policy.find("compact") != std::string::npos);
        CHECK(policy.find("delete") != std::string::npos);
        // Back, for the next version's round.
        req.resources = {{inc_type::topic, "t", {{"cleanup.policy", op::remove, std::nullopt}}}};
        CHECK(roundtrip<wire::incremental_alter_configs::response>(c, v, 70 + v, req).responses.at(0).error_code ==
              error_code::none);
        // Errors: APPEND on a non-list, the same key twice, a broker, validate_only.
        wire::incremental_alter_configs::request bad;
        bad.resources = {{inc_type::topic, "t", {{"segment.bytes", op::append, "1"}}},
                         {inc_type::broker, "0", {{"num.partitions", op::set, "2"}}}};
        const auto r2 = roundtrip<wire::incremental_alter_configs::response>(c, v, 80 + v, bad);
        REQUIRE(r2.responses.size() == 2);
        CHECK(r2.responses[0].error_code == error_code::invalid_config);
        CHECK(r2.responses[1].error_code == error_code::invalid_request);
        bad.resources = {{inc_type::topic, "t", {{"retention.ms", op::set, "1"}, {"retention.ms", op::set, "2"}}}};
        CHECK(roundtrip<wire::incremental_alter_configs::response>(c, v, 90 + v, bad).responses.at(0).error_code ==
              error_code::invalid_request);
        bad.resources = {{inc_type::topic, "t", {{"retention.ms", op::set, "1"}}}};
        bad.validate_only = true;
        CHECK(roundtrip<wire::incremental_alter_configs::response>(c, v, 95 + v, bad).responses.at(0).error_code ==
              error_code::none);
        CHECK(source_of("retention.ms").first == source::default_config);
    }
}

TEST_CASE("CreatePartitions over TCP grows topics and refuses what Kafka refuses", "[handlers]") {
    default_broker b;
    REQUIRE(b.create_topic("t", 2) == error_code::none);
    auto srv = serve(b);
    net::blocking_client c("127.0.0.1", srv->port());
    const auto count = [&] { return b.topic_metadata("t")->partitions.size(); };

    wire::create_partitions::request req;
    req.timeout_ms = 1000;
    req.topics = {{"t", 3, std::nullopt}};
    auto resp = roundtrip<wire::create_partitions::response>(c, 0, 1, req);
    REQUIRE(resp.results.size() == 1);
    CHECK(resp.results[0].name == "t");
    CHECK(resp.results[0].error_code == error_code::none);
    CHECK(count() == 3);
    CHECK(b.describe_topic("t", false).partition_count == 3);

    // v3: explicit assignments of this node, one per new partition.
    req.topics = {{"t", 5, std::vector<wire::create_partitions::assignment>{{{node_id{0}}}, {{node_id{0}}}}}};
    resp = roundtrip<wire::create_partitions::response>(c, 3, 2, req);
    CHECK(resp.results.at(0).error_code == error_code::none);
    CHECK(count() == 5);

    req.topics = {{"t", 4, std::nullopt},    // fewer
                  {"nope", 2, std::nullopt}, // unknown
                  {"d", 2, std::nullopt},    // twice
                  {"d", 3, std::nullopt}};
    resp = roundtrip<wire::create_partitions::response>(c, 3, 3, req);
    REQUIRE(resp.results.size() == 3);
    CHECK(resp.results[0].error_code == error_code::invalid_partitions);
    REQUIRE(resp.results[0].error_message);
    CHECK(resp.results[0].error_message->find("5") != std::string_view::npos);
    CHECK(resp.results[1].error_code == error_code::unknown_topic_or_partition);
    CHECK(resp.results[2].name == "d");
    CHECK(resp.results[2].error_code == error_code::invalid_request);

    // Assignments: the wrong count, another broker.
    req.topics = {{"t", 7, std::vector<wire::create_partitions::assignment>{{{node_id{0}}}}}};
    CHECK(roundtrip<wire::create_partitions::response>(c, 1, 4, req).results.at(0).error_code ==
          error_code::invalid_replica_assignment);
    req.topics = {{"t", 6, std::vector<wire::create_partitions::assignment>{{{node_id{3}}}}}};
    CHECK(roundtrip<wire::create_partitions::response>(c, 2, 5, req).results.at(0).error_code ==
          error_code::invalid_replica_assignment);
    // validate_only grows nothing.
    req.topics = {{"t", 8, std::nullopt}};
    req.validate_only = true;
    CHECK(roundtrip<wire::create_partitions::response>(c, 3, 6, req).results.at(0).error_code == error_code::none);
    CHECK(count() == 5);
}

TEST_CASE("DeleteRecords over TCP moves the log start and answers the low watermark", "[handlers]") {
    default_broker b;
    REQUIRE(b.create_topic("t", 2) == error_code::none);
    REQUIRE(b.create_topic("compacted", 1, {{"cleanup.policy", "compact"}}) == error_code::none);
    REQUIRE(b.produce("t", partition_id{0}, test::make_batch("x", 5), 1).error == error_code::none);
    REQUIRE(b.produce("t", partition_id{1}, test::make_batch("y", 2), 1).error == error_code::none);
    auto srv = serve(b);
    net::blocking_client c("127.0.0.1", srv->port());

    wire::delete_records::request req;
    req.timeout_ms = 1000;
    req.topics = {{"t", {{partition_id{0}, offset{3}}, {partition_id{1}, offset{-1}}, {partition_id{9}, offset{0}}}},
                  {"compacted", {{partition_id{0}, offset{0}}}},
                  {"nope", {{partition_id{0}, offset{0}}}}};
    auto resp = roundtrip<wire::delete_records::response>(c, 0, 1, req);
    REQUIRE(resp.topics.size() == 3);
    REQUIRE(resp.topics[0].partitions.size() == 3);
    CHECK(resp.topics[0].name == "t");
    CHECK(resp.topics[0].partitions[0].error_code == error_code::none);
    CHECK(resp.topics[0].partitions[0].low_watermark == offset{3});
    CHECK(resp.topics[0].partitions[1].error_code == error_code::none);
    CHECK(resp.topics[0].partitions[1].low_watermark == offset{2}); // -1: the high watermark
    CHECK(resp.topics[0].partitions[2].error_code == error_code::unknown_topic_or_partition);
    CHECK(resp.topics[1].partitions.at(0).error_code == error_code::policy_violation);
    CHECK(resp.topics[2].partitions.at(0).error_code == error_code::unknown_topic_or_partition);
    CHECK(b.list_offset("t", partition_id{0}, -2).found == offset{3}); // earliest

    // v2 (flexible): beyond the high watermark is OFFSET_OUT_OF_RANGE; lower than the start keeps it.
    req.topics = {{"t", {{partition_id{0}, offset{6}}, {partition_id{0}, offset{1}}, {partition_id{0}, offset{-1}}}}};
    resp = roundtrip<wire::delete_records::response>(c, 2, 2, req);
    REQUIRE(resp.topics.at(0).partitions.size() == 3);
    CHECK(resp.topics[0].partitions[0].error_code == error_code::offset_out_of_range);
    CHECK(resp.topics[0].partitions[1].error_code == error_code::none);
    CHECK(resp.topics[0].partitions[1].low_watermark == offset{3});
    CHECK(resp.topics[0].partitions[2].low_watermark == offset{5});
    CHECK(b.list_offset("t", partition_id{0}, -2).found == offset{5});
}

TEST_CASE("DeleteTopics over TCP by name and by id; the name can be created again", "[handlers]") {
    default_broker b;
    for (const auto* n : {"a", "b", "c", "d"}) REQUIRE(b.create_topic(n, 1) == error_code::none);
    auto srv = serve(b);
    net::blocking_client c("127.0.0.1", srv->port());

    // v0 by name.
    wire::delete_topics::request req;
    req.timeout_ms = 1000;
    req.topic_names = {"a", "nope"};
    auto resp = roundtrip<wire::delete_topics::response>(c, 0, 1, req);
    REQUIRE(resp.responses.size() == 2);
    CHECK(resp.responses[0].name == "a");
    CHECK(resp.responses[0].error_code == error_code::none);
    CHECK(resp.responses[1].error_code == error_code::unknown_topic_or_partition);
    CHECK_FALSE(b.topic_metadata("a"));
    // Gone from Metadata too; created again (a new id) at once.
    {
        wire::metadata::request m;
        m.topics.emplace();
        m.topics->push_back({"a"});
        m.allow_auto_topic_creation = false;
        CHECK(roundtrip<wire::metadata::response>(c, 9, 2, m).topics.at(0).error_code ==
              error_code::unknown_topic_or_partition);
    }
    const auto again = create_topic(c, 7, 3, "a");
    CHECK(again.topics.at(0).error_code == error_code::none);
    CHECK(b.topic_metadata("a"));

    // v5: error messages; a name twice is answered once.
    req.topic_names = {"b", "b", "nope"};
    resp = roundtrip<wire::delete_topics::response>(c, 5, 4, req);
    REQUIRE(resp.responses.size() == 2);
    CHECK(resp.responses[0].error_code == error_code::invalid_request);
    CHECK(resp.responses[0].error_message == std::optional<std::string_view>("Duplicate topic name."));
    CHECK(resp.responses[1].error_code == error_code::unknown_topic_or_partition);
    CHECK(resp.responses[1].error_message);
    CHECK(b.topic_metadata("b"));

    // v6 by id and by name; an unknown id; both or neither given.
    const auto c_id = b.topic_metadata("c")->id;
    const auto d_id = b.topic_metadata("d")->id;
    wire::uuid unknown = c_id;
    unknown.bytes[0] ^= std::byte{0xff};
    wire::delete_topics::request v6;
    v6.timeout_ms = 1000;
    v6.topics = {
        {std::string_view{}, c_id}, {"d", {}}, {std::string_view{}, unknown}, {"b", d_id}, {std::string_view{}, {}}};
    resp = roundtrip<wire::delete_topics::response>(c, 6, 5, v6);
    REQUIRE(resp.responses.size() == 5);
    CHECK(resp.responses[0].error_code == error_code::none);
    CHECK(resp.responses[0].name == "c");
    CHECK(resp.responses[0].topic_id == c_id);
    CHECK(resp.responses[1].error_code == error_code::none);
    CHECK(resp.responses[1].name == "d");
    CHECK(resp.responses[1].topic_id == d_id);
    CHECK(resp.responses[2].error_code == error_code::unknown_topic_id);
    CHECK(resp.responses[2].name.data() == nullptr);
    CHECK(resp.responses[2].topic_id == unknown);
    CHECK(resp.responses[3].error_code == error_code::invalid_request);
    CHECK(resp.responses[4].error_code == error_code::invalid_request);
    CHECK_FALSE(b.topic_metadata("c"));
    CHECK_FALSE(b.topic_metadata("d"));
    CHECK(b.topic_metadata("b")); // not deleted: named and id'd at once
    CHECK(b.create_topic("c", 2) == error_code::none);
    CHECK(b.topic_metadata("c")->id != c_id);
}

TEST_CASE("DescribeCluster over TCP: this node, and only the broker endpoint type", "[handlers]") {
    default_broker b;
    auto srv = serve(b);
    net::blocking_client c("127.0.0.1", srv->port());
    using wire::describe_cluster::endpoint_type;
    for (const std::int16_t v : {std::int16_t{0}, std::int16_t{1}}) {
        INFO("v" << v);
        const auto resp = roundtrip<wire::describe_cluster::response>(c, v, 1 + v, wire::describe_cluster::request{});
        CHECK(resp.error_code == error_code::none);
        CHECK_FALSE(resp.error_message);
        CHECK(resp.cluster_id == "gregor-cluster");
        CHECK(resp.controller_id == node_id{b.config().node_id});
        REQUIRE(resp.brokers.size() == 1);
        CHECK(resp.brokers[0].broker_id == node_id{b.config().node_id});
        CHECK(resp.brokers[0].port == static_cast<std::int32_t>(srv->port()));
        CHECK_FALSE(resp.brokers[0].host.empty());
        CHECK(resp.endpoint_type == endpoint_type::brokers);
        CHECK(resp.cluster_authorized_operations == wire::describe_cluster::authorized_operations_unknown);
        const auto ops =
            roundtrip<wire::describe_cluster::response>(c, v, 3 + v, wire::describe_cluster::request{true});
        CHECK(ops.cluster_authorized_operations != wire::describe_cluster::authorized_operations_unknown);
    }
    const auto controllers = roundtrip<wire::describe_cluster::response>(
        c, 1, 5, wire::describe_cluster::request{false, endpoint_type::controllers});
    CHECK(controllers.error_code == error_code::mismatched_endpoint_type);
    CHECK(controllers.error_message);
    CHECK(controllers.brokers.empty());
    const auto other = roundtrip<wire::describe_cluster::response>(
        c, 1, 6, wire::describe_cluster::request{false, static_cast<endpoint_type>(7)});
    CHECK(other.error_code == error_code::unsupported_endpoint_type);
}
