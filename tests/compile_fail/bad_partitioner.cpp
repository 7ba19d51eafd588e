// A partitioner without partition(const partition_context&, topic_state&) must stop compilation at
// gregor::producer with the static_assert sentence naming what the policy must provide.
#include <gregor/producer/producer.hpp>

struct no_partition {
    int pick(int n) const { return n - 1; }
};

struct null_transport {
    void send(gregor::produce_request&&) {}
    void send(gregor::metadata_request&&) {}
    void send(gregor::init_producer_id_request&&) {}
    std::size_t poll(std::vector<gregor::transport_event>&, gregor::duration) { return 0; }
    void wake() {}
};

int main() {
    gregor::producer<gregor::producer_policies<null_transport, no_partition>> p{{}, null_transport{}};
    (void)p;
}
