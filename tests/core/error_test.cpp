#include <gregor/core/error.hpp>

#include <catch2/catch.hpp>

using namespace gregor;

TEST_CASE("error codes carry Kafka's numbers and names", "[error]") {
    CHECK(static_cast<int>(error_code::not_leader_or_follower) == 6);
    CHECK(static_cast<int>(error_code::out_of_order_sequence_number) == 45);
    CHECK(static_cast<int>(error_code::producer_fenced) == 90);
    CHECK(to_string(error_code::corrupt_message) == "CORRUPT_MESSAGE");
    CHECK(to_string(static_cast<error_code>(999)) == "UNKNOWN_ERROR_CODE(999)");
    std::error_code ec = error_code::message_too_large;
    CHECK(ec.category().name() == std::string("kafka"));
    CHECK(ec.message() == "MESSAGE_TOO_LARGE");
    std::error_code ok = error_code::none;
    CHECK_FALSE(ok);
}

TEST_CASE("retriable follows the Java client's retriable exceptions", "[error]") {
    CHECK(retriable(error_code::not_leader_or_follower));
    CHECK(retriable(error_code::not_enough_replicas_after_append));
    CHECK(retriable(error_code::request_timed_out));
    CHECK_FALSE(retriable(error_code::message_too_large));
    CHECK_FALSE(retriable(error_code::out_of_order_sequence_number));
    CHECK_FALSE(retriable(error_code::invalid_producer_epoch));
}

TEST_CASE("local errors stay apart and map onto wire codes in one place", "[error]") {
    std::error_code ec = local_error::queue_full;
    CHECK(ec.category() == local_category());
    CHECK(ec != std::error_code(error_code::none));
    CHECK(to_kafka(local_error::timed_out) == error_code::request_timed_out);
    CHECK(to_kafka(std::error_code(local_error::io_error)) == error_code::kafka_storage_error);
    CHECK(to_kafka(std::error_code(error_code::invalid_record)) == error_code::invalid_record);
}
