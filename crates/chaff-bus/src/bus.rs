//! The in-process publish/subscribe hub.
//!
//! Design: one bounded inbox per subscriber rather than a single `tokio::sync::broadcast`
//! channel. Filtering happens at publish time, so a subscriber's capacity and its lag count
//! concern only the events its pattern matches (with one broadcast channel a quiet subscriber
//! would be lagged by traffic it never asked for, and its "missed" count would be wrong).
//!
//! Invariants:
//! * [`Bus::publish`] never fails and never waits for a subscriber: it takes two short
//!   in-memory locks (the subscriber list, then each matching inbox) and never awaits. A full
//!   inbox drops its *oldest* event and counts it as missed.
//! * Delivery to all subscribers happens under the subscriber-list lock, so every subscriber
//!   sees matching events in one global publication order (and each publisher's own order).
//! * A subscriber learns of every loss: the next item after a loss is
//!   [`Received::Lagged`]`(n)` with the number of events dropped since it last received.
//! * Dropping a [`Subscription`] unregisters it; its slot is pruned at the next publish.
//! * When the last [`Bus`] handle is dropped, subscriptions drain what they hold and then
//!   report the end ([`Subscription::recv`] returns `None`, `try_recv` [`TryRecvError::Closed`]).

use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use thiserror::Error;
use tokio::sync::Notify;
use tracing::trace;

use crate::event::Event;
use crate::pattern::Pattern;

/// Events an inbox holds before it starts dropping its oldest ones.
pub const DEFAULT_INBOX_CAPACITY: NonZeroUsize = NonZeroUsize::new(1024).unwrap();

/// One item taken from a [`Subscription`].
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// The next matching event. Shared: every subscriber sees the same allocation.
    Event(Arc<Event>),
    /// This many matching events were dropped (oldest first) because the inbox was full.
    Lagged(u64),
}

/// Why [`Subscription::try_recv`] returned nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum TryRecvError {
    #[error("no event is waiting")]
    Empty,
    #[error("the bus is gone and every event has been received")]
    Closed,
}

/// In-process bus handle. Cheap to clone; all clones share the same subscribers.
#[derive(Clone)]
pub struct Bus {
    hub: Arc<Hub>,
}

struct Hub {
    /// Weak so a dropped subscription frees its inbox at once; dead slots are pruned on publish.
    subscribers: Mutex<Vec<Weak<Inbox>>>,
    inbox_capacity: NonZeroUsize,
}

struct Inbox {
    pattern: Pattern,
    capacity: NonZeroUsize,
    state: Mutex<InboxState>,
    /// Wakes the (single) task awaiting [`Subscription::recv`].
    wake: Notify,
}

#[derive(Default)]
struct InboxState {
    /// Invariant: `queue.len() <= capacity`.
    queue: VecDeque<Arc<Event>>,
    /// Events dropped since the subscriber last took an item.
    missed: u64,
    /// Set once when the last bus handle goes away; never cleared.
    closed: bool,
}

/// A registration for the events whose topic matches one pattern.
pub struct Subscription {
    inbox: Arc<Inbox>,
}

/// A poisoned lock only means another thread panicked mid-update of plain queue data, which
/// is still structurally valid; the bus keeps going rather than failing a publisher.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Default for Bus {
    fn default() -> Bus {
        Bus::new()
    }
}

impl Bus {
    /// A bus whose subscribers each hold up to [`DEFAULT_INBOX_CAPACITY`] unread events.
    pub fn new() -> Bus {
        Bus::with_inbox_capacity(DEFAULT_INBOX_CAPACITY)
    }

    /// A bus whose subscribers each hold up to `inbox_capacity` unread events.
    pub fn with_inbox_capacity(inbox_capacity: NonZeroUsize) -> Bus {
        Bus { hub: Arc::new(Hub { subscribers: Mutex::new(Vec::new()), inbox_capacity }) }
    }

    /// Registers for every event published from now on whose topic matches `pattern`.
    pub fn subscribe(&self, pattern: Pattern) -> Subscription {
        let inbox = Arc::new(Inbox {
            pattern,
            capacity: self.hub.inbox_capacity,
            state: Mutex::new(InboxState::default()),
            wake: Notify::new(),
        });
        lock(&self.hub.subscribers).push(Arc::downgrade(&inbox));
        trace!(pattern = %inbox.pattern, "bus subscription added");
        Subscription { inbox }
    }

    /// Delivers `event` to every live subscriber whose pattern matches its topic.
    /// Never fails and never waits for a subscriber (see the module invariants).
    pub fn publish(&self, event: Event) {
        let event = Arc::new(event);
        let mut delivered = 0usize;
        let mut subscribers = lock(&self.hub.subscribers);
        subscribers.retain(|slot| match slot.upgrade() {
            None => false,
            Some(inbox) => {
                if inbox.pattern.matches(&event.topic) {
                    inbox.push(Arc::clone(&event));
                    delivered += 1;
                }
                true
            }
        });
        trace!(topic = %event.topic, kind = %event.kind, id = %event.id, delivered, "bus event published");
    }

    /// Live subscriptions (those dropped since the last publish may still be counted).
    pub fn subscriber_count(&self) -> usize {
        lock(&self.hub.subscribers).iter().filter(|slot| slot.strong_count() > 0).count()
    }
}

impl Drop for Hub {
    /// The last bus handle is gone: no more events can arrive, so wake every waiting receiver.
    fn drop(&mut self) {
        let subscribers = self.subscribers.get_mut().unwrap_or_else(PoisonError::into_inner);
        for inbox in subscribers.iter().filter_map(Weak::upgrade) {
            lock(&inbox.state).closed = true;
            inbox.wake.notify_one();
        }
    }
}

impl Inbox {
    /// Appends `event`, dropping the oldest held event when full.
    fn push(&self, event: Arc<Event>) {
        {
            let mut state = lock(&self.state);
            if state.queue.len() == self.capacity.get() {
                state.queue.pop_front();
                state.missed += 1;
            }
            state.queue.push_back(event);
        }
        self.wake.notify_one();
    }

    /// A pending loss report comes before the events that follow the loss.
    fn take(&self) -> Result<Received, TryRecvError> {
        let mut state = lock(&self.state);
        if state.missed > 0 {
            return Ok(Received::Lagged(std::mem::take(&mut state.missed)));
        }
        match state.queue.pop_front() {
            Some(event) => Ok(Received::Event(event)),
            None if state.closed => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }
}

impl Subscription {
    /// The pattern this subscription was made with.
    pub fn pattern(&self) -> &Pattern {
        &self.inbox.pattern
    }

    /// The next item if one is waiting, without waiting.
    pub fn try_recv(&mut self) -> Result<Received, TryRecvError> {
        self.inbox.take()
    }

    /// Waits for the next item; `None` once the bus is gone and everything was received.
    pub async fn recv(&mut self) -> Option<Received> {
        loop {
            match self.inbox.take() {
                Ok(received) => return Some(received),
                Err(TryRecvError::Closed) => return None,
                // `notify_one` stores a permit when nobody waits, so a push between `take` and
                // this await still wakes us.
                Err(TryRecvError::Empty) => self.inbox.wake.notified().await,
            }
        }
    }
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").field("pattern", &self.inbox.pattern.as_str()).finish()
    }
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bus").field("inbox_capacity", &self.hub.inbox_capacity).finish_non_exhaustive()
    }
}
