"""Named retry policies and timeouts that every activity call picks from."""

from datetime import timedelta

from temporalio.common import RetryPolicy

# Database and audit writes: transient failures only, quickly.
DB = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                 maximum_interval=timedelta(seconds=30), maximum_attempts=20)
# AWS calls: throttling and outages back off further; our permanent errors are non-retryable.
AWS = RetryPolicy(initial_interval=timedelta(seconds=2), backoff_coefficient=2.0,
                  maximum_interval=timedelta(minutes=2), maximum_attempts=12)
# The stack poll is only a fallback look: a few quick tries, then the wait goes on.
POLL = RetryPolicy(initial_interval=timedelta(seconds=2), backoff_coefficient=2.0,
                   maximum_interval=timedelta(seconds=30), maximum_attempts=4)
# Long transfers (backup, restore): few attempts, they resume from heartbeats.
TRANSFER = RetryPolicy(initial_interval=timedelta(seconds=5), backoff_coefficient=2.0,
                       maximum_interval=timedelta(minutes=5), maximum_attempts=6)

SHORT = timedelta(seconds=60)
AWS_TIMEOUT = timedelta(minutes=2)
REPLICA_TIMEOUT = timedelta(minutes=10)
HEARTBEAT = timedelta(seconds=30)
TRANSFER_TIMEOUT = timedelta(hours=12)
# Every attempt of one transfer together (six attempts of 12 h and their backoff); when it
# runs out the transfer fails and the workflow records it. The workflow run itself is bounded
# a little later (its catalog steps are seconds), as a backstop only.
TRANSFER_TOTAL = timedelta(hours=73)
TRANSFER_RUN = TRANSFER_TOTAL + timedelta(hours=1)
