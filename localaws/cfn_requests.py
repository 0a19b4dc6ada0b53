"""Outstanding custom-resource requests: presigned ResponseURLs, ServiceTimeout on localaws's
clock, and what an answer (cfn_response.py) does to the stack: completion, rollback, deletion."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from moto.cloudformation.models import Event, Stack, cloudformation_backends

from . import clock

RESPONSE_PATH = "/_localaws/cfn-response/"
DEFAULT_SERVICE_TIMEOUT = 3600  # seconds, as AWS
URL_LIFETIME = timedelta(hours=2)  # AWS presigns the ResponseURL for two hours
TIMEOUT_REASON = "Custom Resource failed to stabilize in expected time"

lock = threading.RLock()
_secret = secrets.token_bytes(32)


@dataclass
class Request:
    request_id: str
    request_type: str
    resource: Any  # the SnsCustomResource
    old_properties: dict[str, Any] | None
    deadline: datetime
    url_expires: datetime
    response_url: str
    state: str = "pending"  # answered | failed | timed_out | cancelled
    immediate_failure: str = ""
    responses: int = 0
    rollback: bool = False  # the Update back to the old properties of a failed update


@dataclass
class _State:
    requests: dict[str, Request] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)  # every PUT, for tests
    refused_updates: dict[str, tuple[Any, str]] = field(default_factory=dict)


state = _State()


def sign(request_id: str, expires: int) -> str:
    return hmac.new(_secret, f"{request_id}:{expires}".encode(), hashlib.sha256).hexdigest()


def new_request(resource: Any, request_type: str, base_url: str,
                old: dict[str, Any] | None, rollback: bool = False) -> Request:
    request_id = secrets.token_hex(16)
    timeout = int(resource.properties.get("ServiceTimeout") or DEFAULT_SERVICE_TIMEOUT)
    now = clock.now()
    expires = now + URL_LIFETIME
    epoch = int((expires - datetime(1970, 1, 1)).total_seconds())
    lifetime = int(URL_LIFETIME.total_seconds())
    url = (f"{base_url}{RESPONSE_PATH}{request_id}?X-Amz-Expires={lifetime}"
           f"&Expires={epoch}&X-Amz-Signature={sign(request_id, epoch)}")
    request = Request(request_id, request_type, resource, old, now + timedelta(seconds=timeout),
                      expires, url, rollback=rollback)
    with lock:
        state.requests[request_id] = request
    return request


def stack_of(request: Request) -> Stack | None:
    res = request.resource
    try:
        return cloudformation_backends[res.account_id][res.region_name].get_stack(res.stack_id)
    except Exception:  # noqa: BLE001 - a stack deleted meanwhile has nothing left to settle
        return None


def _event(stack: Stack, resource: Any, status: str, reason: str | None = None) -> None:
    stack.events.append(Event(stack.stack_id, stack.name, resource.logical_id,
                              resource.physical_resource_id, resource.resource_type, status,
                              reason, None))


def complete(request: Request, stack: Stack, body: dict[str, Any]) -> None:
    resource, kind = request.resource, request.request_type
    resource.physical_id = str(body.get("PhysicalResourceId") or resource.physical_id)
    request.state = "answered"
    if kind == "Delete":
        resource.deleted = True
        _event(stack, resource, "DELETE_COMPLETE")
        if stack.status == "DELETE_IN_PROGRESS" and not _pending(stack, "Delete"):
            res = request.resource
            cloudformation_backends[res.account_id][res.region_name].delete_stack(
                stack.stack_id)
    elif request.rollback:
        resource.set_data(body.get("Data") or {})
        _event(stack, resource, "UPDATE_COMPLETE")
        stack.output_map = stack._create_output_map()
        stack.status = "UPDATE_ROLLBACK_COMPLETE"
        stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")
    elif kind == "Create" and stack.status != "UPDATE_IN_PROGRESS":
        resource.set_data(body.get("Data") or {})
        _event(stack, resource, "CREATE_COMPLETE")
        stack.verify_readiness()
    elif kind in ("Create", "Update"):  # an update answered, or a resource an update added
        resource.set_data(body.get("Data") or {})
        _event(stack, resource, f"{kind.upper()}_COMPLETE")
        stack.output_map = stack._create_output_map()
        stack._add_stack_event("UPDATE_COMPLETE")
        stack.status = "UPDATE_COMPLETE"


def _pending(stack: Stack, kind: str) -> list[Request]:
    return [r for r in state.requests.values() if r.state == "pending" and
            r.request_type == kind and r.resource.stack_id == stack.stack_id]


def fail(request: Request, stack: Stack, reason: str, state: str = "failed") -> None:
    resource, kind = request.resource, request.request_type
    request.state = state
    if kind == "Create" and stack.status != "UPDATE_IN_PROGRESS":
        _event(stack, resource, "CREATE_FAILED", reason)
        stack.status = "ROLLBACK_IN_PROGRESS"
        stack._add_stack_event("ROLLBACK_IN_PROGRESS", "The following resource(s) failed to "
                               f"create: [{resource.logical_id}]. Rollback requested by user.")
        try:
            stack.resource_map.delete()  # our resource gets its Delete request, as on AWS
        except Exception as error:  # noqa: BLE001 - shown as AWS shows a failed rollback
            stack.status = "ROLLBACK_FAILED"
            stack._add_stack_event("ROLLBACK_FAILED", str(error))
            return
        # moto's resource map is lazy: reading a deleted resource would create it again.
        stack.resource_map._resource_json_map = {}
        stack.output_map._output_json_map = {}
        stack.status = "ROLLBACK_COMPLETE"
        stack._add_stack_event("ROLLBACK_COMPLETE")
    elif kind == "Delete":
        # Only a stack's deletion waits for it; a rollback's Delete is sent and not awaited.
        if stack.status == "DELETE_IN_PROGRESS":
            _event(stack, resource, "DELETE_FAILED", reason)
            stack.status = "DELETE_FAILED"
            stack._add_stack_event("DELETE_FAILED", "The following resource(s) failed to "
                                   f"delete: [{resource.logical_id}]. ")
    elif request.rollback:
        _event(stack, resource, "UPDATE_FAILED", reason)
        stack.status = "UPDATE_ROLLBACK_FAILED"
        stack._add_stack_event("UPDATE_ROLLBACK_FAILED", "The following resource(s) failed "
                               f"to update: [{resource.logical_id}]. ")
    elif kind == "Update" and request.old_properties is not None:
        _event(stack, resource, "UPDATE_FAILED", reason)
        # As AWS: the resource gets an Update back to its old properties, and the stack
        # stays UPDATE_ROLLBACK_IN_PROGRESS until that is answered.
        stack.status = "UPDATE_ROLLBACK_IN_PROGRESS"
        stack._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", "The following resource(s) "
                               f"failed to update: [{resource.logical_id}]. ")
        new = resource.properties
        resource.properties = request.old_properties
        back = resource.send("Update", new, rollback=True)
        if back.immediate_failure:
            fail(back, stack, back.immediate_failure)
    else:  # a resource the update added
        _event(stack, resource, f"{kind.upper()}_FAILED", reason)
        _roll_back_update(stack, resource, request.old_properties)


def _roll_back_update(stack: Stack, resource: Any, old: dict[str, Any] | None) -> None:
    # Only the custom resource returns to its old properties (see docs/LOCALAWS.md).
    stack._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", "The following resource(s) failed "
                           f"to update: [{resource.logical_id}]. ")
    if old is not None:
        resource.properties = old
    stack.status = "UPDATE_ROLLBACK_COMPLETE"
    stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")


def sweep() -> None:
    """Fail every pending request whose ServiceTimeout has passed on localaws's clock."""
    now = clock.now()
    with lock:
        for request in list(state.requests.values()):
            if request.state == "pending" and now > request.deadline:
                stack = stack_of(request)
                if stack is not None:
                    fail(request, stack, TIMEOUT_REASON, state="timed_out")
                else:
                    request.state = "timed_out"


def settle_immediate(stack: Stack) -> None:
    with lock:
        for request in list(state.requests.values()):
            if request.immediate_failure and request.state == "pending" and \
                    request.resource.stack_id == stack.stack_id:
                fail(request, stack, request.immediate_failure)


def begin_delete(stack: Stack) -> None:
    """A stack's deletion starts: what its custom resources were still asked is moot."""
    with lock:
        for request in state.requests.values():
            if request.state == "pending" and request.resource.stack_id == stack.stack_id:
                request.state = "cancelled"
        stack.status = "DELETE_IN_PROGRESS"
        stack._add_stack_event("DELETE_IN_PROGRESS", "User Initiated")


def fail_now(request: Request, stack: Stack) -> None:
    with lock:
        fail(request, stack, request.immediate_failure)


def refuse_update(resource: Any, reason: str) -> None:
    with lock:
        state.refused_updates[resource.stack_id] = (resource, reason)


def after_update(stack: Stack) -> None:
    """Called after moto applied an update: a refused or pending request decides the status."""
    with lock:
        refused = state.refused_updates.pop(stack.stack_id, None)
        if stack.events and stack.events[-1].resource_status == "UPDATE_COMPLETE":
            pending = [r for r in state.requests.values() if r.state == "pending" and
                       r.request_type != "Delete" and r.resource.stack_id == stack.stack_id]
            if refused or pending:
                stack.events.pop()
                stack.status = "UPDATE_IN_PROGRESS"
        if refused:
            resource, reason = refused
            _event(stack, resource, "UPDATE_FAILED", reason)
            _roll_back_update(stack, resource, None)
    settle_immediate(stack)


def control(method: str, path: str) -> Any:
    """GET cfn/responses: every PUT received; GET cfn/requests: the pending requests."""
    with lock:
        if path == "cfn/responses" and method == "GET":
            return list(state.log)
        if path == "cfn/requests" and method == "GET":
            return [{"request_id": r.request_id, "request_type": r.request_type,
                     "stack_id": r.resource.stack_id, "logical_id": r.resource.logical_id,
                     "response_url": r.response_url, "state": r.state,
                     "properties": r.resource.properties}
                    for r in state.requests.values()]
    raise KeyError(path)


def reset() -> None:
    with lock:
        state.requests.clear()
        state.log.clear()
        state.refused_updates.clear()
