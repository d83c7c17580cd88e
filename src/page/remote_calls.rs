//! The page's calls about remote access (the pair page and the settings
//! page's remote password): a pairing offer, the account's state, signing
//! devices out, and a new password once the user has confirmed it in a
//! native dialog (the popover asks; `password_confirmation` is what the
//! dialog says). The work is `remote::manage`'s, the same the `remote`
//! commands do; this shapes it for the page.
//!
//! Blocking (the account file's lock, Argon2id): run these off the async
//! threads. Nothing here logs or answers with a password or a code's hash.

use super::CallError;
use super::protocol::RemotePassword;
use super::settings_guard::Confirmation;
use crate::config::{RemoteConfig, RemoteTls};
use crate::paths::Paths;
use crate::remote::manage;
use serde_json::{Value, json};

/// What the `confirming` message names while the password dialog is up
/// (the password is no setting of config.toml, but the page tells the
/// confirmations apart by key).
pub const PASSWORD_KEY: &str = "remote.password";

/// The password dialog's window title (tests find the dialog by it).
pub const PASSWORD_DIALOG_TITLE: &str = "OpenCode Nexus: confirm the remote password";

fn failed(message: String) -> CallError {
    CallError {
        kind: "server",
        message,
    }
}

/// `remote_pair`: a fresh one-time code for a phone, with what the page
/// needs to say whether the phone can reach it.
pub fn pair(paths: &Paths, remote: &RemoteConfig) -> Result<Value, CallError> {
    let offer = crate::remote::pairing_offer(paths, remote).map_err(failed)?;
    Ok(json!({
        "url": offer.url,
        "expires_in": offer.expires_in,
        "fingerprint": offer.fingerprint,
        "qr": offer.qr_data_url(),
        "enabled": remote.enabled,
        "listen": remote.listen.to_string(),
        "loopback": remote.listen.ip().is_loopback(),
        "tls": remote.tls == RemoteTls::Auto,
    }))
}

/// `remote_status`: what `opencode-nexus remote status --json` prints.
pub fn status(paths: &Paths, remote: &RemoteConfig) -> Result<Value, CallError> {
    let status = manage::status(paths, remote).map_err(failed)?;
    serde_json::to_value(status).map_err(|e| failed(e.to_string()))
}

/// `remote_revoke`: signs one device (or every device) out; how many.
pub fn revoke(paths: &Paths, id: Option<&str>) -> Result<Value, CallError> {
    let signed_out = manage::revoke(paths, id).map_err(failed)?;
    Ok(json!({ "signed_out": signed_out }))
}

/// `set_remote_password`, once confirmed: hashes and stores it.
pub fn set_password(paths: &Paths, password: &RemotePassword) -> Result<Value, CallError> {
    let signed_out = manage::set_password(paths, password.expose()).map_err(failed)?;
    tracing::info!("remote password set from the settings page; {signed_out} device(s) signed out");
    Ok(json!({ "set": true, "signed_out": signed_out }))
}

/// The answer when the password was not changed (the user said no, or no
/// dialog could ask): nothing was stored.
pub fn password_not_set(why: &str) -> Value {
    json!({
        "set": false,
        "cancelled": true,
        "error": format!("{why}; the remote password was not changed"),
    })
}

/// What the native dialog asks before a new remote password is stored. It
/// never shows the password: the user typed it, and the dialog only asks
/// whether they did.
pub fn password_confirmation() -> Confirmation {
    Confirmation {
        title: PASSWORD_DIALOG_TITLE,
        primary: "Change the remote password?".into(),
        details: "The Settings page asks to set a new password for signing in to OpenCode \
                  Nexus from your phone or another computer (the remote gateway).\n\n\
                  Every signed-in device will be signed out, and pairing codes not yet \
                  used stop working.\n\n\
                  Change it only if you typed the new password yourself. Nothing changes \
                  until you choose."
            .into(),
        accept: "_Set the password",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::account::Device;
    use crate::remote::store::Store;
    use crate::remote::{now_ms, password, token_hash};

    fn home() -> (tempfile::TempDir, Paths) {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::with_home(dir.path().to_str().unwrap());
        (dir, paths)
    }

    fn add_device(paths: &Paths, id: &str) {
        Store::new(paths)
            .update(|a| {
                a.add_device(Device {
                    id: id.into(),
                    token_hash: format!("hash-of-{id}"),
                    name: "Safari on iPhone".into(),
                    address: "192.168.1.7".into(),
                    via: "pairing".into(),
                    created_ms: now_ms(),
                    last_seen_ms: now_ms(),
                })
            })
            .unwrap();
    }

    #[test]
    fn the_pair_answer_has_the_url_its_qr_image_and_what_the_notes_need() {
        let (_dir, paths) = home();
        let remote = RemoteConfig::default();
        let answer = pair(&paths, &remote).unwrap();
        let url = answer["url"].as_str().unwrap();
        let token = url.split_once("/pair#").unwrap().1;
        assert!(url.starts_with("https://127.0.0.1:4180/pair#"), "{url}");
        assert!(
            answer["qr"]
                .as_str()
                .unwrap()
                .starts_with("data:image/svg+xml;base64,")
        );
        assert_eq!(answer["expires_in"], 300);
        assert_eq!(answer["enabled"], false);
        assert_eq!(answer["loopback"], true);
        assert_eq!(answer["tls"], true);
        assert!(answer["fingerprint"].is_null());
        assert!(
            answer.get("token").is_none(),
            "the code travels in the URL only"
        );
        let account = Store::new(&paths).read().unwrap();
        assert_eq!(account.pairings.len(), 1);
        assert_eq!(account.pairings[0].token_hash, token_hash(token));
    }

    #[test]
    fn status_and_revoke_answer_as_the_cli_prints() {
        let (_dir, paths) = home();
        add_device(&paths, "d1");
        add_device(&paths, "d2");
        let answer = status(&paths, &RemoteConfig::default()).unwrap();
        assert_eq!(answer["devices"].as_array().unwrap().len(), 2);
        assert_eq!(answer["devices"][0]["id"], "d1");
        assert_eq!(answer["password_set"], false);
        assert!(!answer.to_string().contains("hash-of-"));
        assert_eq!(
            revoke(&paths, Some("d1")).unwrap(),
            json!({"signed_out": 1})
        );
        assert_eq!(
            revoke(&paths, Some("d1")).unwrap(),
            json!({"signed_out": 0})
        );
        assert_eq!(revoke(&paths, None).unwrap(), json!({"signed_out": 1}));
    }

    #[test]
    fn a_confirmed_password_is_stored_hashed_and_never_answered_or_shown() {
        let (_dir, paths) = home();
        add_device(&paths, "d1");
        let secret = "correct horse battery";
        let answer = set_password(&paths, &RemotePassword::new(secret)).unwrap();
        assert_eq!(answer, json!({"set": true, "signed_out": 1}));
        let phc = Store::new(&paths).read().unwrap().password.unwrap();
        assert_eq!(password::verify(secret, &phc), password::Verdict::Right);
        let refused = set_password(&paths, &RemotePassword::new("short")).unwrap_err();
        assert!(refused.message.contains("too short"), "{}", refused.message);

        let dialog = password_confirmation();
        assert_eq!(dialog.title, PASSWORD_DIALOG_TITLE);
        assert!(
            dialog
                .details
                .contains("Every signed-in device will be signed out")
        );
        assert!(!dialog.details.contains(secret));
        let cancelled = password_not_set("You did not confirm the change");
        assert_eq!(cancelled["set"], false);
        assert_eq!(cancelled["cancelled"], true);
        assert!(!cancelled.to_string().contains(secret));
    }
}
