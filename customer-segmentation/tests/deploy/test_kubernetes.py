"""The Kubernetes manifests (deploy/): valid against the Kubernetes schemas, consistent with the
image and the service, and the Deployment started for real with ``podman kube play``."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import kubernetes_validate
import pytest
import yaml
from mlcore.deploy.engine import Engine
from mlcore.deploy.image import Built
from mlcore.foundation.waiting import wait_until
from mlcore.serving.smoke import free_port

from customer_segmentation.schemas import Item

ROOT = Path(__file__).resolve().parents[2]
NAME = "customer-segmentation"
K8S_VERSION = "1.37.0"
EXAMPLE = Item.model_config["json_schema_extra"]["examples"][0]


def documents(name: str) -> dict[str, dict[str, Any]]:
    """The manifests in ``deploy/<name>``, by kind."""
    text = (ROOT / "deploy" / name).read_text(encoding="utf-8")
    return {doc["kind"]: doc for doc in yaml.safe_load_all(text) if doc}


MANIFESTS = documents("kubernetes.yaml")
BATCH = documents("batch.yaml")


def pod_spec() -> dict[str, Any]:
    return MANIFESTS["Deployment"]["spec"]["template"]["spec"]


@pytest.mark.parametrize("kind", sorted(MANIFESTS))
def test_each_manifest_is_valid_against_the_kubernetes_schema(kind: str) -> None:
    kubernetes_validate.validate(MANIFESTS[kind], K8S_VERSION, strict=True)


@pytest.mark.parametrize("kind", sorted(BATCH))
def test_the_batch_manifests_are_valid_against_the_kubernetes_schema(kind: str) -> None:
    kubernetes_validate.validate(BATCH[kind], K8S_VERSION, strict=True)


@pytest.mark.slow
def test_the_nightly_batch_job_scores_the_days_input_in_the_image(engine: Engine, image: Built, tmp_path: Path) -> None:
    """The CronJob's container, as its pod spec says (command, env, user, read-only root), on a
    folder holding today's input: every row scored or rejected, the output in the volume."""
    import datetime as dt

    import pandas as pd

    job = BATCH["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    container = job["containers"][0]
    assert container["volumeMounts"][0]["mountPath"] == "/data" and job["restartPolicy"] == "Never"
    data = tmp_path / "data"
    (data / "in").mkdir(parents=True)
    for folder in (data, data / "in"):
        folder.chmod(0o777)  # the job runs as user 10001
    day = dt.datetime.now(dt.UTC).date().isoformat()
    pd.DataFrame([EXAMPLE] * 20 + [{"not_a_field": 1}]).to_parquet(data / "in" / f"{day}.parquet")
    env = [flag for var in container["env"] for flag in ("-e", f"{var['name']}={var['value']}")]
    done = engine.run(
        "run", "--rm", *engine.run_flags(), "--network=none", "--read-only", "--tmpfs", "/tmp",
        "--user", str(job["securityContext"]["runAsUser"]), "-v", f"{data}:/data", *env,
        "--entrypoint", container["command"][0], image.ref, *container["command"][1:], *container["args"],
        check=False, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "21 rows in = 20 scored + 1 rejected" in done.stdout, done.stdout[-2000:]
    assert len(pd.read_parquet(data / "out" / f"{day}.parquet")) == 20
    assert pd.read_parquet(data / "out" / f"{day}.rejects.parquet")["key"].tolist() == [20]


def test_the_inference_services_predictor_is_a_valid_pod_spec() -> None:
    """KServe's predictor embeds a pod spec: validated as one (KServe's own CRD schema is not here)."""
    isvc = documents("inferenceservice.yaml")["InferenceService"]
    assert isvc["apiVersion"] == "serving.kserve.io/v1beta1"
    predictor = copy.deepcopy(isvc["spec"]["predictor"])
    for key in ("minReplicas", "maxReplicas"):
        predictor.pop(key)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": NAME}, "spec": predictor}
    kubernetes_validate.validate(pod, K8S_VERSION, strict=True)
    container = predictor["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert int(env["PORT"]) == container["ports"][0]["containerPort"] == container["readinessProbe"]["httpGet"]["port"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"


def test_the_deployment_probes_limits_and_runs_as_the_image_is_tested() -> None:
    spec = pod_spec()
    api = spec["containers"][0]
    assert api["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert api["livenessProbe"]["httpGet"]["path"] == "/health"
    assert set(api["resources"]) == {"requests", "limits"}
    assert {"cpu", "memory"} <= set(api["resources"]["requests"]) and {"cpu", "memory"} <= set(
        api["resources"]["limits"]
    )
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] == 10001
    assert api["securityContext"]["readOnlyRootFilesystem"] is True
    assert {m["mountPath"] for m in api["volumeMounts"]} >= {"/app/logs", "/tmp"}
    config = MANIFESTS["ConfigMap"]
    assert api["envFrom"][0]["configMapRef"]["name"] == config["metadata"]["name"]
    assert int(config["data"]["PORT"]) == api["ports"][0]["containerPort"]
    token_dir = next(m["mountPath"] for m in api["volumeMounts"] if m["name"] == "admin-token")
    assert config["data"]["ADMIN_TOKEN_FILE"].startswith(token_dir + "/")


def test_the_service_and_the_autoscaler_point_at_the_deployment() -> None:
    labels = MANIFESTS["Deployment"]["spec"]["template"]["metadata"]["labels"]
    selector = MANIFESTS["Service"]["spec"]["selector"]
    assert selector.items() <= labels.items()
    assert MANIFESTS["Service"]["spec"]["ports"][0]["targetPort"] == "http"
    target = MANIFESTS["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", MANIFESTS["Deployment"]["metadata"]["name"])


@pytest.mark.slow
def test_the_deployment_runs_under_podman_kube_play(engine: Engine, image: Built, tmp_path: Path) -> None:
    """The ConfigMap, a Secret and the Deployment as shipped, with only what a local run must change:
    one replica, the test image, the host's network on a free loopback port."""
    if engine.name != "podman":
        pytest.skip("`podman kube play` runs the manifests without a cluster; docker has no equivalent")
    port, token = free_port(), uuid.uuid4().hex
    config = copy.deepcopy(MANIFESTS["ConfigMap"])
    config["data"]["PORT"] = str(port)
    deployment = copy.deepcopy(MANIFESTS["Deployment"])
    deployment["spec"]["replicas"] = 1
    spec = deployment["spec"]["template"]["spec"]
    spec["hostNetwork"] = True
    api = spec["containers"][0]
    api["image"] = image.ref
    api.pop("ports")  # host network: no port mappings; the probes name the port itself
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        api[probe]["httpGet"]["port"] = port
    secret_name = next(v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": secret_name},
        "data": {"token": base64.b64encode(token.encode()).decode()},
    }
    # podman 4.3 reads a secret volume from a podman secret that holds the Secret's manifest (a
    # Secret document in the played file is not created; `stringData` is ignored; `data` is
    # written to the file still base64-encoded, where Kubernetes decodes it)
    (tmp_path / "secret.yaml").write_text(yaml.safe_dump(secret), encoding="utf-8")
    # a leftover of an interrupted run; the volume kube play fills from the secret (kept by `kube down`)
    engine.run("secret", "rm", secret_name, check=False)
    engine.run("volume", "rm", "--force", secret_name, check=False)
    engine.run("secret", "create", secret_name, str(tmp_path / "secret.yaml"))
    (tmp_path / "secret.yaml").unlink()
    play = tmp_path / "play.yaml"
    play.write_text(yaml.safe_dump_all([config, deployment]), encoding="utf-8")
    started = engine.run("kube", "play", "--replace", str(play), check=False)
    try:
        assert started.returncode == 0, started.stderr
        base = f"http://127.0.0.1:{port}"
        wait_until(
            lambda: httpx.get(f"{base}/ready", timeout=5).status_code == 200,
            "the pod's /ready",
            timeout=180,
            every=0.5,
            retry_on=(httpx.TransportError,),
            seen=lambda: engine.run("pod", "ps", check=False).stdout,
        )
        answer = httpx.post(f"{base}/predict", json=EXAMPLE, timeout=60)
        assert answer.status_code == 200, answer.text
        assert answer.json()["model_version"] == image.labels["io.mlsuite.model.version"]
        names = [n for c in json.loads(engine.run("ps", "--format", "json").stdout) for n in c["Names"]]
        pod_api = next(n for n in names if n.startswith(NAME) and n.endswith("-api"))
        mounted = engine.run("exec", pod_api, "cat", config["data"]["ADMIN_TOKEN_FILE"]).stdout.strip()
        assert mounted in (token, secret["data"]["token"]), "the file the server reads holds the Secret's token"
        headers = {"x-admin-token": mounted}
        admin = httpx.post(f"{base}/admin/rollout", json={"mode": "champion"}, headers=headers, timeout=60)
        assert admin.status_code == 200, f"the token from the Secret: {admin.text}"
    finally:
        engine.run("kube", "down", str(play), check=False)
        engine.run("secret", "rm", secret_name, check=False)
        engine.run("volume", "rm", "--force", secret_name, check=False)
