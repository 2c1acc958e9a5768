//! The `switchboard` binary end to end: exit codes, FILE:LINE:COL diagnostics, summaries,
//! generation.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
}

fn topologies() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies")
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("switchboard-it-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn write(&self, name: &str, content: &str) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, content).unwrap();
        p.display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn shipped_topologies_check_ok() {
    for name in ["p2p-small.yaml", "metro.yaml"] {
        let out = run(&["topology", "check", topologies().join(name).to_str().unwrap()]);
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(stdout.contains(": OK"), "{stdout}");
    }
    let out = run(&["topology", "check", topologies().join("metro.yaml").to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("switches    13 (linux 13), a tree of height 2 rooted at core1"), "{stdout}");
    assert!(stdout.contains("interfaces  24 (16 port mode, 8 tagged mode) of 6 organization(s)"), "{stdout}");
}

/// Each case: a topology and the diagnostics `topology check` must print (all of them, at once).
#[test]
fn check_reports_every_error_with_position() {
    let dir = TempDir::new("check");
    let cases: &[(&str, &[&str])] = &[
        ("name: x\nswitches:\n  a: {\n", &[":4:1: YAML syntax"]),
        (
            "name: x\nswitches:\n  a: {}\n  b: {}\nlinks:\n  - endpoints: [a:p1, c:p1]\n  - endpoints: [a:p1, b:p1]\n",
            &[":6:23: link endpoint c:p1: unknown switch `c`", ":7:17: port a:p1 is already used by a link at 6:17"],
        ),
        (
            "name: x\nswitches:\n  a: {}\n  b: {}\n  c: {}\nlinks:\n  - endpoints: [a:1, b:1]\n  - endpoints: [b:2, c:1]\n  - endpoints: [c:2, a:2]\n",
            &[":9:5: link c:2 -- a:2 closes a cycle: c and a are already joined by c - b - a"],
        ),
        ("name: x\nswitches:\n  a: {}\n  b: {}\n", &[":4:3: switch `b` is not connected to `a`"]),
        (
            "name: x\nswitches:\n  a: {}\ninterfaces:\n  i: {organization: o, switch: a, port: p, capacity: 1, macs: [\"02:00:00:00:00:01\", \"02:00:00:00:00:0g\", \"02:00:00:00:00:01\"]}\n",
            &[
                ":5:85: MAC: invalid MAC address \"02:00:00:00:00:0g\"",
                ":5:106: MAC 02:00:00:00:00:01 is already used by interface `i` at 5:64",
            ],
        ),
        ("name: x\nvlans: {pool: 0-99}\nswitches:\n  a: {}\n", &[":2:15: VLAN pool 0-99 is outside 1-4094"]),
        ("name: x\nvlans: {pool: -1}\nswitches:\n  a: {}\n", &[":2:15: VLAN pool -1 is outside 1-4094"]),
        (
            "name: x\nvlans: {pool: 1-99}\nswitches:\n  a: {}\n",
            &[":2:15: VLAN pool 1-99 holds VLAN 1, every Linux bridge port's default VLAN"],
        ),
        (
            "name: x\nvlans: {pool: 2-4094, reserved: [10-20, 20-30]}\nswitches:\n  a: {}\n",
            &[":2:41: reserved range 20-30 overlaps reserved range 10-20 at 2:34"],
        ),
        (
            "name: x\nswitches:\n  a: {driver: linux}\n  b: {driver: snmp}\n  c: {driver: remote}\nlinks: [{endpoints: [a:1, b:1]}, {endpoints: [a:2, c:1]}]\n",
            &[
                ":3:6: switch `a` uses the linux driver but is missing `bridge`",
                ":4:15: unknown driver \"snmp\"",
                ":5:6: switch `c` uses the remote driver but is missing `address`",
            ],
        ),
        ("name: x\nswtiches:\n  a: {}\n", &[":2:1: unknown key `swtiches` in the topology, did you mean `switches`?"]),
        ("name: x\nlinks: []\n", &[":1:1: the topology is missing `switches`"]),
    ];
    for (i, (yaml, wanted)) in cases.iter().enumerate() {
        let path = dir.write(&format!("case{i}.yaml"), yaml);
        let out = run(&["topology", "check", &path]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "case {i}: {stderr}");
        for want in *wanted {
            assert!(stderr.contains(&format!("{path}{want}")), "case {i}: missing {want:?} in:\n{stderr}");
        }
        assert!(stderr.contains(&format!("{} error", wanted.len())), "case {i}: wrong count:\n{stderr}");
    }
}

#[test]
fn plan_reports_channel_errors_with_positions() {
    let dir = TempDir::new("plan");
    let channels = dir.write(
        "bad.channels.yaml",
        "- name: a\n  kind: p2p\n  members: [acme-1a]\n- name: b\n  kind: p2mp\n  members: [{interface: acme-3a, role: root}, {interface: acme-3b, role: leaf}]\n- name: c\n  kind: mp2mp\n  vlan: 1050\n  members: [hooli-4c, hooli-9a]\n",
    );
    let out = run(&["plan", "-t", topologies().join("metro.yaml").to_str().unwrap(), "-c", &channels]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for want in [
        ":1:3: channel `a`: a p2p channel needs exactly 2 members, it has 1",
        ":6:47: channel `b`: unknown interface `acme-3b`, did you mean `acme-3a` or `acme-5b`?",
        ":7:3: channel `c`: `vlan` 1050 is not in the topology's VLAN pool, 2-4000 less the reserved 1000-1099: pick one there",
    ] {
        assert!(stderr.contains(&format!("{channels}{want}")), "missing {want:?} in:\n{stderr}");
    }
}

/// A channel with a problem of its own is told that problem, not what follows from it (a
/// role it does not know is not also "no role"), and the others are still planned.
#[test]
fn a_channels_own_problem_is_not_told_twice() {
    let dir = TempDir::new("own-problem");
    let channels = dir.write(
        "c.yaml",
        "- {name: t1, kind: p2mp, members: [{interface: acme-1a, role: king}, {interface: globex-1b, role: leaf}]}\n\
         - {name: t2, kind: p2p, members: [acme-3a]}\n",
    );
    let out = run(&["plan", "-t", topologies().join("metro.yaml").to_str().unwrap(), "-c", &channels]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(":1:63: `role`: unknown role \"king\": expected root or leaf"), "{stderr}");
    assert!(!stderr.contains("needs a `role`") && !stderr.contains("0 root(s)"), "{stderr}");
    assert!(stderr.contains("channel `t2`: a p2p channel needs exactly 2 members"), "the others are planned: {stderr}");
    assert!(stderr.contains(": 2 errors"), "{stderr}");
}

/// An empty channels file is refused (`apply` would take every channel off); `[]` is none.
/// A file that is not UTF-8 is bad input (exit 2) at the line and column it stops being text.
#[test]
fn empty_channels_and_bytes_that_are_not_text_are_bad_input() {
    let dir = TempDir::new("empty");
    let topo = topologies().join("metro.yaml");
    let topo = topo.to_str().unwrap();
    for (i, (body, at)) in
        [("", "1:1"), ("# nothing here\n", "1:1"), ("---\n", "2:1"), ("channels:\n", "1:9")].iter().enumerate()
    {
        let channels = dir.write(&format!("empty{i}.yaml"), body);
        let out = run(&["plan", "-t", topo, "-c", &channels]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{body:?}: {stderr}");
        assert!(
            stderr.contains(&format!("{channels}:{at}: ")) && stderr.contains("is empty: list the channels"),
            "{stderr}"
        );
    }
    let none = dir.write("none.yaml", "[]\n");
    let out = run(&["plan", "-t", topo, "-c", &none]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // An endless stream is refused once past the most a file may hold, not read to the end.
    let out = run(&["topology", "check", "/dev/zero"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("/dev/zero:1:1: the file is larger than 1024 MiB"), "{stderr}");
    let binary = dir.0.join("latin1.yaml");
    std::fs::write(&binary, b"name: x\nswitches:\n  caf\xe9: {}\n").unwrap();
    let out = run(&["topology", "check", binary.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("{}:3:6: not UTF-8 text", binary.display())), "{stderr}");
}

/// A member that cannot be read is one error: its channel is not also told it has too few
/// members. A channel that has too few is.
#[test]
fn an_unreadable_member_is_one_error() {
    let dir = TempDir::new("member");
    let channels = dir.write(
        "members.yaml",
        "- {name: a, kind: p2p, members: [[acme-1a], acme-3a]}\n- {name: b, kind: p2p, members: [acme-1a]}\n",
    );
    let out = run(&["plan", "-t", topologies().join("metro.yaml").to_str().unwrap(), "-c", &channels]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{channels}:1:34: a member must be an interface name or {{interface: NAME, ...}}, found a list"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{channels}:2:3: channel `b`: a p2p channel needs exactly 2 members")),
        "{stderr}"
    );
    assert!(stderr.contains(": 2 errors"), "{stderr}");
}

/// A topology and a channels file given the wrong way round: one error that says so.
#[test]
fn swapped_files_are_told_apart() {
    let topo = topologies().join("metro.yaml");
    let channels = topologies().join("metro.channels.yaml");
    let (topo, channels) = (topo.to_str().unwrap(), channels.to_str().unwrap());
    let out = run(&["plan", "-t", channels, "-c", topo]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is this a channels file? the topology goes after -t"), "{stderr}");
    assert!(stderr.contains(": 1 error"), "{stderr}");
    let out = run(&["plan", "-t", topo, "-c", topo]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{topo}:12:1: this is a topology (it has `switches`), not a channels file")),
        "{stderr}"
    );
    assert!(stderr.contains(": 1 error"), "{stderr}");
}

#[test]
fn plan_json_is_machine_readable() {
    let out = run(&[
        "plan",
        "-t",
        topologies().join("metro.yaml").to_str().unwrap(),
        "-c",
        topologies().join("metro.channels.yaml").to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["format"], "switchboard.plan/v1");
    assert_eq!(v["channels"].as_array().unwrap().len(), 7);
    assert_eq!(v["switches"].as_array().unwrap().len(), 13);
    let etree = v["channels"].as_array().unwrap().iter().find(|c| c["name"] == "stark-etree").unwrap();
    assert!(etree["leaf_vlan"].is_u64());
}

#[test]
fn generate_makes_a_large_valid_tree_and_channels() {
    let dir = TempDir::new("gen");
    let topo = dir.0.join("big.yaml");
    let chans = dir.0.join("big.channels.yaml");
    let out = run(&[
        "topology",
        "generate",
        "--switches",
        "1200",
        "--sites",
        "3000",
        "--seed",
        "7",
        "-o",
        topo.to_str().unwrap(),
        "--channels",
        "2000",
        "--channels-out",
        chans.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(&["topology", "check", topo.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("switches    1200"));
    let out = run(&["plan", "-t", topo.to_str().unwrap(), "-c", chans.to_str().unwrap(), "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["channels"].as_array().unwrap().len(), 2000);
    // Same seed, same file.
    let again = dir.0.join("again.yaml");
    run(&[
        "topology",
        "generate",
        "--switches",
        "1200",
        "--sites",
        "3000",
        "--seed",
        "7",
        "-o",
        again.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read(&topo).unwrap(), std::fs::read(&again).unwrap());
}

/// `generate` refuses at once what it cannot sensibly make (it once took 7 GB in 10 s for
/// `--switches 100000000000`) and names it makes that `topology check` would refuse.
#[test]
fn generate_refuses_absurd_sizes_and_unusable_names() {
    let out = run(&["topology", "generate", "--switches", "100000000000", "--sites", "1", "-o", "/dev/null"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--switches") && text(&out.stderr).contains("1..=100000"),
        "{}",
        text(&out.stderr)
    );
    let out =
        run(&["topology", "generate", "--switches", "5", "--sites", "10", "--name", "bad name", "-o", "/dev/null"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("not a usable topology name"), "{}", text(&out.stderr));
}

/// `plan ... | head -1`: the reader goes away after one line, and plan stops without an
/// error message, with the status of a program killed by SIGPIPE (141).
#[test]
fn plan_into_a_closed_pipe_stops_quietly() {
    use std::io::Read;
    let dir = TempDir::new("pipe");
    let (topo, chans) = (dir.0.join("t.yaml"), dir.0.join("c.yaml"));
    let (t, c) = (topo.to_str().unwrap(), chans.to_str().unwrap());
    let made = run(&[
        "topology",
        "generate",
        "--switches",
        "200",
        "--sites",
        "800",
        "-o",
        t,
        "--channels",
        "2000",
        "--channels-out",
        c,
    ]);
    assert!(made.status.success(), "{}", text(&made.stderr));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["plan", "-t", t, "-c", c])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 64];
    child.stdout.as_mut().unwrap().read_exact(&mut first).unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(141), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "", "no error message for a reader that went away");
}

/// Runs `args` with the stream `which` (stdout or stderr) read for a few bytes and then
/// closed, as `| head -1` (or `2>&1 | head -1`) does; returns the status and the other
/// stream's text.
fn with_reader_gone(args: &[&str], stderr: bool) -> (Option<i32>, String) {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = bin().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut read: Box<dyn Read> =
        if stderr { Box::new(child.stderr.take().unwrap()) } else { Box::new(child.stdout.take().unwrap()) };
    let mut first = [0u8; 64];
    read.read_exact(&mut first).unwrap();
    drop(read);
    let out = child.wait_with_output().unwrap();
    (out.status.code(), text(if stderr { &out.stdout } else { &out.stderr }))
}

/// Whatever stream's reader goes away, the CLI ends with the status of a program killed by
/// SIGPIPE and no message, never a panic: `topology generate | head -1` (stdout) and
/// `topology check` of a file with thousands of errors `2>&1 | head -1` (stderr).
#[test]
fn a_reader_gone_from_stdout_or_stderr_ends_quietly() {
    let (code, stderr) = with_reader_gone(&["topology", "generate", "--switches", "2000", "--sites", "8000"], false);
    assert_eq!(code, Some(141), "{stderr}");
    assert_eq!(stderr, "", "no message for a reader that went away");

    let dir = TempDir::new("stderr-gone");
    let path = dir.0.join("many.yaml");
    let mut bad = String::from("name: x\nswitches:\n");
    for i in 0..3000 {
        bad.push_str(&format!("  s{i}: {{bogus{i}: 1}}\n"));
    }
    std::fs::write(&path, bad).unwrap();
    let (code, stdout) = with_reader_gone(&["topology", "check", path.to_str().unwrap()], true);
    assert_eq!(code, Some(141), "{stdout}");
}

/// More channels than a small tree has VLANs for: refused before any file is written,
/// saying how many would not fit and what to do, where a file `plan` rejects was written.
#[test]
fn generate_refuses_channels_that_would_not_fit() {
    let dir = TempDir::new("gen-too-many");
    let (topo, chans) = (dir.0.join("t.yaml"), dir.0.join("c.yaml"));
    let (t, c) = (topo.to_str().unwrap(), chans.to_str().unwrap());
    let out = run(&[
        "topology",
        "generate",
        "--switches",
        "10",
        "--sites",
        "20",
        "-o",
        t,
        "--channels",
        "20000",
        "--channels-out",
        c,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let said = text(&out.stderr);
    assert!(said.contains("of the 20000 generated channels would not fit") && said.contains("Ask for fewer"), "{said}");
    assert!(!topo.exists() && !chans.exists(), "nothing written");
}

/// A data directory that is a file: one line, the reason said once.
#[test]
fn a_data_directory_that_is_a_file_is_said_once() {
    let dir = TempDir::new("datafile");
    let file = dir.0.join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    let out = run(&["serve", "--listen", "127.0.0.1:0", "--data-dir", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("cannot create data directory"), "{err}");
    assert_eq!(err.matches("os error").count(), 1, "{err}");
}

/// Any error whose text already ends with its cause's is said with the cause once: a
/// certificate that is not there (`cannot read x: No such file ...`, once).
#[test]
fn a_missing_certificate_is_said_once() {
    let out =
        run(&["serve", "--listen", "127.0.0.1:0", "--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.key"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("cannot read /nonexistent.pem"), "{err}");
    assert_eq!(err.matches("os error").count(), 1, "{err}");
}

#[test]
fn missing_file_is_a_clear_failure() {
    let out = run(&["topology", "check", "/nonexistent/topo.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot read /nonexistent/topo.yaml"), "{}", text(&out.stderr));
}

/// `serve` and `worker` take how orders in doubt are run again; a zero retry is refused,
/// saying what is allowed.
#[test]
fn serve_and_worker_set_how_orders_in_doubt_are_retried() {
    for cmd in ["serve", "worker"] {
        let out = run(&[cmd, "--help"]);
        let help = text(&out.stdout);
        assert!(help.contains("--in-doubt-retry-secs") && help.contains("--in-doubt-for-secs"), "{cmd}: {help}");
    }
    let out = run(&["worker", "--once", "--in-doubt-retry-secs", "0"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("--in-doubt-retry-secs") && err.contains("0 is not in 1..=86400"), "{err}");
}
