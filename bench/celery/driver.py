"""Client side of the Celery anchor, driven by the Longshore benchmark harness.

Protocol on stdio: after imports and the broker connection are set up the
script prints "ready" and waits for one line on stdin, so that the harness
can start its clock and CPU sampling only once start-up costs are behind.
It then does its work and prints one JSON line with the outcome.

  driver.py enqueue --n N
      Sends N no-op tasks, one apply_async after the other (with confirms
      when BENCH_CONFIRM_PUBLISH=1, each waits for its confirm).
  driver.py latency --n N --rate R --poll-interval S
      Submits N tasks at R per second, each followed by .get(), and reports
      the submit-to-result latencies in milliseconds (after one untimed
      warm-up round trip).
"""

import argparse
import json
import sys
import time

from bench_app import app, noop


def wait_for_go():
    print("ready", flush=True)
    if not sys.stdin.readline():
        sys.exit("the harness closed stdin before starting the run")


def warm_up():
    # Connect (and with confirms, enable them on the channel) before the
    # clock starts; the first task would otherwise pay for it.
    with app.producer_or_acquire() as producer:
        producer.connection.ensure_connection(max_retries=3)
        producer.channel  # noqa: B018 - opening the channel is the point


def enqueue(n):
    warm_up()
    wait_for_go()
    started = time.perf_counter()
    for _ in range(n):
        noop.apply_async()
    elapsed = time.perf_counter() - started
    print(json.dumps({"sent": n, "elapsed_s": elapsed}), flush=True)


def latency(n, rate, poll_interval):
    warm_up()
    # One untimed round trip: the first .get() connects to the database
    # and lets SQLAlchemy reflect/create the result table.
    noop.delay().get(timeout=60, interval=poll_interval)
    wait_for_go()
    latencies_ms = []
    period = 1.0 / rate
    started = time.perf_counter()
    for i in range(n):
        # A fixed schedule rather than a fixed pause: a slow round trip does
        # not lower the offered rate for the following ones.
        delay = started + i * period - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        sent = time.perf_counter()
        noop.delay().get(timeout=30, interval=poll_interval)
        latencies_ms.append((time.perf_counter() - sent) * 1000.0)
    print(json.dumps({"latencies_ms": latencies_ms}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    p_enqueue = sub.add_parser("enqueue")
    p_enqueue.add_argument("--n", type=int, required=True)
    p_latency = sub.add_parser("latency")
    p_latency.add_argument("--n", type=int, required=True)
    p_latency.add_argument("--rate", type=float, required=True)
    p_latency.add_argument("--poll-interval", type=float, required=True)
    args = parser.parse_args()
    if args.mode == "enqueue":
        enqueue(args.n)
    else:
        latency(args.n, args.rate, args.poll_interval)


if __name__ == "__main__":
    main()
