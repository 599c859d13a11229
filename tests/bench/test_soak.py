"""The soak benchmark's own logic (bench/soak_*.py): its fault schedule, how it
puts closes and losses down to faults, and the checks that set its exit code.
The soak itself runs for minutes and is not part of the test suite."""

from bench.soak_faults import Faults
from bench.soak_redis import channel_kind
from bench.soak_report import attribute, fault_effects, verdict


def schedule(minutes: float) -> list[str]:
    faults = Faults(
        None,
        None,
        seconds=minutes * 60,
        kill_every=180,
        first_kill=60,
        redis_every=300,
        first_redis=150,
        redis_down=3,
    )
    return [fault.label for fault in faults.planned]


def test_short_soak_gets_one_fault_of_each_kind():
    assert schedule(4) == ["kill@1min", "redis@2.5min"]


def test_default_soak_spreads_faults_and_keeps_the_last_30_seconds_quiet():
    labels = schedule(20)
    assert [label for label in labels if label.startswith("kill")] == [
        f"kill@{m}min" for m in (1, 4, 7, 10, 13, 16, 19)
    ]
    assert [label for label in labels if label.startswith("redis")] == [
        f"redis@{m}min" for m in (2.5, 7.5, 12.5, 17.5)
    ]


def test_channel_kinds_fold_ids():
    assert channel_kind("asgispecific.0f3a9b7c1d2e4f5a6b7c8d9e0f1a2b3c") == "asgispecific.*"
    assert channel_kind("asgi__group__chat.room.12") == "group chat.room.*"
    assert channel_kind("asgi__group__user.7") == "group user.*"


def fault(kind: str, at: float, started_ms: float) -> dict:
    return {"kind": kind, "at_seconds": at, "started_ms": started_ms}


def test_closes_count_against_the_fault_before_them_open_sockets_apart():
    faults = [fault("kill", 60, 10_000), fault("redis", 150, 100_000)]
    close_log = [
        [10_050, 1006, False, True],  # open socket of the killed worker
        [10_060, 1000, True, True],  # a planned reconnect: not the fault's doing
        [100_500, 1006, False, False],  # a reconnect refused while Redis was down
    ]
    timeline = [
        {"t": 11_000, "down_unplanned": 1},
        {"t": 14_000, "down_unplanned": 0},
        {"t": 101_000, "down_unplanned": 0},
    ]
    fault_effects(faults, close_log, timeline)
    assert faults[0]["sockets_closed"] == {"1006": 1}
    assert faults[0]["connects_failed"] == {}
    assert faults[0]["all_clients_back_seconds"] == 4.0
    assert faults[1]["sockets_closed"] == {}
    assert faults[1]["connects_failed"] == {"1006": 1}
    assert faults[1]["all_clients_back_seconds"] == 0.0


def test_lost_message_is_put_down_to_the_last_fault_before_it():
    faults = [fault("kill", 60, 10_000), fault("redis", 150, 100_000)]
    assert attribute(faults, 103_400) == "redis@2.5min"
    assert attribute(faults, 98_000) == "redis@2.5min"  # in flight when Redis stopped
    assert attribute(faults, 50_000) == "kill@1min"
    assert attribute(faults, 1_000) == "none"
    assert attribute(faults, 200_000) == "none"


def result(*, lost: int = 0, duplicates: int = 0, channels_after: int = 1, rss_after: int = 100):
    def snapshot(channels: int, rss: int) -> dict:
        return {"pubsub": {"channels": channels, "subscriptions": channels}, "rss_kib_total": rss}

    return {
        "clients": {
            "lost_deliveries": lost,
            "lost_messages": [{}] * lost,
            "duplicates": duplicates,
            "stored_twice": duplicates,
            "seq_reused": 0,
        },
        "before": snapshot(1, 80),
        "warm": snapshot(40, 100),
        "after": snapshot(channels_after, rss_after),
    }


def failed(checks: list[dict]) -> list[str]:
    return [check["name"] for check in checks if not check["ok"]]


def test_a_clean_soak_passes_every_check():
    assert failed(verdict(result())) == []


def test_lost_or_duplicated_messages_fail():
    assert failed(verdict(result(lost=1))) == ["nothing lost"]
    assert failed(verdict(result(duplicates=1))) == [
        "nothing duplicated after de-duplication by seq"
    ]


def test_channels_compare_with_before_any_client_and_memory_with_the_warm_up():
    # 40 channels after the warm-up is no excuse for 40 after the soak.
    assert len(failed(verdict(result(channels_after=40)))) == 2
    # Memory: within 10% of the warm-up's level passes, beyond fails.
    assert failed(verdict(result(rss_after=110))) == []
    assert failed(verdict(result(rss_after=111))) == ["worker RSS back within 10%"]
