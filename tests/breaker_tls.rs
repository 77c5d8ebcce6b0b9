//! HTTP health-check breakers over https: the platform's roots, `SSL_CERT_FILE`
//! (as curl and the AWS CLI honour it) and a per-breaker `ca_file`, against a
//! local https server with a certificate made for the test. A failed check says
//! what failed, and a token in the URL is never shown.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use lazysqs::breaker::{self, BreakerState};
use lazysqs::config::{BreakerConfig, BreakerSourceConfig};
use lazysqs::sim::SimBroker;

const SERVER: &str = r#"
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

struct Server {
    child: Child,
    port: u16,
    cert: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn openssl(args: &[&str], dir: &Path) {
    let ok = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(ok.success(), "openssl {args:?} failed");
}

/// A test CA, and a certificate for 127.0.0.1 it signed (openssl), served by
/// Python's https server. `cert` is the CA to trust.
fn server() -> Server {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    std::fs::write(
        d.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=lazysqs test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
        d,
    );
    openssl(
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "key.pem",
            "-out",
            "leaf.csr",
        ],
        d,
    );
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "ext.cnf",
            "-out",
            "leaf.pem",
        ],
        d,
    );
    let (cert, key) = (d.join("ca.pem"), d.join("key.pem"));
    let leaf = d.join("leaf.pem");
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(SERVER)
        .arg(&leaf)
        .arg(&key)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("port");
    let port = line.trim().parse().expect("a port");
    Server {
        child,
        port,
        cert,
        _dir: dir,
    }
}

fn breaker(url: &str, ca_file: Option<&Path>) -> BreakerConfig {
    BreakerConfig {
        name: "ledger".into(),
        queue: None,
        source: BreakerSourceConfig::Http {
            http: url.into(),
            timeout_ms: 3000,
            ca_file: ca_file.map(Path::to_path_buf),
        },
    }
}

#[tokio::test]
async fn an_https_health_check_trusts_its_ca_file_and_says_tls_when_it_cannot() {
    let s = server();
    let url = format!("https://127.0.0.1:{}/health", s.port);
    let sim = SimBroker::coffee_shop().expect("sim");

    let ok = breaker::read(&sim, None, &breaker(&url, Some(&s.cert)))
        .await
        .expect("read");
    assert_eq!(
        (ok.state, ok.detail.as_str()),
        (BreakerState::Closed, "HTTP 200")
    );

    let untrusted = breaker::read(&sim, None, &breaker(&url, None))
        .await
        .expect("read");
    assert_eq!(untrusted.state, BreakerState::Open);
    assert!(untrusted.detail.starts_with("TLS:"), "{}", untrusted.detail);

    let missing = Path::new("/nonexistent/ca.pem");
    let bad = breaker::read(&sim, None, &breaker(&url, Some(missing)))
        .await
        .expect("read");
    assert_eq!(bad.state, BreakerState::Open);
    assert!(
        bad.detail
            .contains("cannot read ca_file /nonexistent/ca.pem"),
        "{}",
        bad.detail
    );

    let refused = breaker::read(&sim, None, &breaker("https://127.0.0.1:9/health", None))
        .await
        .expect("read");
    assert!(refused.detail.starts_with("refused:"), "{}", refused.detail);
}

#[test]
fn ssl_cert_file_is_honoured_and_a_token_in_the_url_is_never_shown() {
    let s = server();
    let home = tempfile::tempdir().expect("home");
    let config = home.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[[breaker]]\nname = \"ledger\"\nhttp = \"https://127.0.0.1:{}/health?token=s3cr3t-t0k3n\"\n",
            s.port
        ),
    )
    .expect("config");
    let run = |cert: Option<&Path>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lazysqs"));
        cmd.arg("--config")
            .arg(&config)
            .args(["--demo", "snapshot", "--json", "--no-metrics"])
            .env("HOME", home.path())
            .env_remove("SSL_CERT_FILE");
        if let Some(c) = cert {
            cmd.env("SSL_CERT_FILE", c);
        }
        let out = cmd.output().expect("run");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(!text.contains("s3cr3t-t0k3n"), "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        let b = v["breakers"]
            .as_array()
            .and_then(|bs| bs.iter().find(|b| b["name"] == "ledger").cloned())
            .expect("the ledger breaker");
        (
            b["state"].as_str().unwrap_or_default().to_string(),
            b.to_string(),
        )
    };
    let (state, b) = run(Some(&s.cert));
    assert_eq!(state, "CLOSED", "{b}");
    let (state, b) = run(None);
    assert_eq!(state, "OPEN", "{b}");
    assert!(b.contains("TLS"), "{b}");
}
