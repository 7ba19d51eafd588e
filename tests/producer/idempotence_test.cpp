#include <gregor/producer/idempotence.hpp>
#include <gregor/producer/record_metadata.hpp>

#include <catch2/catch.hpp>

#include <memory>

using namespace gregor;
using namespace gregor::producer_detail;

TEST_CASE("sequences advance by record count per partition and wrap like Kafka's", "[idempotence]") {
    sequence_state s;
    s.reset(producer_id{7}, producer_epoch{0});
    CHECK(s.assign(10) == sequence{0});
    CHECK(s.assign(5) == sequence{10});
    CHECK(s.next == sequence{15});
    s.next = sequence{std::numeric_limits<std::int32_t>::max() - 1};
    CHECK(s.assign(3) == sequence{std::numeric_limits<std::int32_t>::max() - 1});
    CHECK(s.next == sequence{1});
}

TEST_CASE("an epoch bump restarts sequences at 0; an exhausted epoch asks for a new producer id", "[idempotence]") {
    sequence_state s;
    s.reset(producer_id{7}, producer_epoch{3});
    (void)s.assign(100);
    s.needs_bump = true;
    REQUIRE(s.bump());
    CHECK(s.epoch == producer_epoch{4});
    CHECK(s.next == sequence{0});
    CHECK(!s.needs_bump);
    s.epoch = producer_epoch{std::numeric_limits<std::int16_t>::max() - 1};
    CHECK(!s.bump());
    s.reset(producer_id{8}, producer_epoch{0});
    CHECK(s.pid == producer_id{8});
    CHECK(s.next == sequence{0});
}

TEST_CASE(
    "the in-flight window spans at most max.in.flight batches from the oldest unacknowledged, one until confirmed",
    "[idempotence]") {
    sequence_state s;
    s.reset(producer_id{1}, producer_epoch{0});
    CHECK(s.in_window(0, 0, 5));
    CHECK(!s.in_window(1, 0, 5)); // unconfirmed: one batch out at a time
    s.confirmed = true;
    CHECK(s.in_window(4, 0, 5));
    CHECK(!s.in_window(5, 0, 5)); // a sixth batch could push the oldest out of the broker's cache
    CHECK(s.in_window(7, 3, 5));
    (void)s.assign(1);
    CHECK(s.batches == 1);
    REQUIRE(s.bump());
    CHECK(s.batches == 0);
    CHECK(!s.confirmed);
}

TEST_CASE("answers are classified as Kafka's producers do", "[idempotence]") {
    using E = error_code;
    using A = answer_action;
    CHECK(classify_answer(E::none, true, true, true) == A::complete);
    CHECK(classify_answer(E::duplicate_sequence_number, true, false, true) == A::complete);
    // A sequence gap at the head of the partition cannot be fixed by retrying: bump.
    CHECK(classify_answer(E::out_of_order_sequence_number, true, true, true) == A::bump_then_retry);
    CHECK(classify_answer(E::unknown_producer_id, true, true, true) == A::bump_then_retry);
    // Behind an unresolved batch it only means that one has not landed yet.
    CHECK(classify_answer(E::out_of_order_sequence_number, true, false, false) == A::retry);
    // Without idempotence it is just a permanent error.
    CHECK(classify_answer(E::out_of_order_sequence_number, false, true, true) == A::fail);
    CHECK(classify_answer(E::not_leader_or_follower, false, true, true) == A::retry);
    CHECK(classify_answer(E::request_timed_out, true, true, true) == A::retry);
    CHECK(classify_answer(E::request_timed_out, true, true, false) == A::fail);
    CHECK(classify_answer(E::message_too_large, true, true, true) == A::fail);
    CHECK(classify_answer(E::invalid_producer_epoch, true, true, true) == A::fail);
    CHECK(needs_metadata_refresh(E::not_leader_or_follower));
    CHECK(!needs_metadata_refresh(E::request_timed_out));
}

TEST_CASE("retry backoff doubles from retry.backoff.ms up to retry.backoff.max.ms with 20% jitter", "[idempotence]") {
    using std::chrono::milliseconds;
    auto ms = [](duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
    CHECK(ms(retry_backoff(1, milliseconds{100}, milliseconds{1000}, 0.5)) == Approx(100));
    CHECK(ms(retry_backoff(2, milliseconds{100}, milliseconds{1000}, 0.5)) == Approx(200));
    CHECK(ms(retry_backoff(4, milliseconds{100}, milliseconds{1000}, 0.5)) == Approx(800));
    CHECK(ms(retry_backoff(5, milliseconds{100}, milliseconds{1000}, 0.5)) == Approx(1000));
    CHECK(ms(retry_backoff(60, milliseconds{100}, milliseconds{1000}, 0.5)) == Approx(1000));
    CHECK(ms(retry_backoff(1, milliseconds{100}, milliseconds{1000}, 0.0)) == Approx(80));
    CHECK(ms(retry_backoff(1, milliseconds{100}, milliseconds{1000}, 1.0)) == Approx(120));
    // A max below the base means the base (Java does the same).
    CHECK(ms(retry_backoff(3, milliseconds{100}, milliseconds{50}, 0.5)) == Approx(100));
}

TEST_CASE("a completion fires once, inline or on the heap, and survives moves", "[completion]") {
    int calls = 0;
    record_metadata seen;
    completion small([&](std::error_code ec, const record_metadata& md) {
        ++calls;
        seen = md;
        CHECK(!ec);
    });
    completion moved = std::move(small);
    CHECK(!small);
    REQUIRE(moved);
    record_metadata md;
    md.offset = offset{42};
    moved({}, md);
    moved({}, md); // a completion fires once
    CHECK(calls == 1);
    CHECK(seen.offset == offset{42});
    CHECK(!moved);

    auto big = std::make_shared<int>(0);
    std::array<char, 200> padding{};
    completion heap([big, padding](std::error_code ec, const record_metadata&) { *big += ec ? 10 : 1 + padding[0]; });
    completion heap2 = std::move(heap);
    heap2(make_error_code(local_error::timed_out), md);
    CHECK(*big == 10);

    promise_completion pc;
    auto f = pc.promise.get_future();
    completion fut(std::move(pc));
    fut(make_error_code(error_code::message_too_large), md);
    const auto r = f.get();
    CHECK(r.error == make_error_code(error_code::message_too_large));
    CHECK(r.metadata.offset == offset{42});

    // Destroying an unfired completion releases what it holds.
    auto token = std::make_shared<int>(1);
    {
        completion unfired([token](std::error_code, const record_metadata&) {});
    }
    CHECK(token.use_count() == 1);
}
