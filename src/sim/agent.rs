//! onMessage: checks, the guest's Inbound echo, and the simulated agent's turn (typing, reply, leaving).

use std::time::Instant;

use serde_json::{json, Map, Value};

use super::protocol::{self, Direction, Kind, Request, Structured};
use super::script::Reply;
use super::session::{error, Output, Session};
use crate::profile::CUSTOM_ATTRIBUTES_LIMIT;

impl Session {
    pub(super) fn on_message(&mut self, request: &Request) -> Vec<Output> {
        let tracing = request.tracing_id.as_deref();
        if let Some(rate) = self.rate.as_mut() {
            if let Err(retry_after) = rate.try_acquire(Instant::now()) {
                let refused = protocol::too_many_requests(retry_after, tracing);
                return vec![Output::Send(refused)];
            }
        }
        let Some(message) = request.message() else {
            return error(4020, "missing parameter: message", tracing);
        };
        let Some(msg_type) = message.get("type").and_then(Value::as_str) else {
            return error(4020, "missing parameter: message.type", tracing);
        };
        let attributes = message.get("channel").and_then(|c| c.get("metadata")).and_then(|m| m.get("customAttributes"));
        if attributes.is_some_and(|a| a.to_string().len() > CUSTOM_ATTRIBUTES_LIMIT) {
            let text = format!("Custom Attributes in channel metadata is larger than {CUSTOM_ATTRIBUTES_LIMIT} bytes");
            return error(4013, &text, tracing);
        }
        match msg_type {
            "Text" => self.guest_text(message, "Text", tracing),
            "Structured" => self.guest_text(message, "Structured", tracing),
            "Event" => self.guest_events(message, tracing),
            "Receipt" => Vec::new(),
            other => error(
                400,
                &format!("unknown message.type {other:?}; expected Text, Structured, Event or Receipt"),
                tracing,
            ),
        }
    }

    fn guest_text(
        &mut self,
        message: &Map<String, Value>,
        msg_type: &'static str,
        tracing: Option<&str>,
    ) -> Vec<Output> {
        let text = message.get("text").and_then(Value::as_str).unwrap_or_default();
        let content = message.get("content").cloned();
        if msg_type == "Text" && text.is_empty() && content.is_none() {
            return error(4020, "missing parameter: message.text", tracing);
        }
        if text.chars().count() > self.config.max_text_chars {
            return error(4011, "message too long", tracing);
        }
        let agent_gone = self.conversation(|c| c.agent_gone).unwrap_or(true);
        let reply = if agent_gone || text.is_empty() { None } else { self.config.script.reply_to(text) };
        if let Some(Reply::Error { code, message }) = &reply {
            return error(*code, message, tracing);
        }
        let echo = Structured {
            msg_type,
            text: (!text.is_empty()).then(|| text.to_owned()),
            content,
            metadata: message.get("metadata").and_then(Value::as_object).cloned(),
            ..Structured::default()
        };
        let mut out = vec![send_structured(echo, Direction::Inbound, tracing)];
        if !agent_gone {
            out.extend(self.agent_turn(reply));
        }
        out
    }

    /// The agent answers one guest message, and leaves when the script or the scenario says so.
    fn agent_turn(&mut self, reply: Option<Reply>) -> Vec<Output> {
        let leave_after = self.scenario.agent_disconnect_after;
        let turn = self.conversation(|c| {
            c.guest_messages = c.guest_messages.saturating_add(1);
            let (say, mut leave) = match reply {
                Some(Reply::Text(text)) => (Some(text), false),
                Some(Reply::Disconnect(text)) => (text, true),
                _ => (None, false),
            };
            leave |= leave_after.is_some_and(|n| c.guest_messages >= n);
            let join = (say.is_some() || leave) && !c.agent_joined;
            c.agent_joined |= join;
            c.agent_gone |= leave;
            (join, say, leave)
        });
        let Some((join, say, leave)) = turn else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if join {
            out.push(agent_event(protocol::presence_event("Join"), None));
        }
        if let Some(text) = say {
            out.push(agent_event(protocol::typing_on_event(), None));
            let reply = Structured { originating_entity: Some("Human"), ..Structured::text(text) };
            out.push(send_structured(reply, Direction::Outbound, None));
        }
        if leave {
            let mut metadata = Map::new();
            metadata.insert("readOnly".into(), "true".into());
            out.push(agent_event(protocol::presence_event("Disconnect"), Some(metadata)));
        }
        out
    }

    /// Guest events (Typing, Presence Join, …) are echoed Inbound; Presence Clear ends the conversation.
    fn guest_events(&mut self, message: &Map<String, Value>, tracing: Option<&str>) -> Vec<Output> {
        let Some(events) = message.get("events").and_then(Value::as_array) else {
            return error(4020, "missing parameter: message.events", tracing);
        };
        let clears = events.iter().any(|e| {
            e.get("eventType").and_then(Value::as_str) == Some("Presence")
                && e.pointer("/presence/type").and_then(Value::as_str) == Some("Clear")
        });
        if clears {
            if let Some(token) = self.token.take() {
                self.registry.forget(&token);
            }
            let cleared = protocol::frame(Kind::Message, "SessionClearedEvent", 200, json!({}), None);
            return vec![Output::Send(cleared), Output::Close];
        }
        let echo =
            Structured { msg_type: "Event", events: Some(Value::Array(events.clone())), ..Structured::default() };
        vec![send_structured(echo, Direction::Inbound, tracing)]
    }

    fn conversation<R>(&self, f: impl FnOnce(&mut super::registry::Conversation) -> R) -> Option<R> {
        self.registry.with(self.token.as_deref()?, f)
    }
}

fn send_structured(body: Structured, direction: Direction, tracing: Option<&str>) -> Output {
    let body = body.body(direction);
    Output::Send(protocol::frame(Kind::Message, "StructuredMessage", 200, body, tracing))
}

fn agent_event(event: Value, metadata: Option<Map<String, Value>>) -> Output {
    let body = Structured { metadata, ..Structured::event(event) };
    send_structured(body, Direction::Outbound, None)
}
