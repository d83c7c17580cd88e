//! Handing things to the desktop: open a file with its default application,
//! put text on the clipboard. Done with the desktop's own tools, so the
//! resident process links no GUI toolkit.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Opens a web link in the system browser (callers check it is http(s)).
pub fn open_url(url: &str) -> Result<(), String> {
    open_path(Path::new(url))
}

/// Opens `path` with the desktop's default handler.
pub fn open_path(path: &Path) -> Result<(), String> {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    Command::new(opener)
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(|mut child| {
            // Reap it in the background; the opener exits quickly.
            std::thread::spawn(move || child.wait());
        })
        .map_err(|e| format!("cannot run {opener} to open {}: {e}", path.display()))
}

/// Puts `text` on the clipboard through the first tool that is installed.
pub fn copy_to_clipboard(text: &str) -> Result<(), String> {
    let candidates: &[(&str, &[&str])] = if cfg!(target_os = "macos") {
        &[("pbcopy", &[])]
    } else {
        &[
            ("wl-copy", &[]),
            ("xclip", &["-selection", "clipboard"]),
            ("xsel", &["--clipboard", "--input"]),
        ]
    };
    // A tool only works on its own display server.
    let usable = |tool: &str| match tool {
        "wl-copy" => std::env::var_os("WAYLAND_DISPLAY").is_some(),
        "xclip" | "xsel" => std::env::var_os("DISPLAY").is_some(),
        _ => true,
    };
    for (tool, args) in candidates.iter().filter(|(tool, _)| usable(tool)) {
        let Ok(mut child) = Command::new(tool)
            .args(*args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        else {
            continue;
        };
        let written = child
            .stdin
            .take()
            .map(|mut stdin| stdin.write_all(text.as_bytes()));
        // xclip and wl-copy stay to serve the selection; reap them whenever they end.
        std::thread::spawn(move || child.wait());
        return match written {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(format!("{tool} did not take the text: {e}")),
            None => Err(format!("{tool} has no input")),
        };
    }
    let names: Vec<&str> = candidates.iter().map(|(tool, _)| *tool).collect();
    Err(format!(
        "no clipboard tool found (install one of: {})",
        names.join(", ")
    ))
}
