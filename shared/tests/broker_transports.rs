//! Both transports keep the same promises: a published message is delivered, a delayed
//! one arrives after its delay, a dead letter carries its reason, an unsettled delivery
//! comes back. RabbitMQ runs with a name prefix of the test's own.

use std::time::{Duration, Instant};

use futures::StreamExt;
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

async fn amqp(quorum: bool) -> (AmqpTransport, Transport) {
    let mut topology = Topology::new(unique_prefix("broker"));
    topology.quorum = quorum;
    let amqp = AmqpTransport::new(&amqp_url(), topology, "broker-test");
    amqp.connect().await.expect("RabbitMQ is reachable");
    (amqp.clone(), Transport::Amqp(amqp))
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
    assert!(
        tokio::time::timeout(Duration::from_millis(1_500), deliveries.next())
            .await
            .is_err(),
        "a delayed message arrived twice"
    );
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
