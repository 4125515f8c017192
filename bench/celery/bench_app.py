"""Celery application measured by the Longshore benchmark harness.

Configured entirely from environment variables set by the harness, so that
each case runs against its own throw-away queue:

- BENCH_BROKER_URL       AMQP URL of the shared RabbitMQ
- BENCH_QUEUE            queue (and same-named direct exchange) of this case
- BENCH_RESULT_BACKEND   optional result backend URL (db+postgresql://...)
- BENCH_CONFIRM_PUBLISH  "1" to publish with RabbitMQ publisher confirms
- BENCH_DONE_FILE        file the worker appends one byte to per finished task

Everything else stays at Celery's defaults apart from acks_late, which gives
the same at-least-once guarantee as Longshore's manual acks.
"""

import os

from celery import Celery, signals

QUEUE = os.environ["BENCH_QUEUE"]
BACKEND = os.environ.get("BENCH_RESULT_BACKEND") or None
DONE_FILE = os.environ.get("BENCH_DONE_FILE")

app = Celery("longshore_bench", broker=os.environ["BENCH_BROKER_URL"], backend=BACKEND)
app.conf.update(
    task_acks_late=True,
    task_default_queue=QUEUE,
    # Remote control would declare pidbox queues on the shared broker and
    # adds nothing to task throughput.
    worker_enable_remote_control=False,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)
if os.environ.get("BENCH_CONFIRM_PUBLISH") == "1":
    app.conf.broker_transport_options = {"confirm_publish": True}


@app.task(name="bench.noop")
def noop():
    """The task under test does nothing: only the framework's cost remains."""
    return None


_done_fd = None


@signals.task_postrun.connect
def _count_finished_task(**_kwargs):
    # task_postrun fires in the pool process after the result (if any) is
    # stored, so a byte here means "executed and recorded". O_APPEND keeps
    # concurrent writes from both pool processes from overwriting each other.
    global _done_fd
    if DONE_FILE is None:
        return
    if _done_fd is None:
        _done_fd = os.open(DONE_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(_done_fd, b".")


@signals.worker_ready.connect
def _announce_ready(**_kwargs):
    if DONE_FILE is not None:
        with open(DONE_FILE + ".ready", "w", encoding="ascii") as marker:
            marker.write("ready\n")
