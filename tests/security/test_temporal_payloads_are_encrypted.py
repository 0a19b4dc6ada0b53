"""Attack: read tenants' secrets from Temporal's history (server database, UI, tctl) — every
payload and failure message must be ciphertext there, readable only with the codec's keys."""

from __future__ import annotations

import base64
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from temporalio import activity, workflow
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from byok.codec import ENCODING, EncryptionCodec, PayloadDecryptError, data_converter
from byok.errors import InvalidSettings
from byok.settings import Settings, load_settings
from web.codec_server import codec_app

MARKER = "tenant-secret-" + secrets.token_hex(8)


@dataclass
class Probe:
    secret: str
    fail: bool = False


@activity.defn(name="probe_echo")
def probe_echo(p: Probe) -> Probe:
    if p.fail:
        raise RuntimeError(f"upstream said no to {p.secret}")
    return Probe(p.secret + "-echoed")


@workflow.defn(name="ProbeWorkflow")
class ProbeWorkflow:
    @workflow.run
    async def run(self, p: Probe) -> Probe:
        return await workflow.execute_activity(
            probe_echo, p, start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(maximum_attempts=1))


def key(kid: str) -> str:
    return f"{kid}:{base64.b64encode(os.urandom(32)).decode()}"


async def run_probe(client: Client, p: Probe) -> tuple[Any, Any]:
    queue = "q-" + secrets.token_hex(4)
    with ThreadPoolExecutor(2) as pool:
        async with Worker(client, task_queue=queue, workflows=[ProbeWorkflow],
                          activities=[probe_echo], activity_executor=pool,
                          # a probe defined beside the test, not product code
                          workflow_runner=UnsandboxedWorkflowRunner()):
            handle = await client.start_workflow(ProbeWorkflow.run, p,
                                                 id="probe-" + secrets.token_hex(4),
                                                 task_queue=queue)
            result: Probe | WorkflowFailureError
            try:
                result = await handle.result()
            except WorkflowFailureError as err:
                result = err
            return result, await handle.fetch_history()


async def test_history_holds_no_plaintext_payload_or_failure(temporal_env: Any) -> None:
    client: Client = temporal_env.client
    result, history = await run_probe(client, Probe(MARKER))
    assert result.secret == MARKER + "-echoed"  # the codec is transparent to the code
    raw = history.to_json()
    assert MARKER not in raw
    assert base64.b64encode(MARKER.encode()).decode()[:16] not in raw
    started = history.events[0].workflow_execution_started_event_attributes
    assert started.input.payloads[0].metadata["encoding"] == ENCODING

    failed, history = await run_probe(client, Probe(MARKER, fail=True))
    assert isinstance(failed, WorkflowFailureError)
    assert MARKER in str(failed.cause.cause)  # type: ignore[attr-defined]  # decoded for the holder of the key
    raw = history.to_json()
    assert MARKER not in raw and "upstream said no" not in raw  # message and stack encoded


async def test_rotation_old_keys_still_open_new_payloads_use_the_first_key() -> None:
    old, new = key("k1"), key("k2")
    sealed = await EncryptionCodec(old).encode([Payload(data=b"x", metadata={"a": b"b"})])
    rotated = EncryptionCodec(f"{new},{old}")
    assert (await rotated.decode(sealed))[0].data == b"x"
    assert (await rotated.encode([Payload(data=b"y")]))[0].metadata["encryption-key-id"] == b"k2"
    with pytest.raises(PayloadDecryptError, match="key id 'k1'"):
        await EncryptionCodec(new).decode(sealed)


async def test_tampered_or_swapped_key_id_is_refused() -> None:
    spec = f"{key('a')},{key('b')}"
    codec = EncryptionCodec(spec)
    sealed = (await codec.encode([Payload(data=b"secret")]))[0]
    flipped = Payload(metadata=dict(sealed.metadata),
                      data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1]))
    with pytest.raises(PayloadDecryptError, match="failed authentication"):
        await codec.decode([flipped])
    swapped = Payload(metadata={**sealed.metadata, "encryption-key-id": b"b"}, data=sealed.data)
    with pytest.raises(PayloadDecryptError):
        await codec.decode([swapped])


@pytest.mark.parametrize("spec, problem", [
    ("nokey", "id:base64key"), ("a:!!!", "not base64"), ("a:" + base64.b64encode(b"x").decode(),
                                                          "32 bytes"),
    (f"{key('a')},{key('a')}", "appears twice")])
def test_bad_key_settings_name_the_variable_and_never_the_key(spec: str, problem: str) -> None:
    with pytest.raises(InvalidSettings) as err:
        load_settings(payload_keys=spec)
    assert "BYOK_PAYLOAD_KEYS" in str(err.value) and problem in str(err.value)
    material = spec.partition(":")[2]
    if len(material) >= 8:
        assert material[:8] not in str(err.value)


async def test_codec_server_decodes_for_the_ui_and_refuses_junk(tmp_path: Any) -> None:
    settings: Settings = load_settings(home=tmp_path)
    sealed = await data_converter(settings.payload_keys).payload_codec.encode(  # type: ignore[union-attr]
        [Payload(metadata={"encoding": b"json/plain"}, data=b'"hello"')])
    from google.protobuf import json_format
    from temporalio.api.common.v1 import Payloads
    body = json_format.MessageToJson(Payloads(payloads=sealed))
    transport = httpx.ASGITransport(app=codec_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://codec") as http:
        resp = await http.post("/decode", content=body,
                               headers={"Origin": settings.temporal_ui_url})
        assert resp.status_code == 200
        assert resp.headers["access-control-allow-origin"] == settings.temporal_ui_url
        out = json_format.ParseDict(resp.json(), Payloads())
        assert out.payloads[0].data == b'"hello"'
        assert (await http.post("/decode", content=b"{not json")).status_code == 400
        other = EncryptionCodec(key("zz"))
        foreign = json_format.MessageToJson(Payloads(payloads=await other.encode(
            [Payload(data=b"x")])))
        resp = await http.post("/decode", content=foreign)
        assert resp.status_code == 422 and "zz" in resp.json()["error"]
