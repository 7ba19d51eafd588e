// A batching policy without ready_at(const batch_info&) must stop compilation at gregor::producer
// with the static_assert sentence naming what the policy must provide.
#include <gregor/producer/producer.hpp>

struct size_only_without_ready_at {
    std::size_t batch_size() const { return 16384; }
};

struct null_transport {
    void send(gregor::produce_request&&) {}
    void send(gregor::metadata_request&&) {}
    void send(gregor::init_producer_id_request&&) {}
    std::size_t poll(std::vector<gregor::transport_event>&, gregor::duration) { return 0; }
    void wake() {}
};

int main() {
    gregor::producer<gregor::producer_policies<null_transport, gregor::partitioners::sticky, size_only_without_ready_at>>
        p{{}, null_transport{}};
    (void)p;
}
