"""Task queue names: control work and data transfers are polled apart, so neither starves."""

TRANSFER_SUFFIX = "-transfer"


def transfer_queue(control_queue: str) -> str:
    """The queue backups and restores move their bytes on, derived from the control queue:
    workflows compute it from their own queue, so it needs no setting of its own."""
    return control_queue + TRANSFER_SUFFIX
