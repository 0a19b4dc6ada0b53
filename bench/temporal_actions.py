"""Billable Temporal actions of a workflow chain, counted from its recorded histories."""

from __future__ import annotations

from collections import Counter

from temporalio.client import Client

# History events that Temporal Cloud bills as one action each (heartbeats are billed too but
# leave no event: they are estimated by the caller).
BILLED = {
    "workflow_execution_started_event_attributes": "workflow starts",
    "activity_task_scheduled_event_attributes": "activity starts",
    "start_child_workflow_execution_initiated_event_attributes": "child workflows",
    "timer_started_event_attributes": "timers",
    "signal_external_workflow_execution_initiated_event_attributes": "signals",
    "marker_recorded_event_attributes": "local activities",
    "workflow_execution_signaled_event_attributes": "signals received",
}


async def count_actions(client: Client, workflow_id: str, first_run_id: str) -> Counter[str]:
    """Every run of the chain (continue-as-new) and every child it started, recursively;
    an activity retry (attempt > 1) is one more action."""
    out: Counter[str] = Counter()
    todo = [(workflow_id, first_run_id)]
    while todo:
        wid, rid = todo.pop()
        history = await client.get_workflow_handle(wid, run_id=rid).fetch_history()
        for event in history.events:
            for field, name in BILLED.items():
                # A child's own start is billed once, as the parent's child-workflow start.
                if event.HasField(field) and (wid == workflow_id or  # type: ignore[arg-type]
                                              name != "workflow starts"):
                    out[name] += 1
            if event.HasField("activity_task_started_event_attributes"):
                out["activity retries"] += event.activity_task_started_event_attributes.attempt > 1
            if event.HasField("child_workflow_execution_started_event_attributes"):
                started = event.child_workflow_execution_started_event_attributes
                todo.append((started.workflow_execution.workflow_id,
                             started.workflow_execution.run_id))
            if event.HasField("workflow_execution_continued_as_new_event_attributes"):
                todo.append((wid, event.workflow_execution_continued_as_new_event_attributes
                             .new_execution_run_id))
    return out
