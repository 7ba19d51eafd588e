// A broker as one node of a gregor cluster (docs/replication.md): with controller.quorum.voters
// set, cluster_node runs the controller when this node is the voter (on the broker's own
// listener), and the membership (cluster_member.hpp: registration, heartbeats, the metadata log,
// replica fetchers) on every node.
//
//   gregor::broker<P> b{cfg};                       // cfg.controller_quorum_voters = "1@127.0.0.1:9092"
//   gregor::kafka_server<gregor::broker<P>> srv{b, server_cfg};
//   gregor::cluster_node<gregor::broker<P>> node{b, "127.0.0.1", srv.port()};
//   ...
//   node.shutdown(std::chrono::seconds(30));       // controlled: leaderships move first
//   srv.stop();
//
// Without controller.quorum.voters it does nothing: the broker stays a single node.
// Thread-safety: construct and shut down from one thread; the parts run their own threads.
#pragma once

#include <gregor/broker/cluster_member.hpp>
#include <gregor/broker/controller.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace gregor {

template <typename Broker>
class cluster_node {
public:
    cluster_node(Broker& b, std::string advertised_host, std::int32_t advertised_port) : b_(b) {
        if (!b.cluster_mode()) return;
        const auto voters = cluster::parse_voters(b.config().controller_quorum_voters);
        if (voters.front().id == node_id{b.config().node_id}) {
            controller_ = std::make_unique<cluster::controller<Broker>>(b);
            b.set_controller(controller_.get());
            ticker_ = std::thread([this] { tick_loop(); });
        }
        member_ = std::make_unique<cluster::member<Broker>>(b, std::move(advertised_host), advertised_port);
        b.set_member(member_.get());
        b.set_marker_forwarder([m = member_.get()](std::string topic, std::int32_t p, producer_id pid, producer_epoch epoch,
                                                   bool commit, std::int32_t cepoch,
                                                   gregor::detail::unique_function<void(error_code)> done) {
            m->write_marker(std::move(topic), p, pid, epoch, commit, cepoch, std::move(done));
        });
        member_->start();
    }

    cluster_node(const cluster_node&) = delete;
    cluster_node& operator=(const cluster_node&) = delete;
    /// Stop the broker's server first: its handlers use the controller and the member.
    ~cluster_node() {
        b_.set_marker_forwarder({});
        shutdown(std::chrono::milliseconds(0));
        b_.set_member(nullptr);
        b_.set_controller(nullptr);
    }

    /// Moves this node's leaderships away (at most `timeout`), then stops replicating. The
    /// controller, if here, keeps running until the broker's server stops (destruction).
    void shutdown(std::chrono::milliseconds timeout) {
        if (member_) {
            if (timeout.count() > 0)
                member_->shutdown(timeout);
            else
                member_->stop();
        }
        if (timeout.count() == 0) stop_controller();
    }

    cluster::controller<Broker>* controller() noexcept { return controller_.get(); }
    cluster::member<Broker>* member() noexcept { return member_.get(); }

private:
    void stop_controller() {
        {
            std::lock_guard lk(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        if (ticker_.joinable()) ticker_.join();
    }

    void tick_loop() {
        std::unique_lock lk(mu_);
        while (!stop_) {
            cv_.wait_for(lk, std::chrono::milliseconds(100), [&] { return stop_; });
            if (stop_) break;
            lk.unlock();
            controller_->tick();
            lk.lock();
        }
    }

    Broker& b_;
    std::unique_ptr<cluster::controller<Broker>> controller_;
    std::unique_ptr<cluster::member<Broker>> member_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    std::thread ticker_;
};

} // namespace gregor
