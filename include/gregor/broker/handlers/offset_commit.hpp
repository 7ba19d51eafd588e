// OffsetCommit: a group's consumed positions, stored as records in __consumer_offsets; the answer
// comes once they are there with acks=all (docs/groups.md). Partitions of topics the
// cluster does not have get UNKNOWN_TOPIC_OR_PARTITION and the rest is committed.
#pragma once

#include <gregor/broker/handlers/context.hpp>
#include <gregor/broker/handlers/group_common.hpp>
#include <gregor/net/response.hpp>
#include <gregor/wire/api.hpp>
#include <gregor/wire/messages/offset_commit.hpp>

#include <vector>

namespace gregor::broker_handlers {

struct offset_commit_handler {
    using api = wire::offset_commit_api;
    static constexpr wire::version_range served{0, 9};
    static constexpr bool off_loop = true;

    template <typename Broker>
    static void handle(request_context<Broker>& ctx, net::responder r) {
        using namespace wire::offset_commit;
        namespace gd = group_detail;
        auto req = decode_request<request>(ctx);
        if (!req) return r.complete(net::close_connection);
        const auto v = ctx.header.version;
        groups::commit_request c;
        c.group_id = std::string(req->group_id);
        c.generation_id = req->generation_id_or_member_epoch;
        c.member_id = std::string(req->member_id);
        c.group_instance_id = gd::owned(req->group_instance_id);
        if (v >= 2 && v <= 4) c.retention_ms = req->retention_time_ms;
        // The answer lists the topics in the request's order; `sizes` remembers where each ends.
        std::vector<std::pair<std::string, std::size_t>> sizes;
        for (const auto& t : req->topics) {
            sizes.emplace_back(std::string(t.name), t.partitions.size());
            for (const auto& p : t.partitions) {
                groups::commit_partition cp;
                cp.topic = std::string(t.name);
                cp.partition = p.partition_index.value();
                cp.offset = p.committed_offset.value();
                cp.leader_epoch = p.committed_leader_epoch.value();
                cp.metadata = gd::owned(p.committed_metadata);
                if (v == 1 && p.commit_timestamp >= 0) c.commit_timestamp = p.commit_timestamp;
                if (!gd::partition_exists(ctx.broker, t.name, cp.partition)) cp.error = error_code::unknown_topic_or_partition;
                c.partitions.push_back(std::move(cp));
            }
        }
        ctx.broker.groups().commit(std::move(c), [h = gd::answer_header(ctx.header), r = std::move(r),
                                                  sizes = std::move(sizes)](std::vector<groups::commit_partition> ps) mutable {
            response resp;
            std::size_t i = 0;
            for (const auto& [name, n] : sizes) {
                response_topic rt;
                rt.name = name;
                for (std::size_t k = 0; k < n && i < ps.size(); ++k, ++i)
                    rt.partitions.push_back({partition_id{ps[i].partition}, ps[i].error});
                resp.topics.push_back(std::move(rt));
            }
            gd::reply(r, h, resp);
        });
    }
};

} // namespace gregor::broker_handlers
