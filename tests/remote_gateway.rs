//! The remote gateway, from the network side, against the real daemon,
//! the real `opencode serve` (pinned) and the mock model: sign-in and its
//! cookie, lockout (also across a daemon restart), pairing codes, the
//! WebSocket's page protocol and what it refuses, revocation closing an
//! open page at once, the Host and Origin checks, 404 for everything else,
//! the client cap, and no secret in any log.

#![cfg(target_os = "linux")]

mod support;

use serde_json::{Value, json};
use std::time::Duration;
use support::gateway::{
    Heard, connect, free_port, gateway_config, https, next, post, result, send, session_cookie,
    set_password, until, wait_listening,
};
use support::mock_model::MockModel;
use support::nexus::{Nexus, stderr, stdout};
use support::opencode_server::TestHome;

const PASSWORD: &str = "correct horse battery staple";
const SERVER_START: Duration = Duration::from_secs(90);
const GATEWAY_START: Duration = Duration::from_secs(30);
const ANSWER: Duration = Duration::from_secs(30);

async fn login(client: &reqwest::Client, port: u16, password: &str) -> reqwest::Response {
    post(client, port, "/api/login", json!({ "password": password })).await
}

/// Every file under the state and config dirs that could hold a log line.
fn all_logs(nexus: &Nexus, home: &TestHome) -> String {
    let mut text = String::new();
    for dir in [&nexus.state_dir, &home.root().to_path_buf()] {
        for entry in walk(dir) {
            let name = entry.to_string_lossy();
            if name.ends_with(".log") || name.ends_with(".stderr") {
                text.push_str(&std::fs::read_to_string(&entry).unwrap_or_default());
            }
        }
    }
    text
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_lockout_cookies_and_the_web_surface() {
    let model = MockModel::start().await;
    let home = TestHome::new(model.base_url());
    let port = free_port();
    let config = format!(
        "{}hosts = [\"laptop.tail1234.ts.net\"]\n",
        gateway_config(&home.project_dir(), port, 4)
    );
    let nexus = Nexus::start(&home, &config).await;
    wait_listening(&nexus, 1, GATEWAY_START).await;
    let client = https(&nexus);
    let base = format!("https://127.0.0.1:{port}");

    // Too short a password is refused; a good one is stored as Argon2id only.
    let out = set_password(&nexus, "short").await;
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stderr(&out).contains("too short"), "{}", stderr(&out));
    let out = set_password(&nexus, PASSWORD).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let account = std::fs::read_to_string(nexus.config_dir.join("remote.json")).unwrap();
    assert!(account.contains("$argon2id$v=19$m=19456,t=2,p=1$"));
    assert!(!account.contains(PASSWORD));
    use std::os::unix::fs::PermissionsExt;
    for file in ["remote.json", "remote-key.pem"] {
        let mode = std::fs::metadata(nexus.config_dir.join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }

    // The page's headers, and no page without signing in.
    let response = client.get(&base).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/login");
    let headers = response.headers();
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("connect-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert!(
        headers["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );
    let login_page = client.get(format!("{base}/login")).send().await.unwrap();
    assert_eq!(login_page.status(), 200);
    assert!(login_page.text().await.unwrap().contains("password"));
    assert_eq!(
        client
            .get(format!("{base}/app.js"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // Nothing else is there: no proxy to the OpenCode server.
    for path in [
        "/session",
        "/api/session",
        "/global/event",
        "/api",
        "/config",
        "/../config.toml",
        "/api/ws/x",
    ] {
        let response = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
    // DNS rebinding: a foreign Host is refused.
    let foreign = client
        .get(&base)
        .header("host", format!("evil.example:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 421);
    // A tunnel's own name, listed in remote.hosts, is one of the gateway's.
    let tunnel = client
        .get(&base)
        .header("host", "laptop.tail1234.ts.net")
        .send()
        .await
        .unwrap();
    assert_eq!(tunnel.status(), 303);
    // A POST from another site is refused before the password is looked at.
    let cross = client
        .post(format!("{base}/api/login"))
        .header("origin", "https://evil.example")
        .json(&json!({ "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    // Bodies are bounded: 413, or the connection cut while the client is
    // still sending (the gateway answers before reading it all).
    let huge = client
        .post(format!("{base}/api/login"))
        .header("origin", &base)
        .json(&json!({ "password": "x".repeat(10_000) }))
        .send()
        .await;
    match huge {
        Ok(response) => assert_eq!(response.status(), 413),
        Err(e) => assert!(e.is_request(), "{e}"),
    }
    assert_eq!(
        client
            .get(format!("{base}/login"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // Wrong passwords: the same answer each time, then a wait — for the right one too.
    let mut bodies = Vec::new();
    for _ in 0..5 {
        let response = login(&client, port, "not the password").await;
        assert_eq!(response.status(), 401);
        bodies.push(response.text().await.unwrap());
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");
    let locked = login(&client, port, PASSWORD).await;
    assert_eq!(locked.status(), 429, "the right password waits too");
    assert_eq!(locked.headers()["retry-after"], "1");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let ok = login(&client, port, PASSWORD).await;
    assert_eq!(ok.status(), 200);
    let set_cookie: Vec<String> = ok
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let cookie_line = set_cookie
        .iter()
        .find(|c| c.starts_with("nexus_session="))
        .expect("a session cookie");
    for flag in [
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/",
        "Max-Age=2592000",
    ] {
        assert!(cookie_line.contains(flag), "{cookie_line} lacks {flag}");
    }
    let cookie = session_cookie(&ok).unwrap();
    let token = cookie.trim_start_matches("nexus_session=").to_string();
    let page = client
        .get(&base)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("remote.js"));

    // A lockout outlives a restart of the daemon (and its gateway): build
    // one up to an 8 s wait, restart, and the right password still waits.
    for wait in [0u64, 0, 0, 0, 0, 1, 2, 4] {
        tokio::time::sleep(Duration::from_millis(wait * 1000 + 50)).await;
        let response = login(&client, port, "still not it").await;
        assert_eq!(response.status(), 401);
    }
    drop(nexus);
    let nexus = Nexus::start(&home, &config).await;
    wait_listening(&nexus, 2, GATEWAY_START).await;
    let after_restart = login(&client, port, PASSWORD).await;
    assert_eq!(after_restart.status(), 429);
    let retry: u64 = after_restart.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=8).contains(&retry), "{retry}");
    // The earlier session survived the restart too.
    let page = client
        .get(&base)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);

    // Pairing: one code, one device, once.
    let out = nexus.run(&["remote", "pair", "--json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let pairing: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let code = pairing["token"].as_str().unwrap().to_string();
    // The tunnel's name (remote.hosts) comes first in what a phone is given.
    assert_eq!(
        pairing["url"],
        format!("https://laptop.tail1234.ts.net:{port}/pair#{code}")
    );
    assert_eq!(pairing["expires_in"], 300);
    let fingerprint = pairing["fingerprint"].as_str().unwrap();
    assert_eq!(fingerprint.len(), 95);
    tokio::time::sleep(Duration::from_secs(retry)).await;
    let paired = post(&client, port, "/api/pair", json!({ "token": code })).await;
    assert_eq!(paired.status(), 200);
    let paired_cookie = session_cookie(&paired).unwrap();
    let again = post(&client, port, "/api/pair", json!({ "token": code })).await;
    assert_eq!(again.status(), 401, "a pairing code works once");
    let out = nexus.run(&["remote", "pair"]).await;
    assert!(stdout(&out).contains('█'), "a QR code in the terminal");

    // Status and devices.
    let out = nexus.run(&["remote", "status", "--json"]).await;
    let status: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(status["enabled"], true);
    assert_eq!(status["password_set"], true);
    assert_eq!(status["fingerprint"], fingerprint);
    assert_eq!(status["urls"][1], base);
    assert_eq!(status["devices"].as_array().unwrap().len(), 2);
    let results: Vec<&str> = status["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["result"].as_str().unwrap())
        .collect();
    for expected in ["wrong_password", "locked", "ok", "paired", "bad_pairing"] {
        assert!(results.contains(&expected), "{results:?}");
    }
    assert_eq!(status["devices"][0]["name"], "Chrome on Android");

    // Signing out ends that session only.
    let out = post_with_cookie(&client, port, "/api/logout", &paired_cookie).await;
    assert_eq!(out.status(), 200);
    let gone = client
        .get(&base)
        .header("cookie", &paired_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 303);

    // No secret in any log: the password, the session token, the pairing code.
    let logs = all_logs(&nexus, &home);
    assert!(
        logs.contains("gateway listening"),
        "the gateway's log was read"
    );
    for secret in [PASSWORD, token.as_str(), code.as_str()] {
        assert!(!logs.contains(secret), "a secret reached a log");
    }
    let status_text = stdout(&nexus.run(&["remote", "status"]).await);
    assert!(!status_text.contains(&token) && !status_text.contains(PASSWORD));
}

async fn post_with_cookie(
    client: &reqwest::Client,
    port: u16,
    path: &str,
    cookie: &str,
) -> reqwest::Response {
    client
        .post(format!("https://127.0.0.1:{port}{path}"))
        .header("origin", format!("https://127.0.0.1:{port}"))
        .header("cookie", cookie)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_protocol_over_the_websocket_chats_refuses_and_is_revoked() {
    let model = MockModel::start().await;
    let home = TestHome::new(model.base_url());
    let port = free_port();
    let nexus = Nexus::start(&home, &gateway_config(&home.project_dir(), port, 2)).await;
    nexus.wait_for_state("running", SERVER_START).await;
    wait_listening(&nexus, 1, GATEWAY_START).await;
    let out = set_password(&nexus, PASSWORD).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let client = https(&nexus);
    let cookie = session_cookie(&login(&client, port, PASSWORD).await).unwrap();
    let origin = format!("https://127.0.0.1:{port}");

    // Without the cookie, or from another origin: no socket.
    assert_eq!(connect(&nexus, port, None, &origin).await.err(), Some(401));
    assert_eq!(
        connect(&nexus, port, Some(&cookie), "https://evil.example")
            .await
            .err(),
        Some(403)
    );

    let mut page = connect(&nexus, port, Some(&cookie), &origin).await.unwrap();
    send(&mut page, json!({"type": "ready"})).await;
    let init = until(&mut page, ANSWER, |m| m["type"] == "init").await;
    assert_eq!(init["remote"], true);
    let directory = home.project_dir().display().to_string();
    assert_eq!(init["default_directory"], directory);

    // Nexus's own calls and unknown calls are refused, with an answer.
    send(&mut page, json!({"type": "nexus", "id": 1, "call": {"name": "save_settings", "values": {"server.port": 1}}})).await;
    let refused = result(&mut page, 1, ANSWER).await;
    assert_eq!(refused["ok"], false);
    assert_eq!(refused["kind"], "rejected");
    send(
        &mut page,
        json!({"type": "nexus", "id": 2, "call": {"name": "install_opencode"}}),
    )
    .await;
    assert_eq!(result(&mut page, 2, ANSWER).await["kind"], "rejected");
    send(
        &mut page,
        json!({"type": "call", "id": 3, "call": {"name": "shell", "command": "touch /tmp/pwned"}}),
    )
    .await;
    assert_eq!(result(&mut page, 3, ANSWER).await["kind"], "rejected");

    // A chat: a new session, a prompt, the mock model's reply streams in as events.
    send(&mut page, json!({"type": "call", "id": 4, "call": {"name": "create_session", "directory": directory}})).await;
    let session = result(&mut page, 4, ANSWER).await;
    assert_eq!(session["ok"], true, "{session}");
    let session_id = session["data"]["id"].as_str().unwrap().to_string();
    send(&mut page, json!({"type": "call", "id": 5, "call": {"name": "prompt", "session": session_id, "text": "hello from the phone"}})).await;
    assert_eq!(result(&mut page, 5, ANSWER).await["ok"], true);
    let reply = until(&mut page, ANSWER, |m| {
        m["type"] == "events" && m.to_string().contains("echo: hello from the phone")
    })
    .await;
    assert!(reply["events"].is_array());
    send(
        &mut page,
        json!({"type": "call", "id": 6, "call": {"name": "sessions", "directory": directory}}),
    )
    .await;
    let sessions = result(&mut page, 6, ANSWER).await;
    assert!(sessions["data"].to_string().contains(&session_id));
    // Markdown renders here too.
    send(
        &mut page,
        json!({"type": "markdown", "id": 7, "text": "**bold** <script>x</script>"}),
    )
    .await;
    let tree = until(&mut page, ANSWER, |m| {
        m["type"] == "markdown" && m["id"] == 7
    })
    .await;
    assert!(tree["tree"].to_string().contains("bold"));
    // A long answer's chunks come as one batch and go back as one message,
    // each answer under its own id.
    let chunks: Vec<_> = (0..120)
        .map(|i| json!({"id": 100 + i, "text": format!("chunk *{i}*"), "code_later": true}))
        .collect();
    send(
        &mut page,
        json!({"type": "markdown_batch", "requests": chunks}),
    )
    .await;
    let answers = until(&mut page, ANSWER, |m| {
        m["type"] == "markdown" && m["answers"].is_array()
    })
    .await;
    let ids: Vec<u64> = answers["answers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, (100..220).collect::<Vec<u64>>());
    assert!(answers["answers"][119]["tree"].to_string().contains("119"));

    // The client cap: two pages at most (max_clients = 2).
    let second = connect(&nexus, port, Some(&cookie), &origin).await.unwrap();
    assert_eq!(
        connect(&nexus, port, Some(&cookie), &origin).await.err(),
        Some(503)
    );
    drop(second);

    // Revoking closes the open page at once, and the cookie stops working.
    let out = nexus.run(&["remote", "devices", "--json"]).await;
    let devices: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let id = devices[0]["id"].as_str().unwrap().to_string();
    let revoked_at = std::time::Instant::now();
    let out = nexus.run(&["remote", "revoke", &id]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let closed = loop {
        match next(&mut page, Duration::from_secs(5)).await {
            Heard::Closed(code) => break code,
            Heard::Json(_) => continue,
        }
    };
    assert_eq!(closed, Some(4401));
    assert!(
        revoked_at.elapsed() < Duration::from_secs(3),
        "{:?}",
        revoked_at.elapsed()
    );
    assert_eq!(
        connect(&nexus, port, Some(&cookie), &origin).await.err(),
        Some(401)
    );
    let out = nexus.run(&["remote", "revoke", "nope"]).await;
    assert_eq!(out.status.code(), Some(1));
}
