"""Champion and challenger in one service: routing, shadow, guard rails, feedback, the online test."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from demo_api import export, make_spec
from fastapi.testclient import TestClient
from mlcore.foundation.waiting import wait_until
from mlcore.lifecycle import retrain
from mlcore.monitoring import abtest
from mlcore.serving.app import create_app
from mlcore.serving.rollout import GuardRail, RolloutSettings, Router, bucket


def client_for(tmp_path: Path, challenger: float | str | None = 3.0, **rollout: Any) -> TestClient:
    export(tmp_path / "export", "1", 2.0)
    kw: dict[str, Any] = {"rollout": RolloutSettings.from_config(rollout), "feedback_kind": "response"}
    if challenger is not None:
        export(tmp_path / "challenger", "2", challenger)
        kw["challenger_export"] = tmp_path / "challenger"
    return TestClient(create_app(make_spec(tmp_path, **kw)), raise_server_exceptions=False)


def rows(db: Path, at_least: int = 1) -> list[tuple[str, str, str, int]]:
    """(request id, arm, version, item) of every logged row, once the writer has committed ``at_least``."""

    def committed() -> list[tuple[str, str, str, int]]:
        if not db.exists():
            return []
        conn = sqlite3.connect(db)
        try:
            return conn.execute("SELECT request_id, arm, model_version, item FROM predictions ORDER BY id").fetchall()
        except sqlite3.OperationalError:  # the table is not created yet
            return []
        finally:
            conn.close()

    return wait_until(
        lambda: len(found := committed()) >= at_least and found,
        f"{at_least} rows in the prediction log",
        seen=lambda: f"{len(committed())} rows",
    )


def follow_rounds_after(client: TestClient, rounds: int = 2) -> int:
    """Wait until this app's worker has read the shared experiment ``rounds`` more times."""
    arms = client.app.state.serving.arms  # type: ignore[attr-defined]
    target = arms.follow_rounds + rounds
    return wait_until(lambda: arms.follow_rounds >= target and arms.follow_rounds, "the worker to follow the database")


# -- the router and the guard rail (pure) ----------------------------------------------------------
def test_the_challenger_gets_its_share_and_a_key_always_the_same_arm() -> None:
    router = Router(RolloutSettings(mode="canary", canary_share=0.2))
    arms = Counter(router.arm_for(None) for _ in range(20_000))
    assert abs(arms["challenger"] / 20_000 - 0.2) < 0.02
    keyed = {key: router.arm_for(key) for key in map(str, range(2000))}
    assert all(router.arm_for(key) == arm for key, arm in keyed.items())
    assert abs(sum(arm == "challenger" for arm in keyed.values()) / 2000 - 0.2) < 0.04
    assert 0 <= bucket("anything") < 1
    router.set_mode("champion")
    assert {router.arm_for(None) for _ in range(100)} == {"champion"}
    with pytest.raises(ValueError, match="rollout.mode must be one of"):
        router.set_mode("blue-green")
    with pytest.raises(ValueError, match="between 0 and 1"):
        router.set_mode("ab", 1.5)


def test_guard_rail_trips_on_errors_and_on_latency_only_past_min_requests() -> None:
    guard = GuardRail(max_error_rate=0.1, max_p95_ms=100, window=50, min_requests=20)
    router = Router(RolloutSettings(mode="ab", guard=guard))
    for _ in range(19):
        assert router.observe(False, 0.0) is None  # 19 errors, but not enough requests to judge
    reason = router.observe(False, 0.0)
    assert reason is not None and "error rate 100.0%" in reason and router.mode == "champion"
    assert router.describe()["guard_rail"] == reason
    router.set_mode("canary", 0.5)
    assert router.describe()["guard_rail"] is None
    for _ in range(19):
        router.observe(True, 30.0)
    assert router.mode == "canary"
    for _ in range(10):
        router.observe(True, 500.0)
    assert router.mode == "champion" and "p95 latency" in (router.cut_reason or "")


# -- the sequential test ---------------------------------------------------------------------------
def test_the_sequential_test_keeps_its_false_positive_rate_under_peeking() -> None:
    """A/A experiments looked at every 20 items up to 2,000: rejections stay at or below alpha."""
    for p in (0.5, 0.9):
        rate = abtest.simulate_false_positive_rate(p=p, n=2000, sims=500, alpha=0.05, every=20, seed=7)
        assert rate <= 0.05, f"false-positive rate {rate:.3f} > 0.05 at p={p}"


def test_the_sequential_test_finds_a_real_difference_and_its_size() -> None:
    rng = np.random.default_rng(3)
    right, covered = 0, 0
    for _ in range(60):
        is_b = rng.random(6000) < 0.5
        values = np.where(is_b, rng.random(6000) < 0.86, rng.random(6000) < 0.80).astype(float)
        looks = abtest.sequential_test(values, is_b, alpha=0.05)
        decision = abtest.decide(looks, 0.05, 100, higher_is_better=True)
        right += decision.winner == "challenger"
        covered += decision.interval is not None and decision.interval[0] <= 0.06 <= decision.interval[1]
    assert right >= 50 and covered >= 55
    # lower is better (an error metric): the smaller mean wins
    is_b = rng.random(4000) < 0.5
    errors = np.where(is_b, rng.normal(8, 2, 4000), rng.normal(10, 2, 4000))
    lower = abtest.decide(abtest.sequential_test(errors, is_b, 0.05), 0.05, 100, higher_is_better=False)
    assert lower.significant and lower.winner == "challenger" and lower.effect < 0


def test_no_decision_before_min_samples() -> None:
    is_b = np.array([False, True] * 40)
    values = np.where(is_b, 1.0, 0.0) + np.random.default_rng(0).normal(0, 0.01, 80)
    decision = abtest.decide(abtest.sequential_test(values, is_b, 0.05), 0.05, 100, True)
    assert not decision.significant and "not enough feedback" in decision.reason


# -- the service ----------------------------------------------------------------------------------
def test_canary_answers_name_the_arm_and_keys_stick(tmp_path: Path) -> None:
    with client_for(tmp_path, mode="canary", canary_share=0.5) as client:
        versions = Counter(client.post("/predict", json={"x": 1}).json()["model_version"] for _ in range(200))
        sticky = {
            client.post("/predict", json={"x": 1}, headers={"x-request-key": "user-7"}).json()["y"] for _ in range(20)
        }
        answer = client.post("/predict", json={"x": 1})
        metrics = client.get("/metrics").text
        status = client.get("/rollout").json()
    assert 60 < versions["2"] < 140 and versions["1"] + versions["2"] == 200
    assert len(sticky) == 1
    assert answer.headers["x-model-version"] == answer.json()["model_version"]
    assert answer.headers["x-model-arm"] == ("challenger" if answer.json()["model_version"] == "2" else "champion")
    assert 'rollout_requests_total{arm="challenger",version="2"}' in metrics
    assert 'rollout_requests_total{arm="champion",version="1"}' in metrics
    assert 'rollout_mode{mode="canary"} 1.0' in metrics
    assert status["mode"] == "canary" and status["challenger_version"] == "2" and status["champion_version"] == "1"


def test_shadow_returns_the_champion_and_logs_both_under_one_request_id(tmp_path: Path) -> None:
    with client_for(tmp_path, mode="shadow") as client:
        answers = [client.post("/predict", json={"x": 2}).json() for _ in range(20)]
        metrics = client.get("/metrics").text
    assert {a["model_version"] for a in answers} == {"1"} and {a["y"] for a in answers} == {4.0}
    logged = rows(tmp_path / "log.db", at_least=40)
    by_arm = Counter(arm for _, arm, _, _ in logged)
    assert by_arm == {"champion": 20, "shadow": 20}
    ids = {a["request_id"] for a in answers}
    assert {rid for rid, arm, version, _ in logged if arm == "shadow" and version == "2"} == ids
    assert 'rollout_requests_total{arm="shadow",version="2"} 20.0' in metrics


def test_a_failing_challenger_is_cut_off_and_no_request_fails(tmp_path: Path) -> None:
    guard = {"max_error_rate": 0.05, "min_requests": 10, "window": 50}
    with client_for(tmp_path, challenger="broken", mode="canary", canary_share=1.0, guard=guard) as client:
        answers = [client.post("/predict", json={"x": 1}) for _ in range(30)]
        status = client.get("/rollout").json()
        metrics = client.get("/metrics").text
    assert {a.status_code for a in answers} == {200}
    assert {a.json()["model_version"] for a in answers} == {"1"}  # the champion answered each one
    assert status["mode"] == "champion" and "error rate" in status["guard_rail"]
    assert "rollout_guard_rail_tripped 1.0" in metrics
    assert 'rollout_errors_total{arm="challenger",version="2"} 10.0' in metrics


def test_admin_rollout_switches_modes_and_refuses_what_cannot_work(tmp_path: Path) -> None:
    with client_for(tmp_path) as client:
        assert client.get("/rollout").json()["mode"] == "champion"
        bad = client.post("/admin/rollout", json={"mode": "blue-green"})
        share = client.post("/admin/rollout", json={"mode": "ab", "share": 2})
        extra = client.post("/admin/rollout", json={"mode": "ab", "colour": "red"})
        switched = client.post("/admin/rollout", json={"mode": "ab", "share": 0.3})
        after = {client.post("/predict", json={"x": 1}).json()["model_version"] for _ in range(60)}
    assert bad.status_code == 422 and "mode" in bad.json()["error"]
    assert share.status_code == 422 and share.json()["detail"][0]["field"] == "share"
    assert extra.status_code == 422 and extra.json()["detail"][0]["field"] == "colour"
    assert (
        switched.status_code == 200 and switched.json()["mode"] == "ab" and switched.json()["challenger_share"] == 0.3
    )
    assert after == {"1", "2"}
    with client_for(tmp_path / "none", challenger=None) as client:
        refused = client.post("/admin/rollout", json={"mode": "canary"})
        assert refused.status_code == 409 and "needs a challenger" in refused.json()["error"]
        assert client.get("/rollout").json()["mode"] == "champion"


def test_feedback_is_joined_idempotent_and_refuses_what_it_cannot_use(tmp_path: Path) -> None:
    with client_for(tmp_path) as client:
        one = client.post("/predict", json={"x": 1}).json()
        batch = client.post("/predict", json={"items": [{"x": 1}, {"x": 2}]}).json()
        rid = one["request_id"]
        first = client.post("/feedback", json={"request_id": rid, "responded": True})
        again = client.post("/feedback", json={"request_id": rid, "responded": True})
        changed = client.post("/feedback", json={"request_id": rid, "responded": False})
        second_item = client.post("/feedback", json={"request_id": batch["request_id"], "item": 1, "responded": False})
        no_item = client.post("/feedback", json={"request_id": batch["request_id"], "item": 2, "responded": False})
        unknown = client.post("/feedback", json={"request_id": "never-answered", "responded": True})
        malformed = client.post("/feedback", json={"request_id": "a b", "responded": True})
        wrong_type = client.post("/feedback", json={"request_id": rid, "responded": "yes"})
        missing = client.post("/feedback", json={"request_id": rid})
        huge = client.post("/feedback", json={"request_id": rid, "item": 2**90, "responded": True})
        whole = client.post("/feedback", json={"request_id": batch["request_id"], "item": 1.0, "responded": False})
        fraction = client.post("/feedback", json={"request_id": rid, "item": 0.5, "responded": True})
        boolean = client.post("/feedback", json={"request_id": rid, "item": True, "responded": True})
        rows(tmp_path / "log.db", at_least=3)  # the answers are committed: feedback now finds them in the log
        older = client.post("/feedback", json={"request_id": rid, "responded": True})
    assert first.status_code == 200 and first.json() == {
        "status": "recorded",
        "request_id": rid,
        "item": 0,
        "model_version": "1",
    }
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert changed.status_code == 409 and "already stored" in changed.json()["error"]
    assert second_item.status_code == 200
    assert no_item.status_code == 404 and "item" in no_item.json()["error"]
    assert unknown.status_code == 404 and "request_id" in unknown.json()["error"]
    assert malformed.status_code == 422 and malformed.json()["detail"][0]["field"] == "request_id"
    assert wrong_type.status_code == 422 and wrong_type.json()["detail"][0]["field"] == "responded"
    assert missing.status_code == 422 and missing.json()["detail"][0]["field"] == "responded"
    assert huge.status_code == 422 and huge.json()["detail"][0]["field"] == "item"
    assert whole.status_code == 200 and whole.json()["item"] == 1  # 1.0 is the JSON number 1
    assert fraction.status_code == 422 and fraction.json()["detail"][0]["field"] == "item"
    assert boolean.status_code == 422 and boolean.json()["detail"][0]["field"] == "item"
    assert older.json()["status"] == "duplicate"
    conn = sqlite3.connect(tmp_path / "log.db")
    assert conn.execute("SELECT count(*) FROM feedback").fetchone()[0] == 2
    conn.close()


def test_feedback_feeds_online_metrics_and_the_ab_decision(tmp_path: Path) -> None:
    """A/B on a live app: customers answered by the challenger respond more often."""
    rng = np.random.default_rng(5)
    settings = {"mode": "ab", "ab_split": 0.5, "test": {"min_samples": 50, "alpha": 0.05}}
    with client_for(tmp_path, **settings) as client:
        for _ in range(700):
            answer = client.post("/predict", json={"x": 1}).json()
            rate = 0.85 if answer["model_version"] == "2" else 0.45
            response = client.post(
                "/feedback", json={"request_id": answer["request_id"], "responded": bool(rng.random() < rate)}
            )
            assert response.status_code == 200
        rows(tmp_path / "log.db", at_least=700)  # the analysis reads committed answers
        status = client.get("/rollout").json()
        online = 'online_metric{metric="response_rate",version="2"}'
        metrics = wait_until(  # online metrics refresh at most every 5 s
            lambda: online in (text := client.get("/metrics").text) and text,
            "the online metrics on /metrics",
            every=0.5,
        )
    test = status["test"]
    assert test["decision"]["significant"] and test["decision"]["winner"] == "challenger"
    low, high = test["decision"]["interval"]
    assert 0 < low < 0.4 < high
    assert test["metric"] == "response" and test["experiment"]["mode"] == "ab"
    assert test["arms"]["challenger"]["version"] == "2" and test["arms"]["champion"]["version"] == "1"
    assert online in metrics
    reports = tmp_path / "reports"
    assert abtest.report_command(tmp_path / "log.db", "response", reports / "abtest.json", reports / "abtest.html") == 0
    written = json.loads((reports / "abtest.json").read_text())
    assert written["decision"]["winner"] == "challenger" and len(written["curve"]) > 10
    page = (reports / "abtest.html").read_text()
    assert (
        "challenger wins" in page
        and "data:image/png;base64," in page
        and (reports / "abtest.png").stat().st_size > 5000
    )


def test_report_says_when_there_is_no_experiment(tmp_path: Path) -> None:
    assert abtest.report_command(tmp_path / "none.db", "label", tmp_path / "a.json", tmp_path / "a.html") == 2
    with client_for(tmp_path) as client:
        client.post("/predict", json={"x": 1})
    assert abtest.report_command(tmp_path / "log.db", "response", tmp_path / "a.json", tmp_path / "a.html") == 2
    assert not (tmp_path / "a.json").exists()


def test_feedback_becomes_training_rows_only_where_it_can(tmp_path: Path) -> None:
    feedback = pd.DataFrame(
        {"input": [{"text": "free prize"}, {"text": "see you"}], "outcome": [{"label": "spam"}, {"label": "ham"}]}
    )
    rows, why = retrain.training_rows(feedback, ["text", "label"])
    assert rows is not None and rows.to_dict("records") == [
        {"text": "free prize", "label": "spam"},
        {"text": "see you", "label": "ham"},
    ]
    assert "label from the feedback" in why
    none, why = retrain.training_rows(feedback, ["id", "text", "label", "rating"])
    assert none is None and "3 of the train split's columns" in why
    responses = pd.DataFrame({"input": [{"recency_days": 3}], "outcome": [{"responded": True}]})
    assert retrain.training_rows(responses, ["recency_days", "segment"])[0] is None
    assert (
        retrain.training_rows(feedback.iloc[:0], ["text", "label"])[1] == "no labelled feedback in the prediction log"
    )


@pytest.mark.parametrize(
    ("code", "said"), [(0, "no drift: nothing to do"), (2, "drift not judged"), (3, "the monitor failed")]
)
def test_retrain_on_drift_does_nothing_without_drift(
    code: int, said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"rollout": {"retrain": {"feedback": True, "start_mode": "canary"}}})
    assert retrain.retrain_on_drift(cfg, tmp_path, lambda: code) == (3 if code == 3 else 0)
    assert said in capsys.readouterr().err
    assert not (tmp_path / "data").exists()


def test_workers_follow_a_switch_and_a_guard_rail_made_by_another_worker(tmp_path: Path) -> None:
    """Two apps on one prediction log stand for two workers of one server."""
    guard = {"max_error_rate": 0.05, "min_requests": 5, "window": 20}
    with client_for(tmp_path) as first:
        spec = make_spec(tmp_path, rollout=RolloutSettings.from_config({"guard": guard}), feedback_kind="response")
        spec.challenger_export = tmp_path / "challenger"
        with TestClient(create_app(spec), raise_server_exceptions=False) as second:
            assert first.post("/admin/rollout", json={"mode": "canary", "share": 1.0}).status_code == 200
            wait_until(lambda: second.get("/rollout").json()["mode"] == "canary", "the second worker to follow")
            assert second.post("/predict", json={"x": 1}).json()["model_version"] == "2"
            export(tmp_path / "challenger", "2", "broken")  # the challenger starts failing ...
            assert (
                second.post("/admin/rollout", json={"mode": "canary", "share": 1.0, "reload": True}).status_code == 200
            )
            for _ in range(6):
                assert second.post("/predict", json={"x": 1}).status_code == 200
            assert "error rate" in second.get("/rollout").json()["guard_rail"]
            followed = wait_until(
                lambda: (now := first.get("/rollout").json())["mode"] == "champion" and now,
                "the first worker to follow the guard rail",
                seen=lambda: first.get("/rollout").text,
            )
    assert followed["mode"] == "champion" and "guard rail: error rate" in followed["guard_rail"]


def test_a_server_started_in_champion_mode_ends_an_experiment_a_killed_server_left_open(tmp_path: Path) -> None:
    with client_for(tmp_path, mode="shadow") as client:
        assert client.get("/rollout").json()["mode"] == "shadow"
    # (a TestClient shuts down cleanly; a killed server leaves the row open just the same)
    with client_for(tmp_path) as client:
        follow_rounds_after(client)  # the worker has read the database since it started ...
        assert client.get("/rollout").json()["mode"] == "champion"  # ... and did not adopt the stale experiment
    conn = sqlite3.connect(tmp_path / "log.db")
    assert (
        conn.execute("SELECT end_reason FROM experiments ORDER BY id DESC").fetchone()[0]
        == "a server started in champion mode"
    )
    conn.close()


def test_thompson_share_follows_the_evidence() -> None:
    rng = np.random.default_rng(4)
    good, bad = (rng.random(300) < 0.9).astype(float), (rng.random(300) < 0.6).astype(float)
    assert abtest.thompson_share(bad, good, True, seed=1) == 0.95  # clipped at 1 - floor
    assert abtest.thompson_share(good, bad, True, seed=1) == 0.05
    same = (rng.random(300) < 0.7).astype(float)
    assert 0.05 < abtest.thompson_share(same, same, True, seed=1) < 0.95
    assert abtest.thompson_share(np.array([]), np.array([]), True) == 0.5  # no evidence: even, exactly
    errors_small, errors_large = rng.normal(5, 1, 200), rng.normal(8, 1, 200)
    assert abtest.thompson_share(errors_large, errors_small, False, seed=1) == 0.95  # lower is better


def test_the_bandit_shifts_traffic_to_the_better_arm(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    with client_for(tmp_path, mode="bandit", bandit_floor=0.1) as client:
        assert client.get("/rollout").json()["challenger_share"] == 0.5
        for _ in range(300):
            answer = client.post("/predict", json={"x": 1}).json()
            rate = 0.9 if answer["model_version"] == "2" else 0.3
            client.post("/feedback", json={"request_id": answer["request_id"], "responded": bool(rng.random() < rate)})
        status = wait_until(  # the share follows the feedback every 2 s
            lambda: (now := client.get("/rollout").json())["challenger_share"] == 0.9 and now,
            "the bandit to move the share to the cap",
            every=0.5,
            seen=lambda: client.get("/rollout").text,
        )
        late = Counter(client.post("/predict", json={"x": 1}).json()["model_version"] for _ in range(200))
    assert status["mode"] == "bandit" and status["challenger_share"] == 0.9
    assert late["2"] > 160
