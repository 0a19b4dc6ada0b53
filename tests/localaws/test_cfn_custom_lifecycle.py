"""A custom resource's Delete and an update's rollback as AWS runs them: the stack waits for
each answer (or ServiceTimeout on localaws's clock), a FAILED answer shows in its events."""

from __future__ import annotations

from typing import Any

from localaws import LocalAws

from .conftest import Target
from .test_cfn_custom import _answer, _complete, _put, _reasons, _request, _role_exists, _update


def _by_id(cfn: Any, stack_id: str) -> str:
    # A deleted stack is found by its id only, as on AWS.
    return str(cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"])


def _delete(local: Target) -> tuple[Any, Any, str, str, dict[str, Any]]:
    _topic, sqs, queue, cfn = _complete(local)
    stack_id = cfn.describe_stacks(StackName="custom")["Stacks"][0]["StackId"]
    cfn.delete_stack(StackName="custom")
    event = _request(sqs, queue)
    assert event["RequestType"] == "Delete" and event["PhysicalResourceId"] == "notify-1"
    return cfn, sqs, queue, stack_id, event


def test_deletion_waits_for_the_delete_answer(local: Target) -> None:
    cfn, _sqs, _queue, stack_id, event = _delete(local)
    assert _by_id(cfn, stack_id) == "DELETE_IN_PROGRESS"
    assert _role_exists(local)  # the rest of the stack waits for the custom resource
    cfn.delete_stack(StackName="custom")  # asking again while in progress changes nothing
    assert _by_id(cfn, stack_id) == "DELETE_IN_PROGRESS"
    assert _put(event["ResponseURL"], _answer(event)) == 200
    assert _by_id(cfn, stack_id) == "DELETE_COMPLETE"
    assert not _role_exists(local)
    events = cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
    statuses = {(e["LogicalResourceId"], e["ResourceStatus"]) for e in events}
    assert {("Notify", "DELETE_COMPLETE"), ("custom", "DELETE_COMPLETE")} <= statuses


def test_a_failed_delete_leaves_delete_failed_with_the_reason(local: Target) -> None:
    cfn, sqs, queue, stack_id, event = _delete(local)
    _put(event["ResponseURL"], _answer(event, "FAILED", Reason="still in use"))
    assert _by_id(cfn, stack_id) == "DELETE_FAILED"
    assert any("Notify DELETE_FAILED" in r and "still in use" in r for r in _reasons(cfn))
    assert _role_exists(local)  # nothing else of the stack was deleted
    # Deleting again sends a new Delete request; its SUCCESS completes the deletion.
    cfn.delete_stack(StackName="custom")
    again = _request(sqs, queue)
    assert again["RequestType"] == "Delete" and again["RequestId"] != event["RequestId"]
    assert _by_id(cfn, stack_id) == "DELETE_IN_PROGRESS"
    _put(again["ResponseURL"], _answer(again))
    assert _by_id(cfn, stack_id) == "DELETE_COMPLETE"
    assert not _role_exists(local)


def test_an_unanswered_delete_fails_after_service_timeout(local: Target,
                                                         server: LocalAws) -> None:
    cfn, _sqs, _queue, stack_id, event = _delete(local)
    server.advance_clock(seconds=3500)
    assert _by_id(cfn, stack_id) == "DELETE_IN_PROGRESS"
    server.advance_clock(seconds=200)
    assert _by_id(cfn, stack_id) == "DELETE_FAILED"
    assert any("Notify DELETE_FAILED" in r and "failed to stabilize" in r
               for r in _reasons(cfn))
    _put(event["ResponseURL"], _answer(event))  # too late: CloudFormation stopped listening
    assert _by_id(cfn, stack_id) == "DELETE_FAILED"


def _failed_update(local: Target) -> tuple[Any, Any, str, dict[str, Any]]:
    topic, sqs, queue, cfn = _complete(local)
    _update(cfn, Topic=topic, Marker="two")
    event = _request(sqs, queue)
    _put(event["ResponseURL"], _answer(event, "FAILED", Reason="not allowed"))
    assert any("Notify UPDATE_FAILED" in r and "not allowed" in r for r in _reasons(cfn))
    assert _status_of(cfn) == "UPDATE_ROLLBACK_IN_PROGRESS"
    back = _request(sqs, queue)
    # The rollback is an Update back to the old properties, from the new ones.
    assert back["RequestType"] == "Update" and back["RequestId"] != event["RequestId"]
    assert back["ResourceProperties"]["Marker"] == "one"
    assert back["OldResourceProperties"]["Marker"] == "two"
    return cfn, sqs, queue, back


def _status_of(cfn: Any) -> str:
    return str(cfn.describe_stacks(StackName="custom")["Stacks"][0]["StackStatus"])


def test_a_failed_update_rolls_back_through_an_update_to_the_old_properties(
        local: Target) -> None:
    cfn, _sqs, _queue, back = _failed_update(local)
    _put(back["ResponseURL"], _answer(back, Data={"Answer": "1"}))
    assert _status_of(cfn) == "UPDATE_ROLLBACK_COMPLETE"
    stack = cfn.describe_stacks(StackName="custom")["Stacks"][0]
    assert {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]} == {"Answer": "1"}


def test_a_failed_rollback_update_leaves_update_rollback_failed(local: Target) -> None:
    cfn, _sqs, _queue, back = _failed_update(local)
    _put(back["ResponseURL"], _answer(back, "FAILED", Reason="cannot go back"))
    assert _status_of(cfn) == "UPDATE_ROLLBACK_FAILED"
    assert any("Notify UPDATE_FAILED" in r and "cannot go back" in r for r in _reasons(cfn))


def test_an_unanswered_rollback_update_fails_after_service_timeout(
        local: Target, server: LocalAws) -> None:
    cfn, _sqs, _queue, _back = _failed_update(local)
    server.advance_clock(seconds=3601)
    assert _status_of(cfn) == "UPDATE_ROLLBACK_FAILED"
