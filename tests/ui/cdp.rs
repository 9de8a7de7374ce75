//! Headless Chromium for the browser tests: one-shot `--dump-dom` / `--screenshot` runs, and a
//! minimal DevTools-protocol client (a hand-written WebSocket client: text frames, masked as a
//! client must, over a plain TCP connection to 127.0.0.1) for a page that stays open.
//!
//! Without a `chromium` binary the browser tests are skipped with a note, unless `CI` is set,
//! where they fail (`.ci/run` installs Debian's `chromium`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// The Chromium binary, or `None` (skip) outside CI when there is none.
pub fn chromium() -> Option<PathBuf> {
    for name in ["chromium", "chromium-browser"] {
        for dir in std::env::var("PATH").unwrap_or_default().split(':') {
            let p = Path::new(dir).join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    if std::env::var_os("CI").is_some() {
        panic!("chromium is not installed: the browser tests need it in CI (.ci/run installs Debian's chromium)");
    }
    eprintln!("note: chromium not found; skipping the browser test (apt-get install chromium to run it)");
    None
}

/// Where screenshots go: `target/ui-screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

fn profile_dir(tag: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("chromium-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("profile dir");
    dir
}

fn base_args(profile: &Path) -> Vec<String> {
    vec![
        "--headless".into(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--no-first-run".into(),
        "--disable-extensions".into(),
        "--disable-background-networking".into(),
        format!("--user-data-dir={}", profile.display()),
    ]
}

/// The DOM of `url` once loaded (not waiting on the page's open event stream).
pub async fn dump_dom(chromium: &Path, url: &str) -> String {
    let profile = profile_dir("dom");
    let out = Command::new(chromium)
        .args(base_args(&profile))
        .args(["--dump-dom", url])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(90), out).await.expect("chromium --dump-dom timed out");
    let out = out.expect("running chromium");
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Writes a screenshot of `url` (1400 x `height`) to `target/ui-screenshots/<name>.png`.
pub async fn screenshot(chromium: &Path, url: &str, name: &str, height: u32) -> PathBuf {
    let profile = profile_dir(name);
    let path = screenshot_dir().join(format!("{name}.png"));
    let _ = std::fs::remove_file(&path);
    let out = Command::new(chromium)
        .args(base_args(&profile))
        .arg("--hide-scrollbars")
        .arg(format!("--window-size=1400,{height}"))
        .arg(format!("--screenshot={}", path.display()))
        .arg(url)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(90), out).await.expect("chromium --screenshot timed out");
    let out = out.expect("running chromium");
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    assert!(len > 1000, "no screenshot written at {}", path.display());
    path
}

/// A Chromium kept open, driven over the DevTools protocol.
pub struct Browser {
    _child: Child,
    ws: TcpStream,
    next_id: u64,
}

impl Browser {
    /// Starts Chromium on a free DevTools port and attaches to its page.
    pub async fn launch(chromium: &Path) -> Browser {
        let profile = profile_dir("cdp");
        let mut child = Command::new(chromium)
            .args(base_args(&profile))
            .args(["--remote-debugging-port=0", "--window-size=1400,1000", "about:blank"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("starting chromium");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let browser_ws = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(at) = line.find("ws://") {
                    return line[at..].trim().to_string();
                }
            }
            panic!("chromium exited without a DevTools address");
        })
        .await
        .expect("chromium did not print its DevTools address");
        // Keep draining stderr so Chromium never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let host = browser_ws.trim_start_matches("ws://").split('/').next().expect("host").to_string();
        let targets: Value =
            reqwest::get(format!("http://{host}/json/list")).await.expect("targets").json().await.expect("json");
        let page_ws = targets
            .as_array()
            .and_then(|t| t.iter().find(|t| t["type"] == "page"))
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .unwrap_or_else(|| panic!("no page target: {targets}"))
            .to_string();
        let ws = handshake(&page_ws).await;
        Browser { _child: child, ws, next_id: 0 }
    }

    /// Calls a DevTools method and returns its result (events in between are skipped).
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({"id": id, "method": method, "params": params}).to_string();
        send_text(&mut self.ws, msg.as_bytes()).await;
        loop {
            let text = tokio::time::timeout(Duration::from_secs(60), recv_text(&mut self.ws))
                .await
                .unwrap_or_else(|_| panic!("no answer to {method}"));
            let v: Value = serde_json::from_str(&text).expect("DevTools JSON");
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method} failed: {v}");
                return v["result"].clone();
            }
        }
    }

    /// Evaluates a JavaScript expression in the page and returns its value.
    pub async fn eval(&mut self, expr: &str) -> Value {
        let r = self.call("Runtime.evaluate", json!({"expression": expr, "returnByValue": true})).await;
        r["result"]["value"].clone()
    }

    /// Evaluates `expr` until it returns `want` (panics after `within`).
    pub async fn wait_for(&mut self, expr: &str, want: &Value, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let got = self.eval(expr).await;
            if &got == want {
                return;
            }
            assert!(Instant::now() < deadline, "`{expr}` is {got}, never {want}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn handshake(url: &str) -> TcpStream {
    let rest = url.trim_start_matches("ws://");
    let (host, path) = rest.split_at(rest.find('/').expect("a path"));
    let mut s = TcpStream::connect(host).await.expect("DevTools connection");
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.expect("handshake");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).await.expect("handshake answer");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "WebSocket upgrade refused: {head}");
    s
}

async fn send_text(s: &mut TcpStream, payload: &[u8]) {
    let mask = [0x5a, 0x13, 0xc7, 0x2e];
    let mut frame = vec![0x81u8];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n if n < 65536 => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    s.write_all(&frame).await.expect("send frame");
}

/// The next text message (fragments joined; pings and other control frames skipped).
async fn recv_text(s: &mut TcpStream) -> String {
    let mut message = Vec::new();
    loop {
        let mut h = [0u8; 2];
        s.read_exact(&mut h).await.expect("frame header");
        let (fin, opcode) = (h[0] & 0x80 != 0, h[0] & 0x0f);
        let mut len = u64::from(h[1] & 0x7f);
        if len == 126 {
            let mut b = [0u8; 2];
            s.read_exact(&mut b).await.expect("length");
            len = u64::from(u16::from_be_bytes(b));
        } else if len == 127 {
            let mut b = [0u8; 8];
            s.read_exact(&mut b).await.expect("length");
            len = u64::from_be_bytes(b);
        }
        let mut mask = [0u8; 4];
        if h[1] & 0x80 != 0 {
            s.read_exact(&mut mask).await.expect("mask");
        }
        let mut payload = vec![0u8; len as usize];
        s.read_exact(&mut payload).await.expect("payload");
        if h[1] & 0x80 != 0 {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= mask[i % 4];
            }
        }
        match opcode {
            0x8 => panic!("DevTools closed the connection"),
            0x9 | 0xA => continue,
            _ => message.extend_from_slice(&payload),
        }
        if fin {
            return String::from_utf8_lossy(&message).into_owned();
        }
    }
}
