//! The sink thread: takes records from the queue in batches, runs the analysis of records not analysed at
//! their source, redacts, serialises each record once, and writes it to the capture, the terminal log and
//! the UI; at the end, writes the `end` record.

use super::queue::{Message, Queue, IDLE_POLLS_BEFORE_SLEEP, POLL_INTERVAL};
use super::{Analysis, PipelineOptions, Summary};
use crate::event::{End, Record};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub(super) struct SinkThread {
    options: PipelineOptions,
    /// The analysis of records that were not analysed at their source.
    analysis: Option<Box<dyn Analysis>>,
    dropped: Arc<AtomicU64>,
    /// Frames analysed at their source and not handed over (nothing reads them): counted in the `end` record.
    unsent: Arc<AtomicU64>,
    json: Vec<u8>,
    /// True when the UI reads every record's JSON. Otherwise a record is serialised only when the capture
    /// writes it as a JSON line or a JSON log prints it.
    publishers_read_json: bool,
    records: u64,
    connections: u64,
    frames: u64,
    /// Where the records the analysis derives go.
    order: super::DerivedOrder,
    /// The records of one `process` call, in order (reused).
    placed: Vec<Record>,
}

impl SinkThread {
    pub(super) fn new(options: PipelineOptions, dropped: Arc<AtomicU64>, unsent: Arc<AtomicU64>) -> Self {
        SinkThread {
            publishers_read_json: !options.publishers.is_empty(),
            analysis: options.analysis.as_ref().map(|factory| factory()),
            options,
            dropped,
            unsent,
            json: Vec::with_capacity(4096),
            records: 0,
            connections: 0,
            frames: 0,
            order: super::DerivedOrder::default(),
            placed: Vec::new(),
        }
    }

    pub(super) fn run(mut self, queue: &Queue) -> Summary {
        let meta = Record::from(self.options.meta.clone());
        self.process(meta);
        let mut batch = Vec::with_capacity(1024);
        let mut idle_polls = 0;
        loop {
            queue.take(&mut batch);
            if batch.is_empty() {
                idle_polls += 1;
                if idle_polls < IDLE_POLLS_BEFORE_SLEEP {
                    std::thread::park_timeout(POLL_INTERVAL);
                } else if queue.prepare_sleep() {
                    std::thread::park();
                }
                continue;
            }
            idle_polls = 0;
            let held = Queue::held(&batch);
            let mut finishing = false;
            for message in batch.drain(..) {
                match message {
                    Message::Record(record) => self.process(record),
                    Message::Analysed(record) => self.write(record),
                    Message::Finish => finishing = true,
                }
            }
            self.flush();
            queue.release(held);
            if finishing {
                break;
            }
        }
        // Records a source emitted while the finish marker was being handled still belong in the capture.
        queue.take(&mut batch);
        for message in batch.drain(..) {
            match message {
                Message::Record(record) => self.process(record),
                Message::Analysed(record) => self.write(record),
                Message::Finish => {}
            }
        }
        self.finish()
    }

    fn process(&mut self, record: Record) {
        // The analysis sees records unredacted; the records it derives follow the record (`DerivedOrder`).
        let derived = super::observe_guarded(&mut self.analysis, &record, None);
        let mut placed = std::mem::take(&mut self.placed);
        self.order.place(record, derived, &mut placed);
        for record in placed.drain(..) {
            self.write(record);
        }
        self.placed = placed;
    }

    fn write(&mut self, record: Record) {
        match self.options.redaction.as_mut() {
            Some(redaction) => {
                for redacted in redaction.feed(record) {
                    self.write_redacted(&redacted);
                }
            }
            None => self.write_redacted(&record),
        }
    }

    /// Writes a record that is already redacted (or needs no redaction) to every sink.
    fn write_redacted(&mut self, record: &Record) {
        match record {
            Record::Open(_) => self.connections += 1,
            Record::Frame(_) => self.frames += 1,
            _ => {}
        }
        self.records += 1;
        let mut capture_wants_json = false;
        if let Some(capture) = self.options.capture.as_mut() {
            match record {
                Record::Frame(frame) if capture.writes_compact(record) => {
                    capture.write_frame(frame);
                }
                _ => capture_wants_json = true,
            }
        }
        let log_wants_json = self.options.log.as_ref().is_some_and(|log| log.wants_json_of(record));
        if !capture_wants_json && !log_wants_json && !self.publishers_read_json {
            if let Some(log) = self.options.log.as_mut() {
                log.record(record, "");
            }
            return;
        }
        self.json.clear();
        if let Err(e) = crate::event::write_record_json(record, &mut self.json) {
            tracing::error!("could not serialise a {} record: {e}", record.kind());
            self.json.clear();
            self.json.extend_from_slice(b"{}");
        }
        if let (true, Some(capture)) = (capture_wants_json, self.options.capture.as_mut()) {
            capture.write_json_line(record, &self.json);
        }
        // The JSON writers only write UTF-8; it is checked only where a string is wanted (not for the capture).
        let json = if log_wants_json || self.publishers_read_json {
            String::from_utf8_lossy(&self.json)
        } else {
            std::borrow::Cow::Borrowed("")
        };
        let json = json.as_ref();
        if let Some(log) = self.options.log.as_mut() {
            log.record(record, json);
        }
        for publisher in &self.options.publishers {
            publisher.publish(record, json);
        }
    }

    fn flush(&mut self) {
        if let Some(capture) = self.options.capture.as_mut() {
            capture.flush();
        }
        if let Some(log) = self.options.log.as_mut() {
            log.flush();
        }
    }

    fn finish(mut self) -> Summary {
        let mut waiting = Vec::new();
        self.order.flush(&mut waiting);
        for record in waiting {
            self.write(record);
        }
        let held = self.options.redaction.as_mut().map(|redaction| redaction.finish()).unwrap_or_default();
        for record in held {
            self.write_redacted(&record);
        }
        let dropped = self.dropped.load(Ordering::Relaxed);
        let unsent = self.unsent.load(Ordering::Relaxed);
        self.frames += unsent;
        self.records += unsent;
        let mut errors = Vec::new();
        if dropped > 0 {
            errors.push(format!(
                "{dropped} records were dropped because the capture lagged behind (--on-capture-lag drop)"
            ));
        }
        let capture = self.options.capture.take();
        let capture_path = capture.as_ref().map(|c| c.path().to_owned());
        let end = match capture {
            Some(capture) => capture.finish(dropped, errors),
            None => End {
                ts: crate::event::Ts::now(),
                connections: self.connections,
                frames: self.frames,
                records: self.records,
                complete: dropped == 0,
                dropped,
                errors,
            },
        };
        let record = Record::End(end.clone());
        let json = serde_json::to_string(&record).unwrap_or_default();
        let json = json.as_str();
        if let Some(log) = self.options.log.as_mut() {
            log.record(&record, json);
            log.flush();
        }
        for publisher in &self.options.publishers {
            publisher.publish(&record, json);
        }
        Summary { end, capture_path }
    }
}
