//! Chaff's event bus: the reference topic names (§5.6 of the behaviour reference), the wire
//! envelope and typed payloads of what the orchestration core publishes, wildcard subscription
//! patterns, and an in-process publish/subscribe [`Bus`].
//!
//! * **Publishing never fails an operation.** [`Bus::publish`] returns nothing and never waits
//!   on a subscriber; a slow subscriber loses its oldest events and is told how many
//!   ([`Received::Lagged`]). Delivery is at-most-once, as in the original.
//! * **Inputs, not ambient state.** Event ids and timestamps come from the caller ([`Stamp`]).
//! * **Topics are built, not formatted.** The [`topics`] builders validate caller segments so a
//!   decky name can never add tokens or wildcards to a topic.

mod bus;
mod event;
mod pattern;
pub mod topics;

pub use bus::{Bus, DEFAULT_INBOX_CAPACITY, Received, Subscription, TryRecvError};
pub use event::{
    ENVELOPE_VERSION, Event, KIND_LIFECYCLE, KIND_LIVE_SERVICE, KIND_MUTATION, LifecyclePayload,
    MutationPayload, Progress, ServiceConfigChangedPayload, ServiceSetPayload, Stamp, Trigger,
};
pub use pattern::{Pattern, PatternError};
pub use topics::{SegmentProblem, TopicError};
