//! Locks that a panicked holder does not poison for the others: the data behind
//! them stays consistent between statements, so the next holder goes on.

use std::sync::{Mutex, MutexGuard, PoisonError};

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
