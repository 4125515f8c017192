//! Both transports keep the same promises: a published message is delivered, a delayed
//! one arrives after its delay, a dead letter carries its reason, an unsettled delivery
//! comes back. RabbitMQ runs with a name prefix of the test's own.

use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use longshore_shared::broker::amqp::AmqpTransport;
use longshore_shared::broker::local::LocalTransport;
use longshore_shared::broker::topology::REASON_HEADER;
use longshore_shared::broker::{Deliveries, Delivery, Outgoing, Source, Topology, Transport};
use longshore_shared::command::Family;
use longshore_shared::testing::{TestDb, amqp_url, unique_prefix};

async fn next(deliveries: &mut Deliveries) -> Delivery {
    tokio::time::timeout(Duration::from_secs(15), deliveries.next())
        .await
        .expect("a delivery arrives in time")
        .expect("the stream is open")
        .expect("the delivery is readable")
}

/// Fails with `what` when another delivery arrives within `wait`.
async fn assert_nothing_more(deliveries: &mut Deliveries, wait: Duration, what: &str) {
    let more = tokio::time::timeout(wait, deliveries.next()).await;
    assert!(more.is_err(), "{what}");
}

async fn amqp(quorum: bool) -> (AmqpTransport, Transport) {
    amqp_with(|t| t.quorum = quorum).await
}

async fn amqp_with(adjust: impl FnOnce(&mut Topology)) -> (AmqpTransport, Transport) {
    let mut topology = Topology::new(unique_prefix("broker"));
    adjust(&mut topology);
    let amqp = AmqpTransport::new(&amqp_url(), topology, "broker-test");
    amqp.connect().await.expect("RabbitMQ is reachable");
    (amqp.clone(), Transport::Amqp(amqp))
}

/// Publishes `m0` … `m{n-1}` as one round of `diag.noop` commands, all confirmed.
async fn publish_round(transport: &Transport, n: usize) {
    let msgs: Vec<Outgoing> = (0..n)
        .map(|i| Outgoing::new("diag.noop", format!("m{i}").into_bytes()))
        .collect();
    let results = transport.publish_many(&msgs).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
}

/// The shared contract, run against any transport.
async fn contract(transport: &Transport) {
    let sources = [Source::Family(Family::Diagnostics)];
    let mut deliveries = transport.consume(&sources, 4).await.unwrap();

    transport
        .publish(&Outgoing::new("diag.noop", b"hello".to_vec()))
        .await
        .unwrap();
    let d = next(&mut deliveries).await;
    assert_eq!(d.body, b"hello");
    assert_eq!(d.routing_key, "diag.noop");
    assert!(!d.redelivered);
    d.ack().await.unwrap();

    let started = Instant::now();
    transport
        .publish_delayed(
            &Outgoing::new("diag.noop", b"later".to_vec()),
            Duration::from_millis(1_000),
        )
        .await
        .unwrap();
    let d = next(&mut deliveries).await;
    assert_eq!(d.body, b"later");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "arrived after {:?}",
        started.elapsed()
    );
    // One copy only: the delay tiers must not each route it.
    assert_nothing_more(
        &mut deliveries,
        Duration::from_millis(1_500),
        "a delayed message arrived twice",
    )
    .await;
    // Given back, it comes again, marked as redelivered.
    d.requeue().await.unwrap();
    let d = next(&mut deliveries).await;
    assert_eq!(d.body, b"later");
    assert!(d.redelivered);
    d.ack().await.unwrap();
}

#[tokio::test]
async fn rabbitmq_delivers_delays_and_redelivers() {
    let (amqp, transport) = amqp(false).await;
    contract(&transport).await;
    amqp.delete_topology().await.unwrap();
}

#[tokio::test]
async fn quorum_queues_keep_the_same_promises() {
    let (amqp, transport) = amqp(true).await;
    contract(&transport).await;
    amqp.delete_topology().await.unwrap();
}

#[tokio::test]
async fn the_local_transport_keeps_the_same_promises() {
    let db = TestDb::sqlite();
    let store = db.store().await;
    let transport = Transport::Local(LocalTransport::new(store, Topology::new("local")));
    contract(&transport).await;
    db.drop_db().await;
}

#[tokio::test]
async fn unknown_kinds_reach_the_unrouted_queue_and_dead_letters_keep_their_reason() {
    let (amqp, transport) = amqp(false).await;
    // Declaring again is harmless: every process declares at start.
    let again = AmqpTransport::new(&amqp_url(), amqp.topology().clone(), "broker-test-2");
    again.connect().await.unwrap();

    let mut unrouted = transport.consume(&[Source::Unrouted], 2).await.unwrap();
    transport
        .publish(&Outgoing::new("bogus.kind", b"{}".to_vec()))
        .await
        .unwrap();
    let d = next(&mut unrouted).await;
    assert_eq!(d.routing_key, "bogus.kind");
    transport
        .dead_letter(&d.to_outgoing(), "unknown kind `bogus.kind`")
        .await
        .unwrap();
    d.ack().await.unwrap();

    // Read the dead-letter queue with a plain AMQP client, as an operator would.
    let conn = lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let message = loop {
        if let Some(m) = channel
            .basic_get(
                amqp.topology().dead_queue().as_str().into(),
                lapin::options::BasicGetOptions { no_ack: true },
            )
            .await
            .unwrap()
        {
            break m;
        }
        assert!(Instant::now() < deadline, "no dead letter arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let headers = message
        .delivery
        .properties
        .headers()
        .clone()
        .unwrap_or_default();
    let reason = match headers.inner().get(REASON_HEADER) {
        Some(lapin::types::AMQPValue::LongString(s)) => {
            String::from_utf8_lossy(s.as_bytes()).into_owned()
        }
        other => format!("{other:?}"),
    };
    assert!(reason.contains("unknown kind"), "reason header: {reason}");
    drop(channel);
    let _ = conn.close(0, "done".into()).await;
    amqp.delete_topology().await.unwrap();
}

/// A round of publishes, all in flight together, is confirmed message by message and
/// arrives whole: each message once, in the order of the round.
#[tokio::test]
async fn a_publish_round_arrives_whole_and_in_order() {
    let (amqp, transport) = amqp(false).await;
    let sources = [Source::Family(Family::Diagnostics)];
    let mut deliveries = transport.consume(&sources, 1000).await.unwrap();
    let n = 600;
    let sent: Vec<String> = (0..n).map(|i| format!("m{i}")).collect();
    let msgs: Vec<Outgoing> = sent
        .iter()
        .map(|body| Outgoing::new("diag.noop", body.clone().into_bytes()))
        .collect();
    let results = transport.publish_many(&msgs).await;
    assert_eq!(results.len(), n);
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    let mut got = Vec::new();
    for _ in 0..n {
        let d = next(&mut deliveries).await;
        got.push(String::from_utf8(d.body.clone()).unwrap());
        d.ack().await.unwrap();
    }
    assert_eq!(got, sent);
    assert_nothing_more(
        &mut deliveries,
        Duration::from_millis(500),
        "a message arrived twice",
    )
    .await;
    amqp.delete_topology().await.unwrap();
}

/// Acks given in bursts and out of order settle exactly the acked deliveries: what was
/// held or given back comes again once the consumer goes, nothing acked does. Every
/// command travels alone here (a bundle is settled as a whole, see below).
#[tokio::test]
async fn bursts_of_acks_settle_only_what_was_acked() {
    let (amqp, transport) = amqp_with(|t| t.bundle_max = 1).await;
    let sources = [Source::Family(Family::Diagnostics)];
    let mut deliveries = transport.consume(&sources, 40).await.unwrap();
    let n = 40;
    publish_round(&transport, n).await;

    let mut got = Vec::new();
    for _ in 0..n {
        got.push(next(&mut deliveries).await);
    }
    let name = |d: &Delivery| String::from_utf8(d.body.clone()).unwrap();
    let (mut held, mut acked, mut requeued) = (Vec::new(), Vec::new(), Vec::new());
    for d in got {
        match name(&d).as_str() {
            "m0" | "m7" | "m23" => held.push(d),
            "m3" | "m30" => requeued.push(d),
            _ => acked.push(d),
        }
    }
    // Latest first, all at once: the settling task sees them together.
    acked.reverse();
    let acked_names: Vec<String> = acked.iter().map(name).collect();
    let requeued_names: Vec<String> = requeued.iter().map(name).collect();
    let settles = acked
        .into_iter()
        .map(|d| d.ack().boxed())
        .chain(requeued.into_iter().map(|d| d.requeue().boxed()));
    for result in futures::future::join_all(settles).await {
        result.unwrap();
    }
    // The given-back ones come again on this consumer; hold them too.
    for _ in 0..requeued_names.len() {
        let d = next(&mut deliveries).await;
        assert!(requeued_names.contains(&name(&d)), "{} came back", name(&d));
        held.push(d);
    }
    let mut expected: Vec<String> = held.iter().map(name).collect();
    expected.sort();
    drop(held);
    drop(deliveries);

    // A fresh consumer gets exactly the unsettled ones back.
    let mut again = transport.consume(&sources, 40).await.unwrap();
    let mut back = Vec::new();
    for _ in 0..expected.len() {
        let d = next(&mut again).await;
        back.push(name(&d));
        d.ack().await.unwrap();
    }
    back.sort();
    assert_eq!(back, expected);
    assert_nothing_more(
        &mut again,
        Duration::from_secs(1),
        "an acked message came back",
    )
    .await;
    assert!(!acked_names.iter().any(|a| back.contains(a)));
    amqp.delete_topology().await.unwrap();
}

/// Commands go straight to their family's queue and keep their kind on the way, through
/// retries too; a message from another producer is read by its routing key whatever its
/// `type` says; a publish no queue takes is an error, and the next one declares the
/// queue again.
#[tokio::test]
async fn commands_keep_their_kind_and_a_missing_queue_is_an_error() {
    let (amqp, transport) = amqp(false).await;
    let topology = amqp.topology().clone();
    let sources = [Source::Family(Family::Diagnostics)];
    let mut deliveries = transport.consume(&sources, 4).await.unwrap();

    transport
        .publish(&Outgoing::new("diag.noop", b"first".to_vec()))
        .await
        .unwrap();
    let d = next(&mut deliveries).await;
    assert_eq!(d.routing_key, "diag.noop");
    transport
        .publish_delayed(&d.to_outgoing(), Duration::from_millis(50))
        .await
        .unwrap();
    d.ack().await.unwrap();
    let d = next(&mut deliveries).await;
    assert_eq!(
        (d.routing_key.as_str(), d.body.as_slice()),
        ("diag.noop", &b"first"[..])
    );
    d.ack().await.unwrap();

    let conn = lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    channel
        .basic_publish(
            topology.commands_exchange().as_str().into(),
            "diag.sleep".into(),
            lapin::options::BasicPublishOptions::default(),
            b"external",
            lapin::BasicProperties::default().with_type("tenant.delete".into()),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    let d = next(&mut deliveries).await;
    assert_eq!(
        (d.routing_key.as_str(), d.body.as_slice()),
        ("diag.sleep", &b"external"[..])
    );
    d.ack().await.unwrap();
    drop(deliveries);

    channel
        .queue_delete(
            topology.queue(sources[0]).as_str().into(),
            lapin::options::QueueDeleteOptions::default(),
        )
        .await
        .unwrap();
    let lost = transport
        .publish(&Outgoing::new("diag.noop", b"nowhere".to_vec()))
        .await;
    assert!(
        matches!(lost, Err(longshore_shared::broker::BrokerError::Unroutable)),
        "{lost:?}"
    );
    transport
        .publish(&Outgoing::new("diag.noop", b"again".to_vec()))
        .await
        .unwrap();
    let mut deliveries = transport.consume(&sources, 4).await.unwrap();
    let d = next(&mut deliveries).await;
    assert_eq!(d.body, b"again");
    d.ack().await.unwrap();
    let _ = conn.close(0, "done".into()).await;
    amqp.delete_topology().await.unwrap();
}

/// Redeclares `queue` over a connection of its own with `x-queue-version` = `version`
/// beside `args`: RabbitMQ refuses a declaration whose arguments differ from the queue's.
async fn redeclare_with_version(queue: &str, args: &[(&str, &str)], version: i32) -> bool {
    use lapin::options::QueueDeclareOptions;
    use lapin::types::{AMQPValue, FieldTable, LongString};
    let conn = lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    let mut table = FieldTable::default();
    for (k, v) in args {
        table.insert((*k).into(), AMQPValue::LongString(LongString::from(*v)));
    }
    table.insert("x-queue-version".into(), AMQPValue::LongInt(version));
    let options = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    let declared = channel
        .queue_declare(queue.into(), options, table)
        .await
        .is_ok();
    let _ = conn.close(0, "done".into()).await;
    declared
}

/// Whether the diagnostics queue of `t` takes a redeclaration with `version`.
async fn family_queue_takes_version(t: &Topology, version: i32) -> bool {
    let dead_letters = t.dead_exchange();
    let args = [("x-dead-letter-exchange", dead_letters.as_str())];
    let family = t.queue(Source::Family(Family::Diagnostics));
    redeclare_with_version(&family, &args, version).await
}

#[tokio::test]
async fn classic_queues_are_declared_with_the_configured_version() {
    let (amqp, _) = amqp(false).await;
    let t = amqp.topology().clone();
    assert!(family_queue_takes_version(&t, 2).await);
    assert!(!family_queue_takes_version(&t, 1).await);
    assert!(redeclare_with_version(&t.dead_queue(), &[], 2).await);
    amqp.delete_topology().await.unwrap();

    // Version 0 declares none, so queues declared before the setting existed still match.
    let mut topology = Topology::new(unique_prefix("broker"));
    topology.classic_queue_version = 0;
    let amqp = AmqpTransport::new(&amqp_url(), topology, "broker-test");
    amqp.connect().await.expect("RabbitMQ is reachable");
    assert!(!family_queue_takes_version(amqp.topology(), 2).await);
    amqp.delete_topology().await.unwrap();
}

/// Messages waiting in the diagnostics queue of `t`, read with a plain AMQP client.
async fn waiting_messages(t: &Topology) -> u32 {
    let conn = lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    let queue = channel
        .queue_declare(
            t.queue(Source::Family(Family::Diagnostics)).as_str().into(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            Default::default(),
        )
        .await
        .unwrap();
    let _ = conn.close(0, "done".into()).await;
    queue.message_count()
}

/// Commands of one kind published together travel as few messages (at most
/// `bundle_max` commands each) and are handed over one by one, each once, in order, with
/// its kind; a command with headers of its own travels alone.
#[tokio::test]
async fn commands_published_together_share_messages_and_arrive_one_by_one() {
    let (amqp, transport) = amqp_with(|t| t.bundle_max = 32).await;
    let mut msgs: Vec<Outgoing> = (0..70)
        .map(|i| Outgoing::new("diag.noop", format!("noop{i}").into_bytes()))
        .collect();
    for i in 0..3 {
        msgs.insert(
            i * 20,
            Outgoing::new("diag.sleep", format!("sleep{i}").into_bytes()),
        );
    }
    msgs.push(Outgoing::new("diag.noop", b"alone".to_vec()).with_header("trace", "t1"));
    let results = transport.publish_many(&msgs).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    // 70 noops in bundles of 32, 32 and 6, the sleeps in one, the one with a header.
    assert_eq!(waiting_messages(amqp.topology()).await, 5);

    let sources = [Source::Family(Family::Diagnostics)];
    let mut deliveries = transport.consume(&sources, 2).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..msgs.len() {
        let d = next(&mut deliveries).await;
        got.push(d.to_outgoing());
        d.ack().await.unwrap();
    }
    // Each kind in the order sent, each command with its kind and headers.
    let of = |all: &[Outgoing], kind: &str, headers: bool| -> Vec<Outgoing> {
        all.iter()
            .filter(|m| m.routing_key == kind && m.headers.is_empty() != headers)
            .cloned()
            .collect()
    };
    assert_eq!(of(&got, "diag.noop", false), of(&msgs, "diag.noop", false));
    assert_eq!(
        of(&got, "diag.sleep", false),
        of(&msgs, "diag.sleep", false)
    );
    assert_eq!(of(&got, "diag.noop", true), of(&msgs, "diag.noop", true));
    assert_nothing_more(
        &mut deliveries,
        Duration::from_millis(500),
        "a command came twice",
    )
    .await;
    drop(deliveries);
    assert_eq!(
        waiting_messages(amqp.topology()).await,
        0,
        "every bundle was acked"
    );
    amqp.delete_topology().await.unwrap();
}

/// A bundle is settled once all its commands are: one given back (or dropped unsettled)
/// brings all of them back, marked redelivered; all acked, none comes back.
#[tokio::test]
async fn a_bundle_comes_back_whole_when_one_of_its_commands_is_given_back() {
    let (amqp, transport) = amqp_with(|t| t.bundle_max = 32).await;
    publish_round(&transport, 5).await;
    let sources = [Source::Family(Family::Diagnostics)];
    let mut deliveries = transport.consume(&sources, 4).await.unwrap();
    let name = |d: &Delivery| String::from_utf8(d.body.clone()).unwrap();

    // Round 1: m2 is given back, the others acked (before and after it).
    for _ in 0..5 {
        let d = next(&mut deliveries).await;
        assert!(!d.redelivered);
        if name(&d) == "m2" {
            d.requeue().await.unwrap();
        } else {
            d.ack().await.unwrap();
        }
    }
    // Round 2: all of them again; m4 is dropped unsettled.
    let mut again = Vec::new();
    for _ in 0..5 {
        let d = next(&mut deliveries).await;
        assert!(d.redelivered, "{} is a redelivery", name(&d));
        again.push(name(&d));
        if name(&d) == "m4" {
            drop(d);
        } else {
            d.ack().await.unwrap();
        }
    }
    assert_eq!(again, ["m0", "m1", "m2", "m3", "m4"]);
    // Round 3: all of them once more; all acked, and that settles it.
    for _ in 0..5 {
        next(&mut deliveries).await.ack().await.unwrap();
    }
    assert_nothing_more(
        &mut deliveries,
        Duration::from_millis(500),
        "an acked bundle came back",
    )
    .await;
    drop(deliveries);
    assert_eq!(waiting_messages(amqp.topology()).await, 0);
    amqp.delete_topology().await.unwrap();
}

/// A message from another producer that says it is a bundle but is not one is handed
/// over as it is (the worker dead-letters what it cannot read).
#[tokio::test]
async fn a_malformed_bundle_is_handed_over_whole() {
    let (amqp, transport) = amqp(false).await;
    let topology = amqp.topology().clone();
    let mut deliveries = transport
        .consume(&[Source::Family(Family::Diagnostics)], 4)
        .await
        .unwrap();
    let conn = lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    let props = lapin::BasicProperties::default()
        .with_content_type(longshore_shared::broker::bundle::CONTENT_TYPE.into());
    channel
        .basic_publish(
            topology.commands_exchange().as_str().into(),
            "diag.noop".into(),
            lapin::options::BasicPublishOptions::default(),
            b"\x00\x00\x00\x09short",
            props,
        )
        .await
        .unwrap()
        .await
        .unwrap();
    let d = next(&mut deliveries).await;
    assert_eq!(d.body, b"\x00\x00\x00\x09short");
    assert_eq!(d.routing_key, "diag.noop");
    d.ack().await.unwrap();
    let _ = conn.close(0, "done".into()).await;
    amqp.delete_topology().await.unwrap();
}
