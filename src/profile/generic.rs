//! The generic profile: plain WebSocket, no application protocol known, so no annotations and no lint.

use super::{Finding, Profile, Reading};
use crate::event::{Frame, Open};

/// Reads nothing: the close analysis still runs on the WebSocket facts alone.
pub struct Generic;

impl Profile for Generic {
    fn name(&self) -> &'static str {
        "generic"
    }
    fn open(&mut self, _open: &Open, _upstream: Option<&str>) -> Vec<Finding> {
        Vec::new()
    }
    fn frame(&mut self, _frame: &Frame) -> Option<Reading> {
        None
    }
}
