//! End to end: the real binary in a pseudo-terminal, driven by keys as a person
//! would, its screen read back with a VT100 parser.

mod common;

use common::{Launch, WAIT, number, table_row};

/// Depth (visible + in flight + delayed) of a queue's row in the queues pane,
/// once its attributes are in.
fn depth(screen: &vt100::Screen, queue: &str) -> Option<u64> {
    let cells = table_row(screen, queue)?;
    // Queue, Type, Visible, In flight, Delayed, ...
    Some(number(cells.get(2))? + number(cells.get(3))? + number(cells.get(4))?)
}

/// The state the breaker pane shows for `name` ("CLOSED", "OPEN", "HALF-OPEN").
fn breaker_state(screen: &vt100::Screen, name: &str) -> Option<String> {
    let contents = screen.contents();
    let prefix = format!("{name} ");
    contents.lines().find_map(|line| {
        // The breaker pane is the right of the lower half; its first line is
        // "<name> <symbol> <STATE> for <duration>".
        line.match_indices(&prefix).find_map(|(at, _)| {
            let mut words = line[at + prefix.len()..].split_whitespace();
            let _symbol = words.next()?;
            let state = words.next()?;
            ["CLOSED", "OPEN", "HALF-OPEN"]
                .contains(&state)
                .then(|| state.to_string())
        })
    })
}

#[test]
fn breaking_payments_opens_the_breaker_and_fills_the_dlq() {
    let mut pty = Launch::new(["--demo", "--speed", "4"]).spawn();

    pty.wait_for("orders and orders-dlq with their figures", WAIT, |s| {
        Some((depth(s, "orders")?, depth(s, "orders-dlq")?))
    });
    pty.wait_for("the payments breaker CLOSED", WAIT, |s| {
        (breaker_state(s, "payments")? == "CLOSED").then_some(())
    });
    // A poison order can land in the DLQ without any fault: measure from here.
    let before = pty.with_screen(|s| depth(s, "orders-dlq")).unwrap_or(0);

    pty.send("f");
    pty.wait_for_text("payments broken", WAIT);
    pty.wait_for("the payments breaker OPEN", WAIT, |s| {
        (breaker_state(s, "payments")? == "OPEN").then_some(())
    });
    let after = pty.wait_for(&format!("orders-dlq deeper than {before}"), WAIT, |s| {
        depth(s, "orders-dlq").filter(|&d| d > before)
    });
    assert!(after > 0);
    let orders = pty
        .with_screen(|s| table_row(s, "orders"))
        .unwrap_or_default();
    assert!(
        orders.iter().any(|c| c == "orders-dlq"),
        "the orders row names its DLQ: {orders:?}"
    );

    pty.send("q");
    let status = pty.wait_exit(WAIT);
    assert_eq!(status.exit_code(), 0, "exit status\n{}", pty.report());
    pty.assert_terminal_restored();
}

#[test]
fn a_broken_config_is_named_with_its_line_and_leaves_the_terminal_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("broken.toml");
    std::fs::write(
        &config,
        "[aws]\nregion = \"eu-west-1\"\nregoin = \"eu-west-2\"\n",
    )
    .expect("write the config");

    // Without a terminal, to read stderr on its own.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lazysqs"))
        .arg("--config")
        .arg(&config)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run lazysqs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains(&format!("{}:3:", config.display())),
        "stderr names the file and line 3: {stderr}"
    );
    assert!(stderr.contains("regoin"), "stderr names the key: {stderr}");
    assert!(
        !out.stdout.windows(2).any(|w| w == b"\x1b["),
        "nothing drawn on stdout: {:?}",
        String::from_utf8_lossy(&out.stdout)
    );

    // In a terminal: the same error, and the terminal as it was.
    let mut pty = Launch::new([std::ffi::OsString::from("--config"), config.into()]).spawn();
    let status = pty.wait_exit(WAIT);
    assert_eq!(status.exit_code(), 2, "exit status\n{}", pty.report());
    let text = pty.text();
    assert!(text.contains(":3:"), "the error is shown:\n{text}");
    let output = pty.output();
    assert!(
        !output.windows(8).any(|w| w == b"\x1b[?1049h"),
        "never entered the alternate screen"
    );
    pty.assert_terminal_restored();
}

/// At 80×24 the queue table drops columns, but never the DLQ's depth or its
/// health flag: press `f`, and the DLQ's row says it is filling.
#[test]
fn at_80x24_the_dlq_row_shows_its_depth_and_a_health_flag() {
    let mut pty = Launch::new(["--demo", "--speed", "8"]).size(24, 80).spawn();
    pty.wait_for_text("orders-dlq", WAIT);
    pty.send("f");
    let row = pty.wait_for("orders-dlq with messages and a flag", WAIT, |s| {
        let cells = table_row(s, "orders-dlq")?;
        let header = s.contents();
        let header = header
            .lines()
            .find(|l| l.contains("Queue") && l.contains("Health"))?;
        let depth = number(cells.get(1))?;
        let flagged = cells.iter().any(|c| c == "dlq");
        (depth > 0 && flagged && header.contains("Visible")).then_some(cells)
    });
    assert!(row.iter().any(|c| c == "✖"), "the flag's symbol: {row:?}");
    pty.send("q");
    assert_eq!(pty.wait_exit(WAIT).exit_code(), 0, "{}", pty.report());
    pty.assert_terminal_restored();
}

/// Breaks payments, waits for orders-dlq to fill, and asks for a redrive of it:
/// the gate refuses, and the refusal's key line is on screen however small.
/// Enter, the key that asked for the plan, does not force it; `y` does.
fn forcing_past_the_open_breaker_takes_y(rows: u16, cols: u16) {
    let mut pty = Launch::new(["--demo", "--speed", "8"])
        .size(rows, cols)
        .spawn();
    pty.wait_for_text("orders-dlq", WAIT);
    pty.send("f");
    pty.wait_for_text("payments broken", WAIT);
    // Pause the story while the breaker is OPEN, so it stays open (a paused
    // simulation's breaker does not go HALF-OPEN).
    loop {
        pty.wait_for("orders-dlq filling and the breaker OPEN", WAIT * 3, |s| {
            let cells = table_row(s, "orders-dlq")?;
            let filled = cells.iter().skip(1).find_map(|c| number(Some(c)))? > 0;
            (filled && breaker_state(s, "payments")? == "OPEN").then_some(())
        });
        pty.send("p");
        pty.wait_for_text("simulation paused", WAIT);
        if pty.with_screen(|s| breaker_state(s, "payments")).as_deref() == Some("OPEN") {
            break;
        }
        pty.send("p");
        pty.wait_for_text("simulation resumed", WAIT);
    }
    pty.send("/orders-dlq");
    pty.send("\r");
    pty.wait_for("the list filtered to orders-dlq", WAIT, |s| {
        (table_row(s, "orders").is_none() && table_row(s, "orders-dlq").is_some()).then_some(())
    });
    pty.send("R");
    pty.wait_for_text("Move the messages of orders-dlq back.", WAIT);
    pty.send("\r");
    pty.wait_for_text("Breaker OPEN: redrive refused", WAIT);
    pty.wait_for_text("y: FORCE it anyway", WAIT);

    // Enter again, as a person does who got here with Enter: nothing starts.
    pty.send("\r");
    pty.wait_for_text("press y to force", WAIT);
    let text = pty.text();
    assert!(
        text.contains("Breaker OPEN: redrive refused") && !text.contains("orders-dlq → own source"),
        "Enter left the refusal open and started nothing\n{}",
        pty.report()
    );
    pty.send("y");
    pty.wait_for_text("orders-dlq → own source", WAIT);

    // A client-side redrive asks before quitting; a move task does not.
    pty.send("q");
    let deadline = std::time::Instant::now() + WAIT;
    while !pty.has_exited() && std::time::Instant::now() < deadline {
        if pty.text().contains("Quit?") {
            pty.send("y");
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(pty.wait_exit(WAIT).exit_code(), 0, "{}", pty.report());
    pty.assert_terminal_restored();
}

#[test]
fn at_120x35_the_refusal_shows_its_force_key_and_only_y_forces() {
    forcing_past_the_open_breaker_takes_y(35, 120);
}

#[test]
fn at_80x24_the_refusal_shows_its_force_key_and_only_y_forces() {
    forcing_past_the_open_breaker_takes_y(24, 80);
}
