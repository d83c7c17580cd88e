//! Reducer tests under virtual time: a `Sim` feeds events at chosen instants
//! and fires the timers the core asked for, like the daemon would.

use super::virtual_time::{VirtualClock, came_up};
use super::*;
use crate::server::events::parse_event;

struct Sim {
    state: State,
    clock: VirtualClock,
    effects: Vec<Effect>,
}

impl Sim {
    fn managed() -> Self {
        Self::new(ServerMode::Managed, None)
    }

    fn new(mode: ServerMode, url: Option<&str>) -> Self {
        let now = Instant::now();
        Sim {
            state: State::new(mode, url.map(str::to_string), Duration::from_secs(30), now),
            clock: VirtualClock::new(now),
            effects: Vec::new(),
        }
    }

    fn send(&mut self, event: Event) -> Vec<Effect> {
        let fx = reduce(&mut self.state, event, self.clock.now);
        self.clock.note(&fx);
        self.effects.extend(fx.iter().cloned());
        fx
    }

    /// Moves virtual time forward, firing due timers in order.
    fn advance(&mut self, by: Duration) {
        let until = self.clock.now + by;
        while let Some(timer) = self.clock.next_due(until) {
            self.send(Event::Timer(timer));
        }
        self.clock.now = until;
    }

    fn last_spawn(&self) -> LaunchId {
        self.effects
            .iter()
            .rev()
            .find_map(|e| match e {
                Effect::Spawn { launch } => Some(*launch),
                _ => None,
            })
            .expect("a spawn")
    }

    fn last_watch(&self) -> WatchId {
        super::virtual_time::last_watch(&self.effects).expect("a watch")
    }

    /// Start → spawned → ready → connected.
    fn bring_up(&mut self, pid: u32) -> LaunchId {
        let launch = self.last_spawn();
        // `Ready` starts the next watch.
        for event in came_up(launch, pid, self.state.next_watch) {
            self.send(event);
        }
        launch
    }

    fn crash(&mut self, launch: LaunchId) {
        self.send(Event::Exited {
            launch,
            exit: ExitReport {
                description: "was killed by signal 9".into(),
                permanent: None,
            },
        });
    }

    fn spawn_times(&self) -> usize {
        self.effects
            .iter()
            .filter(|e| matches!(e, Effect::Spawn { .. }))
            .count()
    }
}

#[test]
fn start_reaches_running_only_after_ready() {
    let mut sim = Sim::managed();
    assert_eq!(sim.state.server_state(), ServerState::Stopped);
    let fx = sim.send(Event::StartRequested);
    assert!(matches!(fx[0], Effect::Spawn { launch: 1 }));
    assert_eq!(sim.state.server_state(), ServerState::Starting);
    sim.send(Event::Spawned { launch: 1, pid: 42 });
    assert_eq!(
        sim.state.server_state(),
        ServerState::Starting,
        "spawned is not ready"
    );
    assert_eq!(sim.state.server_pid(), Some(42));
    sim.bring_up(42);
    assert_eq!(sim.state.server_state(), ServerState::Running);
    assert_eq!(sim.state.url.as_deref(), Some("http://127.0.0.1:42"));
    assert_eq!(sim.state.version.as_deref(), Some("1.18.33"));
}

#[test]
fn restarts_crashed_server_with_backoff() {
    let mut sim = Sim::managed();
    sim.send(Event::StartRequested);
    let mut launch = sim.bring_up(10);
    let mut waits = Vec::new();
    for pid in 11..15 {
        let crashed_at = sim.clock.now;
        sim.crash(launch);
        assert_eq!(sim.state.server_state(), ServerState::Restarting);
        assert!(
            sim.state
                .last_error
                .as_deref()
                .unwrap()
                .contains("signal 9")
        );
        let spawns = sim.spawn_times();
        // Find how long until the next spawn.
        while sim.spawn_times() == spawns {
            sim.advance(Duration::from_millis(250));
        }
        waits.push((sim.clock.now - crashed_at).as_millis().div_ceil(250) * 250);
        launch = sim.bring_up(pid);
    }
    assert_eq!(waits, [1000, 2000, 4000, 8000]);
    assert_eq!(sim.state.restarts, 4);
}

#[test]
fn crash_loop_breaker_stops_after_five_failures_in_five_minutes() {
    let mut sim = Sim::managed();
    sim.send(Event::StartRequested);
    for pid in 1..=5 {
        let launch = sim.last_spawn();
        sim.send(Event::Spawned { launch, pid });
        sim.crash(launch);
        sim.advance(Duration::from_secs(61));
    }
    assert_eq!(sim.state.server_state(), ServerState::Failed);
    assert!(
        sim.state
            .last_error
            .as_deref()
            .unwrap()
            .contains("gave up after 5 failed starts")
    );
    let spawns = sim.spawn_times();
    sim.advance(Duration::from_secs(3600));
    assert_eq!(
        sim.spawn_times(),
        spawns,
        "no more tries until the user starts it"
    );
    sim.send(Event::StartRequested);
    assert_eq!(sim.spawn_times(), spawns + 1);
    assert_eq!(sim.state.server_state(), ServerState::Starting);
}

#[test]
fn sixty_healthy_seconds_reset_the_backoff() {
    let mut sim = Sim::managed();
    sim.send(Event::StartRequested);
    let launch = sim.bring_up(1);
    sim.crash(launch);
    sim.advance(Duration::from_secs(1));
    let launch = sim.bring_up(2);
    sim.crash(launch); // next wait would be 2 s
    sim.advance(Duration::from_secs(2));
    let launch = sim.bring_up(3);
    sim.advance(Duration::from_secs(61)); // healthy long enough
    let spawns = sim.spawn_times();
    sim.crash(launch);
    sim.advance(Duration::from_millis(1000));
    assert_eq!(sim.spawn_times(), spawns + 1, "back to a 1 s wait");
}

#[test]
fn start_timeout_stops_the_process_and_counts_a_failure() {
    let mut sim = Sim::managed();
    sim.send(Event::StartRequested);
    sim.send(Event::Spawned { launch: 1, pid: 7 });
    sim.advance(Duration::from_secs(30));
    assert!(sim.effects.contains(&Effect::Signal {
        launch: 1,
        pid: 7,
        signal: StopSignal::Terminate
    }));
    assert!(
        sim.state
            .last_error
            .as_deref()
            .unwrap()
            .contains("within 30 s")
    );
    sim.advance(STOP_GRACE);
    assert!(sim.effects.contains(&Effect::Signal {
        launch: 1,
        pid: 7,
        signal: StopSignal::Kill
    }));
    sim.crash(1);
    assert_eq!(sim.state.server_state(), ServerState::Restarting);
    sim.advance(Duration::from_secs(1));
    assert_eq!(sim.last_spawn(), 2);
}

#[test]
fn stop_terms_the_group_then_kills_after_grace() {
    let mut sim = Sim::managed();
    sim.send(Event::StartRequested);
    let launch = sim.bring_up(9);
    let fx = sim.send(Event::StopRequested);
    assert!(fx.contains(&Effect::Unwatch));
    assert!(fx.contains(&Effect::Signal {
        launch,
        pid: 9,
        signal: StopSignal::Terminate
    }));
    sim.advance(Duration::from_secs(4));
    assert!(!sim.effects.contains(&Effect::Signal {
        launch,
        pid: 9,
        signal: StopSignal::Kill
    }));
    sim.advance(Duration::from_secs(1));
    assert!(sim.effects.contains(&Effect::Signal {
        launch,
        pid: 9,
        signal: StopSignal::Kill
    }));
    sim.crash(launch);
    assert_eq!(sim.state.server_state(), ServerState::Stopped);
    assert_eq!(sim.state.server_pid(), None);
    let spawns = sim.spawn_times();
    sim.advance(Duration::from_secs(120));
    assert_eq!(
        sim.spawn_times(),
        spawns,
        "a requested stop is not restarted"
    );
}

#[test]
fn stop_before_spawn_completes_stops_the_new_process() {
    let mut sim = Sim::managed();
    sim.send(Event::StartRequested);
    sim.send(Event::StopRequested);
    let fx = sim.send(Event::Spawned { launch: 1, pid: 5 });
    assert!(fx.contains(&Effect::Signal {
        launch: 1,
        pid: 5,
        signal: StopSignal::Terminate
    }));
}

#[test]
fn restart_request_relaunches_without_counting_a_failure() {
    let mut sim = Sim::managed();
    sim.send(Event::StartRequested);
    let launch = sim.bring_up(3);
    sim.send(Event::RestartRequested);
    assert_eq!(sim.state.server_state(), ServerState::Restarting);
    sim.crash(launch);
    assert_eq!(
        sim.last_spawn(),
        launch + 1,
        "relaunched at once, no backoff"
    );
    sim.bring_up(4);
    assert_eq!(sim.state.server_state(), ServerState::Running);
}

#[test]
fn quit_stops_the_server_before_exiting() {
    let mut sim = Sim::managed();
    sim.send(Event::StartRequested);
    let launch = sim.bring_up(3);
    let fx = sim.send(Event::QuitRequested);
    assert!(!fx.contains(&Effect::Exit));
    assert!(fx.contains(&Effect::Signal {
        launch,
        pid: 3,
        signal: StopSignal::Terminate
    }));
    let fx = sim.send(Event::Exited {
        launch,
        exit: ExitReport {
            description: "exited".into(),
            permanent: None,
        },
    });
    assert!(fx.contains(&Effect::Exit));
    let mut idle = Sim::managed();
    assert_eq!(idle.send(Event::QuitRequested), vec![Effect::Exit]);
}

#[test]
fn missing_binary_or_port_in_use_fail_without_retry() {
    let mut sim = Sim::managed();
    sim.send(Event::StartRequested);
    sim.send(Event::SpawnFailed {
        launch: 1,
        reason: "opencode was not found; install it with `npm i -g opencode-ai`".into(),
    });
    assert_eq!(sim.state.server_state(), ServerState::Failed);
    sim.advance(Duration::from_secs(600));
    assert_eq!(sim.spawn_times(), 1);

    let mut sim = Sim::managed();
    sim.send(Event::StartRequested);
    sim.send(Event::Spawned { launch: 1, pid: 8 });
    sim.send(Event::Exited {
        launch: 1,
        exit: ExitReport {
            description: "exited with code 1".into(),
            permanent: Some("port 4096 is already in use".into()),
        },
    });
    assert_eq!(sim.state.server_state(), ServerState::Failed);
    assert_eq!(
        sim.state.last_error.as_deref(),
        Some("port 4096 is already in use")
    );
    sim.advance(Duration::from_secs(600));
    assert_eq!(sim.spawn_times(), 1);
}

#[test]
fn stale_events_from_an_old_launch_are_ignored() {
    let mut sim = Sim::managed();
    sim.send(Event::StartRequested);
    let old = sim.bring_up(1);
    sim.send(Event::RestartRequested);
    sim.crash(old);
    let new = sim.bring_up(2);
    sim.crash(old); // a duplicate report about the old process
    sim.send(Event::Timer(Timer::KillDue(old)));
    assert_eq!(sim.state.server_state(), ServerState::Running);
    assert_eq!(sim.state.server_pid(), Some(2));
    assert!(new > old);
}

#[test]
fn event_stream_loss_shows_unreachable_then_recovers() {
    let mut sim = Sim::managed();
    sim.send(Event::StartRequested);
    sim.bring_up(1);
    let watch = sim.last_watch();
    sim.send(Event::Watch {
        watch,
        event: WatchEvent::Lost {
            reason: "no data for 30 s".into(),
        },
    });
    assert_eq!(sim.state.server_state(), ServerState::Unreachable);
    sim.send(Event::Watch {
        watch,
        event: WatchEvent::Connected {
            version: None,
            unsecured: false,
        },
    });
    assert_eq!(sim.state.server_state(), ServerState::Running);
    // A report from an old watcher does not count.
    sim.send(Event::Watch {
        watch: watch + 100,
        event: WatchEvent::Lost {
            reason: "old".into(),
        },
    });
    assert_eq!(sim.state.server_state(), ServerState::Running);
}

#[test]
fn crash_clears_busy_sessions_and_pending_requests() {
    let mut sim = Sim::managed();
    sim.send(Event::StartRequested);
    let launch = sim.bring_up(1);
    let watch = sim.last_watch();
    for line in [
        r#"{"directory":"/p","payload":{"type":"session.status","properties":{"sessionID":"s","status":{"type":"busy"}}}}"#,
        r#"{"directory":"/p","payload":{"type":"permission.asked","properties":{"id":"per_1","sessionID":"s","permission":"bash"}}}"#,
    ] {
        sim.send(Event::Watch {
            watch,
            event: WatchEvent::Server(parse_event(line).unwrap()),
        });
    }
    assert_eq!(status::Summary::derive(&sim.state).busy, 1);
    sim.crash(launch);
    let summary = status::Summary::derive(&sim.state);
    assert_eq!((summary.busy, summary.pending_permissions), (0, 0));
}

#[test]
fn attach_mode_auth_rejection_waits_for_the_user() {
    let mut sim = Sim::new(ServerMode::Attach, Some("http://127.0.0.1:4096"));
    let fx = sim.send(Event::StartRequested);
    assert_eq!(
        fx,
        vec![Effect::Watch {
            watch: 1,
            url: None
        }]
    );
    assert_eq!(sim.state.server_state(), ServerState::Starting);
    sim.send(Event::Watch {
        watch: 1,
        event: WatchEvent::AuthRejected,
    });
    assert_eq!(sim.state.server_state(), ServerState::AuthRequired);
    sim.advance(Duration::from_secs(600));
    assert_eq!(sim.effects.len(), 1, "no retry loop");
    let fx = sim.send(Event::StartRequested);
    assert!(fx.contains(&Effect::Watch {
        watch: 2,
        url: None
    }));
    sim.send(Event::Watch {
        watch: 2,
        event: WatchEvent::Connected {
            version: Some("1.0".into()),
            unsecured: true,
        },
    });
    assert_eq!(sim.state.server_state(), ServerState::Running);
    assert!(sim.state.unsecured);
    assert_eq!(sim.state.url.as_deref(), Some("http://127.0.0.1:4096"));
}

#[test]
fn attach_mode_never_signals_a_process() {
    let mut sim = Sim::new(ServerMode::Attach, Some("http://x:1"));
    sim.send(Event::StartRequested);
    sim.send(Event::StopRequested);
    sim.send(Event::RestartRequested);
    sim.send(Event::QuitRequested);
    assert!(
        sim.effects
            .iter()
            .all(|e| !matches!(e, Effect::Signal { .. } | Effect::Spawn { .. }))
    );
    assert_eq!(sim.effects.last(), Some(&Effect::Exit));
}

#[test]
fn history_records_transitions_with_reasons() {
    let mut sim = Sim::managed();
    sim.send(Event::StartRequested);
    let launch = sim.bring_up(1);
    sim.crash(launch);
    let states: Vec<_> = sim.state.history.iter().map(|t| t.state).collect();
    assert_eq!(
        states,
        [
            ServerState::Stopped,
            ServerState::Starting,
            ServerState::Running,
            ServerState::Restarting
        ]
    );
    assert!(
        sim.state
            .history
            .back()
            .unwrap()
            .reason
            .as_deref()
            .unwrap()
            .contains("signal 9")
    );
}

#[test]
fn menu_choices_become_requests_or_desktop_effects() {
    use super::tray_view::MenuAction;
    let mut sim = Sim::managed();
    sim.send(Event::Menu(MenuAction::StartServer));
    assert_eq!(sim.state.server_state(), ServerState::Starting);
    assert_eq!(
        sim.send(Event::Menu(MenuAction::CopyServerUrl)),
        vec![],
        "no URL yet"
    );
    let launch = sim.bring_up(4);
    assert_eq!(
        sim.send(Event::Menu(MenuAction::CopyServerUrl)),
        vec![Effect::CopyToClipboard("http://127.0.0.1:4".into())]
    );
    assert!(
        sim.send(Event::Menu(MenuAction::ViewLogs))
            .contains(&Effect::Popover(PopoverEffect::Spawn(1))),
        "the log page lives in the popover"
    );
    assert_eq!(
        sim.send(Event::Menu(MenuAction::OpenLogFolder)),
        vec![Effect::OpenLogFolder]
    );
    assert_eq!(
        sim.send(Event::Menu(MenuAction::CopyDiagnostics)),
        vec![Effect::CopyDiagnostics]
    );
    assert_eq!(
        sim.send(Event::Menu(MenuAction::ToggleAutostart)),
        vec![Effect::SetAutostart(true)],
        "unknown counts as off"
    );
    sim.send(Event::AutostartChanged(true));
    assert_eq!(
        sim.send(Event::Menu(MenuAction::ToggleAutostart)),
        vec![Effect::SetAutostart(false)]
    );
    let fx = sim.send(Event::Menu(MenuAction::StopServer));
    assert!(fx.contains(&Effect::Signal {
        launch,
        pid: 4,
        signal: StopSignal::Terminate
    }));
    sim.crash(launch);
    assert_eq!(sim.state.server_state(), ServerState::Stopped);
    assert_eq!(sim.send(Event::Menu(MenuAction::Quit)), vec![Effect::Exit]);
}

#[test]
fn pair_a_phone_opens_the_popover_on_its_pair_page() {
    use super::popover_lifecycle::{OpenRequest, PopoverEvent, PopoverView};
    use super::tray_view::MenuAction;
    let mut sim = Sim::managed();
    assert!(
        sim.send(Event::Menu(MenuAction::PairPhone))
            .contains(&Effect::Popover(PopoverEffect::Spawn(1))),
        "the pair page lives in the popover"
    );
    let shown = sim.send(Event::Popover(PopoverEvent::Attached));
    assert!(
        shown.contains(&Effect::Popover(PopoverEffect::Show(OpenRequest {
            view: Some(PopoverView::Pair),
            ..OpenRequest::default()
        }))),
        "{shown:?}"
    );
    assert_eq!(PopoverView::parse("pair"), Some(PopoverView::Pair));
    assert_eq!(
        serde_json::to_value(PopoverView::Pair).unwrap(),
        serde_json::json!("pair")
    );
}

fn reconfiguration(server: Option<ServerSettings>) -> Event {
    Event::Reconfigured(Reconfiguration {
        notify: NotifyConfig::default(),
        server,
        rewatch: false,
        start_timeout: Duration::from_secs(12),
        configured: true,
    })
}

fn managed_settings() -> ServerSettings {
    ServerSettings {
        mode: ServerMode::Managed,
        attach_url: None,
    }
}

#[test]
fn a_changed_server_key_restarts_a_running_server_with_the_new_settings() {
    let mut sim = Sim::managed();
    sim.send(Event::StartRequested);
    let launch = sim.bring_up(4);
    let fx = sim.send(reconfiguration(Some(managed_settings())));
    assert!(fx.contains(&Effect::Signal {
        launch,
        pid: 4,
        signal: StopSignal::Terminate
    }));
    assert_eq!(sim.state.server_state(), ServerState::Restarting);
    sim.crash(launch);
    assert_eq!(sim.spawn_times(), 2, "started again");
    assert!(sim.effects.contains(&Effect::Schedule {
        timer: Timer::StartTimeout(launch + 1),
        after: Duration::from_secs(12),
    }));
}

#[test]
fn other_changes_keep_the_server_and_a_stopped_server_stays_stopped() {
    let mut sim = Sim::managed();
    sim.send(Event::StartRequested);
    sim.bring_up(4);
    let fx = sim.send(reconfiguration(None));
    assert!(fx.is_empty(), "no restart: {fx:?}");
    assert_eq!(sim.state.server_state(), ServerState::Running);

    let mut stopped = Sim::managed();
    assert!(
        stopped
            .send(reconfiguration(Some(managed_settings())))
            .is_empty()
    );
    assert_eq!(stopped.state.server_state(), ServerState::Stopped);
}

#[test]
fn a_changed_watch_list_reconnects_the_event_stream_only() {
    let mut sim = Sim::managed();
    sim.send(Event::StartRequested);
    sim.bring_up(4);
    let fx = sim.send(Event::Reconfigured(Reconfiguration {
        notify: NotifyConfig::default(),
        server: None,
        rewatch: true,
        start_timeout: Duration::from_secs(30),
        configured: true,
    }));
    assert!(fx.contains(&Effect::Unwatch));
    assert!(fx.iter().any(|e| matches!(
        e,
        Effect::Watch { url: Some(u), .. } if u == "http://127.0.0.1:4"
    )));
    assert!(!fx.iter().any(|e| matches!(e, Effect::Signal { .. })));
}

#[test]
fn switching_to_attach_stops_the_managed_server_then_watches() {
    let mut sim = Sim::managed();
    sim.send(Event::StartRequested);
    let launch = sim.bring_up(4);
    sim.send(reconfiguration(Some(ServerSettings {
        mode: ServerMode::Attach,
        attach_url: Some("http://127.0.0.1:9999".into()),
    })));
    assert_eq!(sim.state.mode, ServerMode::Managed, "not until it is gone");
    let fx = sim.send(Event::Exited {
        launch,
        exit: ExitReport {
            description: "exited with code 0".into(),
            permanent: None,
        },
    });
    assert_eq!(sim.state.mode, ServerMode::Attach);
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::Watch { url: None, .. }))
    );
    assert!(!fx.iter().any(|e| matches!(e, Effect::Spawn { .. })));
    assert_eq!(sim.state.url.as_deref(), Some("http://127.0.0.1:9999"));

    // And back: the watch stops and a managed server starts.
    let fx = sim.send(reconfiguration(Some(managed_settings())));
    assert!(fx.contains(&Effect::Unwatch));
    assert!(fx.iter().any(|e| matches!(e, Effect::Spawn { .. })));
    assert_eq!(sim.state.mode, ServerMode::Managed);
}

#[test]
fn a_rejected_config_is_shown_until_a_good_one_arrives() {
    let mut sim = Sim::managed();
    sim.send(Event::ConfigRejected(
        "server.port = 70000 is not a port".into(),
    ));
    let view = tray_view::TrayView::derive(&sim.state);
    assert!(
        view.tooltip.contains("server.port = 70000"),
        "{}",
        view.tooltip
    );
    sim.send(reconfiguration(None));
    assert_eq!(sim.state.config_problem, None);
}

#[test]
fn resource_use_is_kept_only_while_there_is_a_server_process() {
    let used = resource_use::ResourceUse {
        cpu_percent: 1.0,
        memory_bytes: 1 << 20,
        processes: 2,
    };
    let mut sim = Sim::managed();
    sim.send(Event::ResourceUse(Some(used)));
    assert_eq!(sim.state.resource_use, None, "no server");
    sim.send(Event::StartRequested);
    let launch = sim.bring_up(4);
    sim.send(Event::ResourceUse(Some(used)));
    assert_eq!(sim.state.resource_use, Some(used));
    assert!(
        tray_view::TrayView::derive(&sim.state)
            .tooltip
            .contains("2 processes")
    );
    sim.crash(launch);
    assert_eq!(sim.state.resource_use, None);
}
