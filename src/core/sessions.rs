//! What every session is doing, kept from the server's events and snapshots.
//!
//! `busy` and `idle` repeat on the wire, so they are applied as state, never as
//! edges. An error sticks until the session is busy again, so "failed" stays
//! visible after the server's trailing `idle`.

use super::model::{
    EventKind, PartKind, PermissionRequest, QuestionRequest, Role, ServerEvent, SessionError,
    SessionInfo, SessionStatus, Tokens,
};
use std::collections::HashMap;
use std::time::Instant;

/// Idle sessions beyond this many are forgotten, oldest activity first.
const MAX_TRACKED_SESSIONS: usize = 500;
/// How much of the last assistant text is kept per session (for notifications).
const MAX_LAST_TEXT: usize = 2048;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Activity {
    Idle,
    Busy,
    Retry {
        attempt: u32,
        message: String,
        next: u64,
    },
    Error {
        name: String,
        message: String,
    },
}

impl Activity {
    /// Busy or retrying: the agent is still working on it.
    pub fn is_working(&self) -> bool {
        matches!(self, Activity::Busy | Activity::Retry { .. })
    }
}

/// A pending request together with the directory its replies must name.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Pending<T> {
    pub directory: Option<String>,
    #[serde(flatten)]
    pub request: T,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id: String,
    pub directory: Option<String>,
    pub title: Option<String>,
    pub parent_id: Option<String>,
    pub activity: Activity,
    /// When the current busy stretch began.
    pub busy_since: Option<Instant>,
    pub last_activity: Instant,
    pub permissions: Vec<Pending<PermissionRequest>>,
    pub questions: Vec<Pending<QuestionRequest>>,
    pub tokens: Tokens,
    pub cost: f64,
    /// The latest assistant text part (bounded), for "finished" summaries.
    pub last_text: String,
    assistant_message: Option<String>,
    text_part: Option<String>,
}

impl Session {
    fn new(id: &str, now: Instant) -> Self {
        Session {
            id: id.to_string(),
            directory: None,
            title: None,
            parent_id: None,
            activity: Activity::Idle,
            busy_since: None,
            last_activity: now,
            permissions: Vec::new(),
            questions: Vec::new(),
            tokens: Tokens::default(),
            cost: 0.0,
            last_text: String::new(),
            assistant_message: None,
            text_part: None,
        }
    }

    fn set_activity(&mut self, activity: Activity, now: Instant) {
        match (&self.activity, &activity) {
            // The server's trailing idle must not hide the error that ended the turn.
            (Activity::Error { .. }, Activity::Idle) => return,
            (a, b) if a.is_working() && b.is_working() => {}
            (_, b) if b.is_working() => self.busy_since = Some(now),
            _ => self.busy_since = None,
        }
        self.activity = activity;
    }

    fn is_forgettable(&self) -> bool {
        !self.activity.is_working() && self.permissions.is_empty() && self.questions.is_empty()
    }
}

/// A consistent view of one directory, read after every (re)connect.
#[derive(Debug, Clone, PartialEq)]
pub struct DirectorySnapshot {
    pub directory: String,
    pub statuses: Vec<(String, SessionStatus)>,
    pub permissions: Vec<PermissionRequest>,
    pub questions: Vec<QuestionRequest>,
}

#[derive(Debug, Clone, Default)]
pub struct Sessions {
    by_id: HashMap<String, Session>,
}

impl Sessions {
    pub fn get(&self, id: &str) -> Option<&Session> {
        self.by_id.get(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Session> {
        self.by_id.values()
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The root of a session's subagent tree (itself when it has no parent).
    pub fn root_of<'a>(&'a self, id: &'a str) -> &'a str {
        let mut current = id;
        // Bounded walk: a malicious or broken parent chain cannot loop forever.
        for _ in 0..32 {
            match self.by_id.get(current).and_then(|s| s.parent_id.as_deref()) {
                Some(parent) => current = parent,
                None => break,
            }
        }
        current
    }

    /// Every directory a session lives in, for snapshots.
    pub fn directories(&self) -> impl Iterator<Item = &str> {
        self.by_id.values().filter_map(|s| s.directory.as_deref())
    }

    /// The server went away: nothing it was doing is still going on.
    pub fn server_gone(&mut self, now: Instant) {
        for session in self.by_id.values_mut() {
            session.permissions.clear();
            session.questions.clear();
            if session.activity.is_working() {
                session.set_activity(Activity::Idle, now);
            }
        }
    }

    fn entry(&mut self, id: &str, now: Instant) -> &mut Session {
        if !self.by_id.contains_key(id) {
            self.forget_old_if_full();
            self.by_id.insert(id.to_string(), Session::new(id, now));
        }
        let session = self.by_id.get_mut(id).expect("inserted above");
        session.last_activity = now;
        session
    }

    fn forget_old_if_full(&mut self) {
        if self.by_id.len() < MAX_TRACKED_SESSIONS {
            return;
        }
        let oldest = self
            .by_id
            .values()
            .filter(|s| s.is_forgettable())
            .min_by_key(|s| s.last_activity)
            .map(|s| s.id.clone());
        if let Some(id) = oldest {
            self.by_id.remove(&id);
        }
    }

    /// Applies one server event.
    pub fn apply(&mut self, event: &ServerEvent, now: Instant) {
        let directory = event.directory.as_deref();
        match &event.kind {
            EventKind::SessionUpserted(info) => self.upsert(info, directory, now),
            EventKind::SessionDeleted { session_id } => {
                self.by_id.remove(session_id);
            }
            EventKind::SessionStatus { session_id, status } => {
                let s = self.entry(session_id, now);
                adopt_directory(s, directory);
                s.set_activity(activity_of(status), now);
            }
            EventKind::SessionIdle { session_id } => {
                self.entry(session_id, now)
                    .set_activity(Activity::Idle, now);
            }
            EventKind::SessionError {
                session_id: Some(id),
                error,
            } => {
                let s = self.entry(id, now);
                if !error.is_abort() {
                    s.activity = error_activity(error);
                    s.busy_since = None;
                }
            }
            EventKind::SessionError {
                session_id: None, ..
            } => {}
            EventKind::MessageUpdated(m) => {
                let s = self.entry(&m.session_id, now);
                if m.role == Role::Assistant
                    && s.assistant_message.as_deref() != Some(&m.message_id)
                {
                    s.assistant_message = Some(m.message_id.clone());
                    s.text_part = None;
                }
            }
            EventKind::PartUpdated(p) => {
                let s = self.entry(&p.session_id, now);
                let from_assistant = s.assistant_message.as_deref() == Some(&p.message_id);
                if from_assistant && p.kind == PartKind::Text {
                    s.text_part = Some(p.part_id.clone());
                    s.last_text.clear();
                    push_bounded(&mut s.last_text, p.text.as_deref().unwrap_or_default());
                }
            }
            EventKind::PartDelta(d) => {
                let s = self.entry(&d.session_id, now);
                if d.field == "text" && s.text_part.as_deref() == Some(&d.part_id) {
                    push_bounded(&mut s.last_text, &d.delta);
                }
            }
            EventKind::PermissionAsked(request) => {
                let s = self.entry(&request.session_id, now);
                adopt_directory(s, directory);
                let directory = directory
                    .map(str::to_string)
                    .or_else(|| s.directory.clone());
                add_pending(&mut s.permissions, directory, request, |r| &r.id);
            }
            EventKind::PermissionReplied {
                session_id,
                request_id,
                ..
            } => {
                if let Some(s) = self.by_id.get_mut(session_id) {
                    s.permissions.retain(|p| &p.request.id != request_id);
                    s.last_activity = now;
                }
            }
            EventKind::QuestionAsked(request) => {
                let s = self.entry(&request.session_id, now);
                adopt_directory(s, directory);
                let directory = directory
                    .map(str::to_string)
                    .or_else(|| s.directory.clone());
                add_pending(&mut s.questions, directory, request, |r| &r.id);
            }
            EventKind::QuestionClosed {
                session_id,
                request_id,
                ..
            } => {
                if let Some(s) = self.by_id.get_mut(session_id) {
                    s.questions.retain(|q| &q.request.id != request_id);
                    s.last_activity = now;
                }
            }
            EventKind::Connected | EventKind::Heartbeat | EventKind::Other => {}
        }
    }

    fn upsert(&mut self, info: &SessionInfo, directory: Option<&str>, now: Instant) {
        let s = self.entry(&info.id, now);
        if let Some(dir) = info.directory.as_deref().or(directory) {
            s.directory = Some(dir.to_string());
        }
        if info.title.is_some() {
            s.title.clone_from(&info.title);
        }
        if info.parent_id.is_some() {
            s.parent_id.clone_from(&info.parent_id);
        }
        if let Some(tokens) = info.tokens {
            s.tokens = tokens;
        }
        if let Some(cost) = info.cost {
            s.cost = cost;
        }
    }

    /// Replaces what is known about one directory with the server's own view.
    pub fn apply_snapshot(&mut self, snap: &DirectorySnapshot, now: Instant) {
        let statuses: HashMap<&str, &SessionStatus> = snap
            .statuses
            .iter()
            .map(|(id, st)| (id.as_str(), st))
            .collect();
        for s in self.by_id.values_mut() {
            if s.directory.as_deref() == Some(&snap.directory) {
                s.permissions.clear();
                s.questions.clear();
                if !statuses.contains_key(s.id.as_str()) && s.activity.is_working() {
                    s.set_activity(Activity::Idle, now);
                }
            }
        }
        for (id, status) in &snap.statuses {
            let s = self.entry(id, now);
            adopt_directory(s, Some(&snap.directory));
            s.set_activity(activity_of(status), now);
        }
        let directory = Some(snap.directory.clone());
        for request in &snap.permissions {
            let s = self.entry(&request.session_id, now);
            adopt_directory(s, Some(&snap.directory));
            add_pending(&mut s.permissions, directory.clone(), request, |r| &r.id);
        }
        for request in &snap.questions {
            let s = self.entry(&request.session_id, now);
            adopt_directory(s, Some(&snap.directory));
            add_pending(&mut s.questions, directory.clone(), request, |r| &r.id);
        }
    }
}

/// Adds (or replaces, by id) a pending request.
fn add_pending<T: Clone>(
    list: &mut Vec<Pending<T>>,
    directory: Option<String>,
    request: &T,
    id: fn(&T) -> &str,
) {
    list.retain(|p| id(&p.request) != id(request));
    list.push(Pending {
        directory,
        request: request.clone(),
    });
}

fn adopt_directory(session: &mut Session, directory: Option<&str>) {
    if session.directory.is_none() {
        session.directory = directory.map(str::to_string);
    }
}

fn activity_of(status: &SessionStatus) -> Activity {
    match status {
        SessionStatus::Idle => Activity::Idle,
        SessionStatus::Busy => Activity::Busy,
        SessionStatus::Retry {
            attempt,
            message,
            next,
        } => Activity::Retry {
            attempt: *attempt,
            message: message.clone(),
            next: *next,
        },
    }
}

fn error_activity(error: &SessionError) -> Activity {
    Activity::Error {
        name: error.name.clone(),
        message: error.message.clone(),
    }
}

fn push_bounded(buf: &mut String, text: &str) {
    let room = MAX_LAST_TEXT.saturating_sub(buf.len());
    if room == 0 {
        return;
    }
    let mut end = text.len().min(room);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    buf.push_str(&text[..end]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::events::parse_event;
    use std::time::Duration;

    fn apply_all(sessions: &mut Sessions, lines: &[&str], now: Instant) {
        for line in lines {
            sessions.apply(&parse_event(line).unwrap(), now);
        }
    }

    fn status(id: &str, kind: &str) -> String {
        format!(
            r#"{{"directory":"/p","payload":{{"type":"session.status","properties":{{"sessionID":"{id}","status":{{"type":"{kind}"}}}}}}}}"#
        )
    }

    #[test]
    fn busy_and_idle_repeat_as_state() {
        let mut s = Sessions::default();
        let t0 = Instant::now();
        apply_all(&mut s, &[&status("a", "busy")], t0);
        apply_all(&mut s, &[&status("a", "busy")], t0 + Duration::from_secs(5));
        let a = s.get("a").unwrap();
        assert_eq!(a.activity, Activity::Busy);
        assert_eq!(a.busy_since, Some(t0), "a repeated busy keeps the start");
        assert_eq!(a.directory.as_deref(), Some("/p"));
        apply_all(&mut s, &[&status("a", "idle"), &status("a", "idle")], t0);
        assert_eq!(s.get("a").unwrap().activity, Activity::Idle);
        assert_eq!(s.get("a").unwrap().busy_since, None);
    }

    #[test]
    fn error_survives_trailing_idle_but_abort_does_not_count() {
        let mut s = Sessions::default();
        let now = Instant::now();
        apply_all(
            &mut s,
            &[
                &status("a", "busy"),
                r#"{"type":"session.error","properties":{"sessionID":"a","error":{"name":"APIError","data":{"message":"boom"}}}}"#,
                &status("a", "idle"),
            ],
            now,
        );
        assert!(
            matches!(&s.get("a").unwrap().activity, Activity::Error { message, .. } if message == "boom")
        );
        apply_all(&mut s, &[&status("a", "busy")], now);
        assert_eq!(s.get("a").unwrap().activity, Activity::Busy);
        apply_all(
            &mut s,
            &[
                r#"{"type":"session.error","properties":{"sessionID":"a","error":{"name":"MessageAbortedError","data":{"message":"Aborted"}}}}"#,
                &status("a", "idle"),
            ],
            now,
        );
        assert_eq!(s.get("a").unwrap().activity, Activity::Idle);
    }

    #[test]
    fn permissions_and_questions_come_and_go_with_their_directory() {
        let mut s = Sessions::default();
        let now = Instant::now();
        apply_all(
            &mut s,
            &[
                r#"{"directory":"/w","payload":{"type":"permission.asked","properties":{"id":"per_1","sessionID":"a","permission":"bash","patterns":["ls"],"always":["ls *"],"metadata":{"command":"ls"}}}}"#,
                r#"{"directory":"/w","payload":{"type":"question.asked","properties":{"id":"que_1","sessionID":"a","questions":[{"question":"Go?","header":"H","options":[{"label":"Yes"}]}]}}}"#,
            ],
            now,
        );
        let a = s.get("a").unwrap();
        assert_eq!(a.permissions[0].directory.as_deref(), Some("/w"));
        assert_eq!(a.permissions[0].request.detail.as_deref(), Some("ls"));
        assert_eq!(a.questions[0].request.questions[0].options[0].label, "Yes");
        apply_all(
            &mut s,
            &[
                r#"{"directory":"/w","payload":{"type":"permission.replied","properties":{"sessionID":"a","requestID":"per_1","reply":"once"}}}"#,
                r#"{"directory":"/w","payload":{"type":"question.rejected","properties":{"sessionID":"a","requestID":"que_1"}}}"#,
            ],
            now,
        );
        let a = s.get("a").unwrap();
        assert!(a.permissions.is_empty() && a.questions.is_empty());
    }

    #[test]
    fn last_text_follows_the_assistant_text_part_only() {
        let mut s = Sessions::default();
        let now = Instant::now();
        apply_all(
            &mut s,
            &[
                r#"{"type":"message.updated","properties":{"info":{"id":"m1","sessionID":"a","role":"assistant"}}}"#,
                r#"{"type":"message.part.updated","properties":{"part":{"id":"r1","sessionID":"a","messageID":"m1","type":"reasoning","text":""}}}"#,
                r#"{"type":"message.part.delta","properties":{"sessionID":"a","messageID":"m1","partID":"r1","field":"text","delta":"thinking"}}"#,
                r#"{"type":"message.part.updated","properties":{"part":{"id":"t1","sessionID":"a","messageID":"m1","type":"text","text":""}}}"#,
                r#"{"type":"message.part.delta","properties":{"sessionID":"a","messageID":"m1","partID":"t1","field":"text","delta":"hello "}}"#,
                r#"{"type":"message.part.delta","properties":{"sessionID":"a","messageID":"m1","partID":"t1","field":"text","delta":"world"}}"#,
            ],
            now,
        );
        assert_eq!(s.get("a").unwrap().last_text, "hello world");
    }

    #[test]
    fn snapshot_replaces_a_directorys_view() {
        let mut s = Sessions::default();
        let now = Instant::now();
        apply_all(&mut s, &[&status("a", "busy"), &status("b", "busy")], now);
        s.apply_snapshot(
            &DirectorySnapshot {
                directory: "/p".into(),
                statuses: vec![
                    ("b".into(), SessionStatus::Busy),
                    ("c".into(), SessionStatus::Busy),
                ],
                permissions: vec![],
                questions: vec![],
            },
            now,
        );
        assert_eq!(s.get("a").unwrap().activity, Activity::Idle);
        assert_eq!(s.get("b").unwrap().activity, Activity::Busy);
        assert_eq!(s.get("c").unwrap().directory.as_deref(), Some("/p"));
    }

    #[test]
    fn subagents_roll_up_to_their_root_and_cycles_end() {
        let mut s = Sessions::default();
        let now = Instant::now();
        apply_all(
            &mut s,
            &[
                r#"{"type":"session.created","properties":{"info":{"id":"child","parentID":"root"}}}"#,
                r#"{"type":"session.created","properties":{"info":{"id":"grandchild","parentID":"child"}}}"#,
                r#"{"type":"session.created","properties":{"info":{"id":"x","parentID":"y"}}}"#,
                r#"{"type":"session.created","properties":{"info":{"id":"y","parentID":"x"}}}"#,
            ],
            now,
        );
        assert_eq!(s.root_of("grandchild"), "root");
        let _ = s.root_of("x"); // terminates
    }

    #[test]
    fn tracked_sessions_are_bounded() {
        let mut s = Sessions::default();
        let now = Instant::now();
        for i in 0..(MAX_TRACKED_SESSIONS + 50) {
            apply_all(
                &mut s,
                &[&status(&format!("s{i}"), "idle")],
                now + Duration::from_millis(i as u64),
            );
        }
        assert_eq!(s.len(), MAX_TRACKED_SESSIONS);
        assert!(
            s.get("s0").is_none(),
            "the oldest idle session is forgotten"
        );
    }

    #[test]
    fn recorded_session_ends_idle_with_nothing_pending() {
        let sample = include_str!("../../tests/fixtures/opencode-events-sample.jsonl");
        let mut s = Sessions::default();
        let now = Instant::now();
        let mut max_pending = 0;
        for line in sample.lines() {
            s.apply(&parse_event(line).unwrap(), now);
            max_pending = max_pending.max(
                s.iter()
                    .map(|x| x.permissions.len() + x.questions.len())
                    .sum::<usize>(),
            );
        }
        assert_eq!(max_pending, 1, "each request was answered before the next");
        let main = s.get("ses_df5ecdd26ffehvIXFUijAnUe2S").unwrap();
        assert_eq!(main.activity, Activity::Idle, "the last turn ended well");
        assert_eq!(main.tokens.input, 70);
        assert!(
            !s.iter().any(|x| x.id.ends_with("8r3kQA")),
            "deleted sessions are forgotten"
        );
        assert!(s.iter().any(|x| x.id.ends_with("AnUe2S")));
        assert!(s.iter().all(|x| !x.activity.is_working()));
    }
}
