//! How far the long stages are, for a person at a terminal. The library
//! reports its progress here; whoever runs it decides whether anybody sees
//! it: the binary draws a bar when stderr is a terminal and nothing
//! otherwise; tests and other callers of the library see nothing.

use std::sync::OnceLock;

/// Where progress goes.
pub trait Observer: Send + Sync {
    /// A stage starts: `items` files or partitions, `bytes` of input (0
    /// when it does not apply).
    fn start(&self, stage: &str, items: u64, bytes: u64);
    /// One item is done, with its bytes and rows.
    fn advance(&self, bytes: u64, rows: u64);
    /// The stage is over.
    fn finish(&self);
}

static OBSERVER: OnceLock<Box<dyn Observer>> = OnceLock::new();

/// Sets the observer of this process; the first call wins.
pub fn observe(observer: Box<dyn Observer>) {
    let _ = OBSERVER.set(observer);
}

pub fn start(stage: &str, items: u64, bytes: u64) {
    if let Some(o) = OBSERVER.get() {
        o.start(stage, items, bytes);
    }
}

pub fn advance(bytes: u64, rows: u64) {
    if let Some(o) = OBSERVER.get() {
        o.advance(bytes, rows);
    }
}

pub fn finish() {
    if let Some(o) = OBSERVER.get() {
        o.finish();
    }
}
