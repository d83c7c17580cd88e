//! The platform choices that need no OS to decide: the control pipe's name,
//! how a command line is quoted for Windows' Run key, the LaunchAgent's text,
//! the Job Object's limits. Plain functions of their inputs, compiled and
//! unit-tested on every platform (so Linux CI proves the Windows and macOS
//! rules too); the `cfg` modules beside this one only carry them out.

use std::path::Path;

/// The application's directory name under each platform's config/state roots.
pub const APP_DIR: &str = "opencode-nexus";

/// The LaunchAgent's label (and file name, `LABEL.plist`), as in
/// `packaging/macos/io.github.opencode-nexus.plist`.
pub const LAUNCH_AGENT_LABEL: &str = "io.github.opencode-nexus";

/// The value name under `HKCU\Software\Microsoft\Windows\CurrentVersion\Run`.
pub const RUN_KEY_VALUE_NAME: &str = "OpenCode Nexus";

/// The operating systems Nexus knows how to lay out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Linux,
    MacOs,
    Windows,
}

impl Os {
    /// The system this binary was built for (other Unixes are laid out like Linux).
    pub const CURRENT: Os = if cfg!(windows) {
        Os::Windows
    } else if cfg!(target_os = "macos") {
        Os::MacOs
    } else {
        Os::Linux
    };
}

/// Whether `path` is absolute by `os`'s rules, whatever system decides it:
/// on Windows a drive (`C:\…`) or a UNC path (`\\server\…`); elsewhere `/…`.
pub fn is_absolute_on(os: Os, path: &str) -> bool {
    match os {
        Os::Windows => {
            let bytes = path.as_bytes();
            let drive = bytes.len() >= 3
                && bytes[0].is_ascii_alphabetic()
                && bytes[1] == b':'
                && (bytes[2] == b'\\' || bytes[2] == b'/');
            drive || path.starts_with(r"\\")
        }
        Os::Linux | Os::MacOs => path.starts_with('/'),
    }
}

/// The control channel's named pipe for the user whose SID (`S-1-5-21-…`) is
/// given. Pipe names are one namespace for the whole machine, so the name
/// carries the user: two users' daemons never meet, and the pipe's ACL (that
/// SID only) keeps everyone else out. Characters a pipe name cannot hold
/// become `_`.
pub fn control_pipe_name(user_sid: &str) -> String {
    let user: String = user_sid
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(r"\\.\pipe\{APP_DIR}-{user}")
}

/// The security descriptor (SDDL) of the control pipe: protected from
/// inheritance, full access for the user's SID alone (no Everyone, no
/// Administrators, no anonymous read the default descriptor would allow).
pub fn control_pipe_sddl(user_sid: &str) -> String {
    format!("D:P(A;;GA;;;{user_sid})")
}

/// Quotes one argument the way Windows programs split their command line
/// (`CommandLineToArgvW`, the C runtime): left alone when it has no space,
/// tab or quote; otherwise in quotes, with backslashes doubled where they
/// precede a quote and every quote escaped.
pub fn quote_windows_arg(arg: &str) -> String {
    if !arg.is_empty() && !arg.contains([' ', '\t', '"', '\n']) {
        return arg.to_string();
    }
    let mut quoted = String::from('"');
    let mut backslashes = 0usize;
    for c in arg.chars() {
        match c {
            '\\' => backslashes += 1,
            '"' => {
                quoted.extend(std::iter::repeat_n('\\', backslashes * 2 + 1));
                quoted.push('"');
                backslashes = 0;
            }
            _ => {
                quoted.extend(std::iter::repeat_n('\\', backslashes));
                quoted.push(c);
                backslashes = 0;
            }
        }
    }
    // Before the closing quote, every backslash is doubled.
    quoted.extend(std::iter::repeat_n('\\', backslashes * 2));
    quoted.push('"');
    quoted
}

/// The Run key's command: the program, always quoted (a path in `Program
/// Files` has a space, and an unquoted path with spaces is the classic
/// hijack), then its arguments.
pub fn run_key_command(program: &Path, args: &[&str]) -> String {
    let program = program.to_string_lossy();
    // A program path cannot contain a quote on Windows; quote it always.
    let mut line = format!("\"{program}\"");
    for arg in args {
        line.push(' ');
        line.push_str(&quote_windows_arg(arg));
    }
    line
}

/// The program a Run-key command starts (the inverse of `run_key_command`'s
/// first part): the quoted path, or the first word when unquoted.
pub fn run_key_program(command: &str) -> Option<&str> {
    let command = command.trim_start();
    if let Some(rest) = command.strip_prefix('"') {
        return rest.split_once('"').map(|(program, _)| program);
    }
    command.split_whitespace().next()
}

/// Escapes text for an XML (plist) string.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The LaunchAgent that starts Nexus at login: `ProgramArguments` is an
/// array, so no shell ever splits or expands the path; `RunAtLoad` starts it
/// at login; no `KeepAlive`, so a `quit` stays quit until the next login.
pub fn launch_agent_plist(program: &Path, args: &[&str]) -> String {
    let mut arguments = format!(
        "\t\t<string>{}</string>\n",
        xml_escape(&program.to_string_lossy())
    );
    for arg in args {
        arguments.push_str(&format!("\t\t<string>{}</string>\n", xml_escape(arg)));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
         <plist version=\"1.0\">\n\
         <dict>\n\
         \t<key>Label</key>\n\
         \t<string>{LAUNCH_AGENT_LABEL}</string>\n\
         \t<key>ProgramArguments</key>\n\
         \t<array>\n\
         {arguments}\
         \t</array>\n\
         \t<key>RunAtLoad</key>\n\
         \t<true/>\n\
         \t<key>ProcessType</key>\n\
         \t<string>Interactive</string>\n\
         </dict>\n\
         </plist>\n"
    )
}

/// The program a LaunchAgent starts: the first `ProgramArguments` string.
pub fn launch_agent_program(plist: &str) -> Option<String> {
    let after = &plist[plist.find("<key>ProgramArguments</key>")?..];
    let start = after.find("<string>")? + "<string>".len();
    let end = start + after[start..].find("</string>")?;
    Some(
        after[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// What the server's Job Object enforces on Windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobLimits {
    /// Closing the job's last handle (Nexus exits or crashes) ends every
    /// process in it: the Windows form of "a crashed Nexus leaves nothing".
    pub kill_on_job_close: bool,
    /// A crashing process ends instead of waiting on an error dialog no one sees.
    pub die_on_unhandled_exception: bool,
    /// Children may not leave the job (no "breakaway"): tool processes are
    /// stopped with the server.
    pub allow_breakaway: bool,
}

/// The server's job: everything it starts stays in, and dies with Nexus.
pub fn server_job_limits() -> JobLimits {
    JobLimits {
        kill_on_job_close: true,
        die_on_unhandled_exception: true,
        allow_breakaway: false,
    }
}

/// The Win32 `LimitFlags` for `limits` (JOBOBJECT_BASIC_LIMIT_INFORMATION);
/// the values are Windows' own, fixed in its ABI.
pub fn job_limit_flags(limits: JobLimits) -> u32 {
    const JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION: u32 = 0x0400;
    const JOB_OBJECT_LIMIT_BREAKAWAY_OK: u32 = 0x0800;
    const JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE: u32 = 0x2000;
    let mut flags = 0;
    if limits.kill_on_job_close {
        flags |= JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    }
    if limits.die_on_unhandled_exception {
        flags |= JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION;
    }
    if limits.allow_breakaway {
        flags |= JOB_OBJECT_LIMIT_BREAKAWAY_OK;
    }
    flags
}

/// Win32 menu text shown literally: `&` marks an access key there (`&&` is
/// one ampersand) and a tab starts an accelerator's text.
pub fn win32_menu_label(text: &str) -> String {
    text.replace('&', "&&").replace('\t', " ")
}

/// The notification area's tip: at most 127 UTF-16 units (Win32's
/// `szTip`), the title first, then as much of the rest as fits.
pub fn notification_area_tip(title: &str, details: &str) -> String {
    let text = if details.is_empty() {
        title.to_owned()
    } else {
        format!("{title}\n{details}")
    };
    let mut out = String::new();
    let mut units = 0;
    for c in text.chars() {
        units += c.len_utf16();
        if units > 127 {
            break;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn windows_absolute_paths_are_drives_or_unc() {
        assert!(is_absolute_on(Os::Windows, r"C:\Users\u\AppData\Roaming"));
        assert!(is_absolute_on(Os::Windows, "d:/x"));
        assert!(is_absolute_on(Os::Windows, r"\\server\share"));
        assert!(!is_absolute_on(Os::Windows, r"AppData\Roaming"));
        assert!(!is_absolute_on(Os::Windows, "C:relative"));
        assert!(!is_absolute_on(Os::Windows, "/home/u"));
        assert!(is_absolute_on(Os::Linux, "/home/u"));
        assert!(!is_absolute_on(Os::MacOs, r"C:\x"));
    }

    #[test]
    fn the_control_pipe_is_named_for_the_user_and_open_to_them_alone() {
        let sid = "S-1-5-21-1004336348-1177238915-682003330-1001";
        assert_eq!(
            control_pipe_name(sid),
            r"\\.\pipe\opencode-nexus-S-1-5-21-1004336348-1177238915-682003330-1001"
        );
        assert_eq!(
            control_pipe_name(r"a\b c"),
            r"\\.\pipe\opencode-nexus-a_b_c"
        );
        assert_eq!(control_pipe_sddl(sid), format!("D:P(A;;GA;;;{sid})"));
        assert!(!control_pipe_sddl(sid).contains(";WD)"), "never Everyone");
    }

    #[test]
    fn windows_arguments_are_quoted_as_programs_split_them() {
        assert_eq!(quote_windows_arg("daemon"), "daemon");
        assert_eq!(quote_windows_arg(""), "\"\"");
        assert_eq!(quote_windows_arg("two words"), "\"two words\"");
        assert_eq!(quote_windows_arg(r#"say "hi""#), r#""say \"hi\"""#);
        assert_eq!(quote_windows_arg(r"C:\dir\"), r"C:\dir\");
        assert_eq!(quote_windows_arg(r"C:\my dir\"), r#""C:\my dir\\""#);
        assert_eq!(quote_windows_arg(r#"a\"b"#), r#""a\\\"b""#);
    }

    #[test]
    fn the_run_key_quotes_the_program_always() {
        let program = PathBuf::from(r"C:\Program Files\OpenCode Nexus\opencode-nexus.exe");
        let command = run_key_command(&program, &["daemon"]);
        assert_eq!(
            command,
            r#""C:\Program Files\OpenCode Nexus\opencode-nexus.exe" daemon"#
        );
        assert_eq!(
            run_key_program(&command),
            Some(r"C:\Program Files\OpenCode Nexus\opencode-nexus.exe")
        );
        assert_eq!(
            run_key_command(Path::new(r"C:\n\x.exe"), &["a b"]),
            r#""C:\n\x.exe" "a b""#
        );
        assert_eq!(run_key_program(r"C:\n\x.exe daemon"), Some(r"C:\n\x.exe"));
        assert_eq!(run_key_program("\"unterminated"), None);
    }

    #[test]
    fn the_launch_agent_runs_the_program_without_a_shell() {
        let program =
            PathBuf::from("/Applications/OpenCode Nexus & Co.app/Contents/MacOS/opencode-nexus");
        let plist = launch_agent_plist(&program, &["daemon"]);
        assert!(plist.contains("<string>io.github.opencode-nexus</string>"));
        assert!(plist.contains(
            "<string>/Applications/OpenCode Nexus &amp; Co.app/Contents/MacOS/opencode-nexus</string>"
        ));
        assert!(plist.contains("<string>daemon</string>"));
        assert!(plist.contains("<key>RunAtLoad</key>\n\t<true/>"));
        assert!(!plist.contains("KeepAlive"), "a quit stays quit");
        assert_eq!(
            launch_agent_program(&plist).as_deref(),
            Some(program.to_str().unwrap())
        );
        assert_eq!(xml_escape("<a'\">"), "&lt;a&apos;&quot;&gt;");
    }

    #[test]
    fn the_server_job_kills_everything_when_nexus_goes() {
        let limits = server_job_limits();
        assert!(limits.kill_on_job_close);
        assert!(!limits.allow_breakaway);
        assert_eq!(job_limit_flags(limits), 0x2000 | 0x0400);
        assert_eq!(
            job_limit_flags(JobLimits {
                kill_on_job_close: false,
                die_on_unhandled_exception: false,
                allow_breakaway: true,
            }),
            0x0800
        );
    }

    #[test]
    fn win32_menu_text_is_literal() {
        assert_eq!(win32_menu_label("Copy & paste"), "Copy && paste");
        assert_eq!(win32_menu_label("a\tb"), "a b");
        assert_eq!(win32_menu_label("fix_the_bug"), "fix_the_bug");
    }

    #[test]
    fn notification_area_tips_fit_win32s_127_units() {
        assert_eq!(notification_area_tip("Nexus", ""), "Nexus");
        assert_eq!(
            notification_area_tip("Nexus", "server running"),
            "Nexus\nserver running"
        );
        let long = notification_area_tip("Nexus", &"é".repeat(300));
        assert_eq!(long.encode_utf16().count(), 127);
        assert!(long.starts_with("Nexus\n"));
        // A character outside the BMP takes two units and is never cut in half.
        let emoji = notification_area_tip("Nexus", &"😀".repeat(100));
        assert!(emoji.encode_utf16().count() <= 127);
        assert!(emoji.ends_with('😀'));
    }
}
