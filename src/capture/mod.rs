//! Capture files: JSON Lines of [`crate::event::Record`]s, written by the pipeline and read by `inspect`, `replay` and the UI.

mod reader;
mod writer;

pub use reader::{parse_capture, read_capture, CaptureFile, ReadProblem};
pub use writer::CaptureWriter;
