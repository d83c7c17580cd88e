//! The quick-chat popover's process, as the daemon sees it: absent, starting
//! (spawned, not yet connected back), or attached. The popover is its own
//! process (GTK and WebKit never load into the daemon); it is started on the
//! first open, shows later opens at once, and exits by itself after staying
//! hidden a while. A crash is just "gone": the next open starts a fresh one.
//!
//! It also keeps what the popover's link reports: which shows have not
//! painted yet (if the popover dies first, each is opened again, once, so a
//! waiting `open` gets a fresh popover), and which session the user is
//! looking at (the popover's session while its window is on screen).

use std::collections::HashSet;
use std::time::Duration;

/// How long a started popover has to connect back before it is given up on.
pub const POPOVER_START_LIMIT: Duration = Duration::from_secs(20);

/// Identifies one popover process, so late news of an earlier one is ignored.
pub type PopoverGeneration = u64;

/// A screen position (physical pixels), e.g. where the tray icon was clicked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScreenPoint {
    pub x: i32,
    pub y: i32,
}

/// Which of the popover's pages to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PopoverView {
    Chat,
    Settings,
    Setup,
    Logs,
    /// Pairing a phone with the remote gateway, its devices and sign-ins.
    Pair,
}

impl PopoverView {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "chat" => PopoverView::Chat,
            "settings" => PopoverView::Settings,
            "setup" => PopoverView::Setup,
            "logs" => PopoverView::Logs,
            "pair" => PopoverView::Pair,
            _ => return None,
        })
    }
}

/// One request to show the popover.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenRequest {
    /// The session to show (from a notification or `open --session`).
    #[serde(default)]
    pub session: Option<String>,
    /// The page to show; `None` keeps the one last shown.
    #[serde(default)]
    pub view: Option<PopoverView>,
    /// Where to put the window (the tray click); `None` = near a screen corner.
    #[serde(default)]
    pub anchor: Option<ScreenPoint>,
    /// Echoed back once the window has painted (`open` waits for it); 0 = nobody waits.
    pub token: u64,
}

/// What happened to the popover process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PopoverEvent {
    Open(OpenRequest),
    /// A popover process connected to the daemon.
    Attached,
    /// Its connection closed (it exited or crashed).
    Detached,
    /// The spawned process ended (or could not be spawned), with why.
    Exited {
        generation: PopoverGeneration,
        reason: String,
    },
    /// The start limit of this generation ran out.
    StartTimedOut(PopoverGeneration),
    /// A show could not be handed to the popover: its link had just closed.
    Undelivered(OpenRequest),
    /// The attached popover painted the show with this token: it is on screen.
    Painted(u64),
    /// The attached popover hid its window.
    Hidden,
    /// The session open in the popover (on screen or not).
    Focus(Option<String>),
    /// The session the user is looking at, told whole: shown with this
    /// session (`None`: none, or the popover is hidden).
    Viewing(Option<String>),
}

/// What the daemon must do for the popover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PopoverEffect {
    /// Start `opencode-nexus popover`, and report its exit as this generation.
    Spawn(PopoverGeneration),
    /// Tell the attached popover to show itself.
    Show(OpenRequest),
    /// Stop this generation's process (it never connected back).
    Kill(PopoverGeneration),
    /// The open with this token cannot be carried out (0 = nobody is waiting).
    OpenFailed { token: u64, reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Absent,
    Starting {
        generation: PopoverGeneration,
        pending: OpenRequest,
    },
    Attached,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PopoverLifecycle {
    phase: Phase,
    next_generation: PopoverGeneration,
    /// Shows handed to the popover (someone waits: token not 0) that have
    /// not painted yet.
    unpainted: Vec<OpenRequest>,
    /// Tokens of opens already re-issued once after their popover died.
    retried: HashSet<u64>,
    /// Whether the popover's window is on screen.
    shown: bool,
    /// The session open in the popover.
    focus: Option<String>,
}

impl Default for PopoverLifecycle {
    fn default() -> Self {
        PopoverLifecycle {
            phase: Phase::Absent,
            next_generation: 1,
            unpainted: Vec::new(),
            retried: HashSet::new(),
            shown: false,
            focus: None,
        }
    }
}

/// Why a show that never painted is given up on.
const WENT_AWAY: &str = "the popover went away before showing; try again";

impl PopoverLifecycle {
    /// Whether a popover process is connected.
    pub fn is_attached(&self) -> bool {
        self.phase == Phase::Attached
    }

    /// The session the user is looking at: the popover's session while its
    /// window is on screen.
    pub fn viewing(&self) -> Option<&str> {
        self.focus.as_deref().filter(|_| self.shown)
    }

    /// Applies one event; the caller schedules `StartTimedOut` when a spawn is asked for.
    pub fn on(&mut self, event: PopoverEvent) -> Vec<PopoverEffect> {
        let effects = self.step(event);
        for effect in &effects {
            if let PopoverEffect::Show(request) = effect
                && request.token != 0
            {
                self.unpainted.push(request.clone());
            }
        }
        effects
    }

    /// The popover's link closed: what it had not painted is opened again
    /// (once per open) or given up on.
    fn detached(&mut self) -> Vec<PopoverEffect> {
        self.shown = false;
        self.focus = None;
        if self.phase != Phase::Attached {
            return Vec::new();
        }
        self.phase = Phase::Absent;
        let mut fx = Vec::new();
        for request in std::mem::take(&mut self.unpainted) {
            if self.retried.insert(request.token) {
                fx.extend(self.step(PopoverEvent::Open(request)));
            } else {
                fx.push(PopoverEffect::OpenFailed {
                    token: request.token,
                    reason: WENT_AWAY.into(),
                });
            }
        }
        fx
    }

    fn step(&mut self, event: PopoverEvent) -> Vec<PopoverEffect> {
        match (event, &mut self.phase) {
            (PopoverEvent::Open(request), Phase::Attached) => vec![PopoverEffect::Show(request)],
            (PopoverEvent::Open(request), Phase::Starting { pending, .. }) => {
                // The latest open wins; an earlier waiter is told it was superseded
                // only in the sense that the window shows the newer request.
                let earlier = std::mem::replace(pending, request);
                superseded(earlier)
            }
            (PopoverEvent::Open(request), Phase::Absent) => {
                let generation = self.next_generation;
                self.next_generation += 1;
                self.phase = Phase::Starting {
                    generation,
                    pending: request,
                };
                vec![PopoverEffect::Spawn(generation)]
            }
            (PopoverEvent::Attached, phase) => {
                let previous = std::mem::replace(phase, Phase::Attached);
                match previous {
                    Phase::Starting { pending, .. } => vec![PopoverEffect::Show(pending)],
                    Phase::Absent | Phase::Attached => Vec::new(),
                }
            }
            (PopoverEvent::Detached, _) => self.detached(),
            (PopoverEvent::Undelivered(request), _) => {
                // Not on its way after all: it is opened again like any new open.
                self.unpainted.retain(|r| r.token != request.token);
                let mut fx = self.detached();
                fx.extend(self.step(PopoverEvent::Open(request)));
                fx
            }
            (PopoverEvent::Exited { generation, reason }, phase) => match phase {
                Phase::Starting {
                    generation: current,
                    pending,
                } if *current == generation => {
                    let token = pending.token;
                    *phase = Phase::Absent;
                    vec![PopoverEffect::OpenFailed {
                        token,
                        reason: format!("the popover could not start: {reason}"),
                    }]
                }
                // An attached popover's exit is seen as Detached; anything else is late news.
                _ => Vec::new(),
            },
            (PopoverEvent::Painted(token), _) => {
                self.unpainted.retain(|r| r.token != token);
                self.shown = true;
                Vec::new()
            }
            (PopoverEvent::Hidden, _) => {
                self.shown = false;
                Vec::new()
            }
            (PopoverEvent::Focus(session), _) => {
                self.focus = session;
                Vec::new()
            }
            (PopoverEvent::Viewing(session), _) => {
                self.shown = session.is_some();
                self.focus = session;
                Vec::new()
            }
            (PopoverEvent::StartTimedOut(generation), phase) => match phase {
                Phase::Starting {
                    generation: current,
                    pending,
                } if *current == generation => {
                    let token = pending.token;
                    *phase = Phase::Absent;
                    vec![
                        PopoverEffect::Kill(generation),
                        PopoverEffect::OpenFailed {
                            token,
                            reason: format!(
                                "the popover did not start within {}s",
                                POPOVER_START_LIMIT.as_secs()
                            ),
                        },
                    ]
                }
                _ => Vec::new(),
            },
        }
    }
}

/// An open replaced by a newer one before the window showed: its waiter is
/// released (the window will show, just for the newer request).
fn superseded(earlier: OpenRequest) -> Vec<PopoverEffect> {
    if earlier.token == 0 {
        return Vec::new();
    }
    vec![PopoverEffect::OpenFailed {
        token: earlier.token,
        reason: "a newer open request replaced this one".into(),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(token: u64) -> PopoverEvent {
        PopoverEvent::Open(request(token))
    }

    fn request(token: u64) -> OpenRequest {
        OpenRequest {
            token,
            ..OpenRequest::default()
        }
    }

    #[test]
    fn first_open_spawns_then_shows_once_attached() {
        let mut p = PopoverLifecycle::default();
        assert_eq!(p.on(open(1)), vec![PopoverEffect::Spawn(1)]);
        assert!(!p.is_attached());
        assert_eq!(
            p.on(PopoverEvent::Attached),
            vec![PopoverEffect::Show(request(1))]
        );
        assert!(p.is_attached());
        // A warm open shows at once, no spawn.
        assert_eq!(p.on(open(2)), vec![PopoverEffect::Show(request(2))]);
    }

    #[test]
    fn opens_while_starting_collapse_into_the_latest() {
        let mut p = PopoverLifecycle::default();
        p.on(open(1));
        assert_eq!(
            p.on(open(2)),
            vec![PopoverEffect::OpenFailed {
                token: 1,
                reason: "a newer open request replaced this one".into()
            }]
        );
        assert_eq!(
            p.on(open(0)),
            vec![PopoverEffect::OpenFailed {
                token: 2,
                reason: "a newer open request replaced this one".into()
            }]
        );
        assert_eq!(
            p.on(PopoverEvent::Attached),
            vec![PopoverEffect::Show(request(0))]
        );
    }

    #[test]
    fn a_crash_means_the_next_open_starts_a_fresh_process() {
        let mut p = PopoverLifecycle::default();
        p.on(open(0));
        p.on(PopoverEvent::Attached);
        assert!(p.on(PopoverEvent::Detached).is_empty());
        assert_eq!(p.on(open(0)), vec![PopoverEffect::Spawn(2)]);
        // The first process's exit arriving late changes nothing.
        assert!(
            p.on(PopoverEvent::Exited {
                generation: 1,
                reason: "killed by signal 11".into()
            })
            .is_empty()
        );
        assert_eq!(
            p.on(PopoverEvent::Attached),
            vec![PopoverEffect::Show(request(0))]
        );
    }

    #[test]
    fn a_popover_that_cannot_start_fails_the_open_and_allows_a_retry() {
        let mut p = PopoverLifecycle::default();
        p.on(open(7));
        assert_eq!(
            p.on(PopoverEvent::Exited {
                generation: 1,
                reason: "exited with code 1".into()
            }),
            vec![PopoverEffect::OpenFailed {
                token: 7,
                reason: "the popover could not start: exited with code 1".into()
            }]
        );
        assert_eq!(p.on(open(8)), vec![PopoverEffect::Spawn(2)]);
    }

    #[test]
    fn a_popover_that_never_connects_is_killed_after_the_limit() {
        let mut p = PopoverLifecycle::default();
        p.on(open(3));
        let fx = p.on(PopoverEvent::StartTimedOut(1));
        assert_eq!(fx[0], PopoverEffect::Kill(1));
        assert!(matches!(fx[1], PopoverEffect::OpenFailed { token: 3, .. }));
        // A stale timer of an earlier generation is ignored.
        p.on(open(4));
        p.on(PopoverEvent::Attached);
        assert!(p.on(PopoverEvent::StartTimedOut(1)).is_empty());
        assert!(p.is_attached());
    }

    fn went_away(token: u64) -> PopoverEffect {
        PopoverEffect::OpenFailed {
            token,
            reason: "the popover went away before showing; try again".into(),
        }
    }

    #[test]
    fn a_show_the_popover_died_before_painting_is_opened_again_once() {
        let mut p = PopoverLifecycle::default();
        p.on(open(5));
        p.on(PopoverEvent::Attached);
        // It dies before painting: a fresh popover gets the open.
        assert_eq!(p.on(PopoverEvent::Detached), vec![PopoverEffect::Spawn(2)]);
        assert_eq!(
            p.on(PopoverEvent::Attached),
            vec![PopoverEffect::Show(request(5))]
        );
        // The second one dies too: this time the open fails.
        assert_eq!(p.on(PopoverEvent::Detached), vec![went_away(5)]);
        assert_eq!(p.on(open(6)), vec![PopoverEffect::Spawn(3)]);
    }

    #[test]
    fn a_painted_show_is_not_opened_again_and_nobody_waits_on_token_0() {
        let mut p = PopoverLifecycle::default();
        p.on(open(0));
        p.on(PopoverEvent::Attached);
        p.on(open(9));
        p.on(PopoverEvent::Painted(9));
        // Token 0 (nobody waits) and the painted show leave nothing behind.
        assert!(p.on(PopoverEvent::Detached).is_empty());
        assert!(!p.is_attached());
    }

    #[test]
    fn a_show_whose_link_just_closed_goes_to_a_fresh_popover() {
        let mut p = PopoverLifecycle::default();
        p.on(open(1));
        p.on(PopoverEvent::Attached);
        p.on(PopoverEvent::Painted(1));
        p.on(open(0));
        p.on(open(2));
        // Its handing over failed: a fresh process is started for it, and
        // token 0 (nobody waits) is simply dropped.
        assert_eq!(
            p.on(PopoverEvent::Undelivered(request(2))),
            vec![PopoverEffect::Spawn(2)]
        );
        // The old link's own close, arriving later, changes nothing.
        assert!(p.on(PopoverEvent::Detached).is_empty());
        assert_eq!(
            p.on(PopoverEvent::Attached),
            vec![PopoverEffect::Show(request(2))]
        );
    }

    #[test]
    fn the_session_looked_at_is_the_popovers_while_it_is_on_screen() {
        let mut p = PopoverLifecycle::default();
        p.on(open(1));
        p.on(PopoverEvent::Attached);
        p.on(PopoverEvent::Focus(Some("a".into())));
        assert_eq!(p.viewing(), None, "not painted yet");
        p.on(PopoverEvent::Painted(1));
        assert_eq!(p.viewing(), Some("a"));
        p.on(PopoverEvent::Focus(Some("b".into())));
        assert_eq!(p.viewing(), Some("b"));
        p.on(PopoverEvent::Hidden);
        assert_eq!(p.viewing(), None);
        p.on(open(2));
        p.on(PopoverEvent::Painted(2));
        assert_eq!(p.viewing(), Some("b"));
        // Gone: nothing is looked at, and a fresh popover starts without a session.
        p.on(PopoverEvent::Detached);
        assert_eq!(p.viewing(), None);
        p.on(open(3));
        p.on(PopoverEvent::Attached);
        p.on(PopoverEvent::Painted(3));
        assert_eq!(p.viewing(), None);
    }
}
