//! Behaviour of the in-process bus: routing by pattern, ordering, lag reporting, pruning,
//! closing and concurrent publishers. No test depends on wall-clock time.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::thread;

use chaff_bus::{Bus, Event, Pattern, Received, Stamp, Subscription, TryRecvError, topics};
use serde_json::json;
use uuid::Uuid;

/// An event whose id and timestamp are derived from `seq`, so tests can check exact order.
fn event(topic: &str, seq: u64) -> Event {
    let stamp = Stamp { id: Uuid::from_u128(u128::from(seq)), ts: seq as f64 };
    Event::new(topic.to_owned(), "test", json!({ "seq": seq }), stamp)
}

fn seq_of(received: &Received) -> u64 {
    match received {
        Received::Event(event) => event.payload["seq"].as_u64().unwrap(),
        Received::Lagged(n) => panic!("unexpected lag report of {n}"),
    }
}

fn subscribe(bus: &Bus, pattern: &str) -> Subscription {
    bus.subscribe(Pattern::new(pattern).unwrap())
}

/// Every item waiting right now.
fn drain(subscription: &mut Subscription) -> Vec<Received> {
    std::iter::from_fn(|| subscription.try_recv().ok()).collect()
}

fn capacity(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).unwrap()
}

#[test]
fn publish_with_no_subscribers_succeeds() {
    let bus = Bus::new();
    bus.publish(event("decky.web-1.lifecycle", 1));
    assert_eq!(bus.subscriber_count(), 0);
}

#[test]
fn subscribers_get_exactly_their_events_in_order() {
    let bus = Bus::new();
    let mut lifecycles = subscribe(&bus, "decky.*.lifecycle");
    let mut web_1 = subscribe(&bus, "decky.web-1.>");
    let topics = [
        (topics::decky_lifecycle("web-1").unwrap(), 1),
        (topics::decky_mutation("web-1").unwrap(), 2),
        (topics::decky_lifecycle("db-1").unwrap(), 3),
        (topics::system("health").unwrap(), 4),
        (topics::decky("web-1", topics::DECKY_SERVICE_ADDED).unwrap(), 5),
        (topics::decky_lifecycle("web-1").unwrap(), 6),
    ];
    for (topic, seq) in &topics {
        bus.publish(event(topic, *seq));
    }
    let lifecycle_seqs: Vec<u64> = drain(&mut lifecycles).iter().map(seq_of).collect();
    let web_1_seqs: Vec<u64> = drain(&mut web_1).iter().map(seq_of).collect();
    assert_eq!(lifecycle_seqs, [1, 3, 6]);
    assert_eq!(web_1_seqs, [1, 2, 5, 6]);
    assert_eq!(lifecycles.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn subscribers_share_one_event_allocation() {
    let bus = Bus::new();
    let mut first = subscribe(&bus, ">");
    let mut second = subscribe(&bus, "decky.>");
    bus.publish(event("decky.web-1.lifecycle", 1));
    match (first.try_recv(), second.try_recv()) {
        (Ok(Received::Event(a)), Ok(Received::Event(b))) => assert!(Arc::ptr_eq(&a, &b)),
        other => panic!("expected one event each, got {other:?}"),
    }
}

#[test]
fn lagging_subscriber_loses_oldest_and_learns_how_many() {
    let bus = Bus::with_inbox_capacity(capacity(4));
    let mut slow = subscribe(&bus, "decky.>");
    let mut unrelated = subscribe(&bus, "system.>");
    // Far more than the capacity: publish must keep returning while nobody reads.
    for seq in 0..10_000 {
        bus.publish(event("decky.web-1.lifecycle", seq));
    }
    assert_eq!(slow.try_recv(), Ok(Received::Lagged(9_996)));
    let kept: Vec<u64> = drain(&mut slow).iter().map(seq_of).collect();
    assert_eq!(kept, [9_996, 9_997, 9_998, 9_999]);
    // Traffic the pattern never matched does not count as lag.
    assert_eq!(unrelated.try_recv(), Err(TryRecvError::Empty));

    // The count restarts after it has been reported.
    for seq in 0..6 {
        bus.publish(event("decky.web-1.lifecycle", seq));
    }
    assert_eq!(slow.try_recv(), Ok(Received::Lagged(2)));
    assert_eq!(drain(&mut slow).iter().map(seq_of).collect::<Vec<_>>(), [2, 3, 4, 5]);
}

#[test]
fn dropped_subscriber_is_pruned() {
    let bus = Bus::new();
    let kept = subscribe(&bus, ">");
    let dropped = subscribe(&bus, ">");
    assert_eq!(bus.subscriber_count(), 2);
    drop(dropped);
    bus.publish(event("decky.web-1.lifecycle", 1));
    assert_eq!(bus.subscriber_count(), 1);
    drop(kept);
    bus.publish(event("decky.web-1.lifecycle", 2));
    assert_eq!(bus.subscriber_count(), 0);
}

#[test]
fn concurrent_publishers_are_all_delivered_in_per_publisher_order() {
    const PUBLISHERS: u64 = 4;
    const PER_PUBLISHER: u64 = 2_000;
    let bus = Bus::with_inbox_capacity(capacity((PUBLISHERS * PER_PUBLISHER) as usize));
    let mut all = subscribe(&bus, "decky.*.lifecycle");
    let handles: Vec<_> = (0..PUBLISHERS)
        .map(|publisher| {
            let bus = bus.clone();
            thread::spawn(move || {
                let topic = topics::decky_lifecycle(&format!("decky-{publisher}")).unwrap();
                for n in 0..PER_PUBLISHER {
                    bus.publish(event(&topic, publisher * PER_PUBLISHER + n));
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    let seqs: Vec<u64> = drain(&mut all).iter().map(seq_of).collect();
    assert_eq!(seqs.len() as u64, PUBLISHERS * PER_PUBLISHER);
    for publisher in 0..PUBLISHERS {
        let own: Vec<u64> = seqs.iter().copied().filter(|s| s / PER_PUBLISHER == publisher).collect();
        let expected: Vec<u64> = (publisher * PER_PUBLISHER..(publisher + 1) * PER_PUBLISHER).collect();
        assert_eq!(own, expected, "publisher {publisher}");
    }
}

#[test]
fn bus_is_clone_send_sync() {
    fn assert_traits<T: Clone + Send + Sync + 'static>() {}
    fn assert_send<T: Send + 'static>() {}
    assert_traits::<Bus>();
    assert_send::<Subscription>();
}

#[tokio::test]
async fn recv_waits_for_the_next_publish() {
    let bus = Bus::new();
    let mut subscription = subscribe(&bus, "decky.*.mutation");
    let waiter = tokio::spawn(async move { subscription.recv().await.map(|r| seq_of(&r)) });
    // Let the waiter park on an empty inbox before anything is published.
    tokio::task::yield_now().await;
    bus.publish(event("decky.web-1.lifecycle", 1));
    bus.publish(event("decky.web-1.mutation", 2));
    assert_eq!(waiter.await.unwrap(), Some(2));
}

#[tokio::test]
async fn recv_reports_lag_then_events() {
    let bus = Bus::with_inbox_capacity(capacity(2));
    let mut subscription = subscribe(&bus, ">");
    for seq in 0..5 {
        bus.publish(event("system.health", seq));
    }
    assert_eq!(subscription.recv().await, Some(Received::Lagged(3)));
    assert_eq!(subscription.recv().await.map(|r| seq_of(&r)), Some(3));
    assert_eq!(subscription.recv().await.map(|r| seq_of(&r)), Some(4));
}

#[tokio::test]
async fn dropping_the_last_bus_drains_then_ends_subscriptions() {
    let bus = Bus::new();
    let mut subscription = subscribe(&bus, ">");
    let waiting = subscribe(&bus, ">");
    let waiter = tokio::spawn(async move {
        let mut waiting = waiting;
        waiting.recv().await.map(|r| seq_of(&r))
    });
    bus.publish(event("system.health", 1));
    assert_eq!(waiter.await.unwrap(), Some(1));

    let clone = bus.clone();
    drop(bus);
    clone.publish(event("system.health", 2));
    drop(clone);
    assert_eq!(subscription.recv().await.map(|r| seq_of(&r)), Some(1));
    assert_eq!(subscription.recv().await.map(|r| seq_of(&r)), Some(2));
    assert_eq!(subscription.recv().await, None);
    assert_eq!(subscription.try_recv(), Err(TryRecvError::Closed));
}
