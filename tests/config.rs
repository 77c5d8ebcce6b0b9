//! The configuration file: a valid file parses; a broken one gives an error naming
//! the file, the line and the column.

use std::path::{Path, PathBuf};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use lazysqs::config::{BreakerSourceConfig, Config, ConfigError, RefreshConfig, Thresholds};
use lazysqs::keymap::{Action, Keymap};

const PATH: &str = "conf/lazysqs.toml";

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new(PATH))
}

/// Parses `text`, expecting an error at `line` (1-based); returns the column and
/// the message.
fn error_at(text: &str, line: usize) -> (usize, String) {
    let err = parse(text).expect_err("the config is broken");
    let shown = err.to_string();
    match err {
        ConfigError::Parse {
            path,
            line: l,
            column,
            message,
        } => {
            assert_eq!(path, PathBuf::from(PATH));
            assert_eq!(l, line, "line of {message:?} in\n{text}");
            assert!(
                shown.starts_with(&format!("{PATH}:{line}:{column}: ")),
                "{shown}"
            );
            assert!(column >= 1);
            (column, message)
        }
        other => panic!("expected an error with a line and column, got {other:?}"),
    }
}

// ---------------------------------------------------------------- valid files

const FULL: &str = r#"
[aws]
profile = "prod"
region = "eu-west-1"
endpoint_url = "http://127.0.0.1:4566"

[queues]
names = ["orders", "orders-dlq"]
prefixes = ["billing-"]

[refresh]
attributes_secs = 10.0
metrics_secs = 120
breakers_secs = 0.5
discovery_secs = 600.0
max_concurrency = 4

[thresholds]
max_age_secs = 60
growing_samples = 5
retention_margin_secs = 3600
dlq_inflow_per_min = 2.5

[[breaker]]
name = "payments"
queue = "orders"
alarm = "payments-errors"

[[breaker]]
name = "ledger"
http = "http://ledger.internal/health"
timeout_ms = 500

[[breaker]]
name = "orders-consumer"
queue = "orders"
dlq = "orders-dlq"
max_messages = 10
window_minutes = 5

[[breaker]]
name = "demo"
demo = "payments"

[keys]
quit = ["x", "ctrl-q"]
down = ["n", "down"]
help = ["f1"]

[display]
theme = "monochrome"

[demo]
speed = 2.5
scenario = "assets/demo/coffee-shop.toml"
"#;

#[test]
fn a_full_valid_config_parses() {
    let c = parse(FULL).expect("valid");
    assert_eq!(c.aws.profile.as_deref(), Some("prod"));
    assert_eq!(c.aws.region.as_deref(), Some("eu-west-1"));
    assert_eq!(c.aws.endpoint_url.as_deref(), Some("http://127.0.0.1:4566"));
    assert_eq!(c.queues.names, ["orders", "orders-dlq"]);
    assert_eq!(c.queues.prefixes, ["billing-"]);
    assert_eq!(c.refresh.attributes_secs, 10.0);
    assert_eq!(c.refresh.metrics_secs, 120.0, "an integer is accepted");
    assert_eq!(c.refresh.breakers_secs, 0.5);
    assert_eq!(c.refresh.discovery_secs, 600.0);
    assert_eq!(c.refresh.max_concurrency, 4);
    assert_eq!(
        c.thresholds,
        Thresholds {
            max_age_secs: 60,
            growing_samples: 5,
            retention_margin_secs: 3600,
            dlq_inflow_per_min: Some(2.5),
        }
    );
    assert_eq!(c.breakers.len(), 4);
    assert_eq!(c.breakers[0].name, "payments");
    assert_eq!(c.breakers[0].queue.as_deref(), Some("orders"));
    assert_eq!(
        c.breakers[0].source,
        BreakerSourceConfig::Alarm {
            alarm: "payments-errors".into()
        }
    );
    assert_eq!(
        c.breakers[1].source,
        BreakerSourceConfig::Http {
            http: "http://ledger.internal/health".into(),
            timeout_ms: 500,
            ca_file: None
        }
    );
    assert_eq!(c.breakers[1].queue, None);
    assert_eq!(
        c.breakers[2].source,
        BreakerSourceConfig::DlqRule {
            dlq: "orders-dlq".into(),
            max_messages: 10,
            window_minutes: 5
        }
    );
    assert_eq!(
        c.breakers[3].source,
        BreakerSourceConfig::Demo {
            demo: "payments".into()
        }
    );
    assert_eq!(c.display.theme.as_deref(), Some("monochrome"));
    assert_eq!(c.demo.speed, Some(2.5));
    assert_eq!(
        c.demo.scenario.as_deref(),
        Some(Path::new("assets/demo/coffee-shop.toml"))
    );

    let keymap = c.keymap().expect("keymap");
    assert_eq!(keymap.label(Action::Quit), "x/Ctrl-q");
    assert_eq!(keymap.label(Action::Down), "n/↓");
    assert_eq!(keymap.label(Action::Help), "F1");
    assert_eq!(
        keymap.label(Action::Up),
        Keymap::default().label(Action::Up),
        "actions not named keep their defaults"
    );
    let press = |code| KeyEvent::new(code, KeyModifiers::NONE);
    assert_eq!(
        keymap.action(&press(KeyCode::Char('x'))),
        Some(Action::Quit)
    );
    assert_eq!(keymap.action(&press(KeyCode::Char('q'))), None);
    assert_eq!(keymap.action(&press(KeyCode::F(1))), Some(Action::Help));
    assert_eq!(
        keymap.action(&KeyEvent::new(KeyCode::Char('q'), KeyModifiers::CONTROL)),
        Some(Action::Quit)
    );
}

#[test]
fn an_empty_config_gives_the_defaults() {
    let c = parse("").expect("empty is fine");
    let d = RefreshConfig::default();
    assert_eq!(c.refresh.attributes_secs, d.attributes_secs);
    assert_eq!(c.refresh.metrics_secs, d.metrics_secs);
    assert_eq!(c.refresh.max_concurrency, d.max_concurrency);
    assert_eq!(c.thresholds, Thresholds::default());
    assert!(c.breakers.is_empty());
    assert_eq!(c.keymap().expect("keymap"), Keymap::default());
    let c = parse("# only a comment\n\n[refresh]\n").expect("an empty table is fine");
    assert_eq!(c.refresh.metrics_secs, d.metrics_secs);
}

#[test]
fn the_smallest_intervals_are_accepted() {
    parse("[refresh]\nattributes_secs = 0.2\nbreakers_secs = 0.2\n").expect("0.2 s is the floor");
}

#[test]
fn load_reads_a_file_and_names_it_in_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good.toml");
    std::fs::write(&good, "[thresholds]\nmax_age_secs = 42\n").expect("write");
    assert_eq!(
        Config::load(&good).expect("loads").thresholds.max_age_secs,
        42
    );

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[thresholds]\nmax_age_secs = \"soon\"\n").expect("write");
    let err = Config::load(&bad).expect_err("broken").to_string();
    assert!(err.starts_with(&format!("{}:2:", bad.display())), "{err}");

    let missing = dir.path().join("missing.toml");
    let err = Config::load(&missing).expect_err("missing").to_string();
    assert!(err.contains("missing.toml"), "{err}");
    assert!(err.contains("cannot read"), "{err}");
}

// ---------------------------------------------------------------- broken files

#[test]
fn an_unknown_field_is_an_error_with_its_line_and_column() {
    let (column, message) = error_at("[refresh]\nattributes_secs = 5.0\n  atributes = 5\n", 3);
    assert_eq!(column, 3);
    assert!(message.contains("unknown field `atributes`"), "{message}");
    assert!(
        message.contains("attributes_secs"),
        "lists the valid fields: {message}"
    );

    let (column, message) = error_at("colour = \"red\"\n", 1);
    assert_eq!(column, 1);
    assert!(message.contains("unknown field `colour`"), "{message}");

    let (_, message) = error_at("[refresh]\n[mystery]\nx = 1\n", 2);
    assert!(message.contains("mystery"), "{message}");
}

#[test]
fn a_wrong_type_is_an_error_with_its_line_and_column() {
    let (column, message) = error_at("[thresholds]\nmax_age_secs = \"five\"\n", 2);
    assert_eq!(column, 16, "points at the value");
    assert!(message.contains("string"), "{message}");

    let (_, message) = error_at("[queues]\nnames = \"orders\"\n", 2);
    assert!(
        message.contains("sequence") || message.contains("array"),
        "{message}"
    );

    error_at("\n\n[thresholds]\ngrowing_samples = -3\n", 4);
    error_at("[refresh]\nmax_concurrency = 2.5\n", 2);
}

#[test]
fn a_toml_syntax_error_has_a_line_and_column() {
    let (_, message) = error_at("[refresh]\nattributes_secs = \n", 2);
    assert!(!message.is_empty());
    error_at("[keys\nquit = [\"x\"]\n", 1);
}

#[test]
fn a_bad_key_name_is_an_error_with_its_line_and_column() {
    let (column, message) = error_at("[keys]\nup = [\"k\"]\nquit = [\"q\", \"banana\"]\n", 3);
    assert_eq!(column, 8, "points at the list of keys");
    assert!(message.contains("banana"), "{message}");

    let (_, message) = error_at("[keys]\nquit = [\"ctrl-\"]\n", 2);
    assert!(message.contains("ctrl-"), "{message}");
    error_at("[keys]\nhelp = [\"f99x\"]\n", 2);
}

#[test]
fn an_unknown_action_is_an_error_with_its_line_and_column() {
    let (column, message) = error_at("[keys]\nquit = [\"q\"]\nfly = [\"w\"]\n", 3);
    assert_eq!(column, 1);
    assert!(message.contains("fly"), "{message}");
    assert!(message.contains("quit"), "lists the actions: {message}");
}

#[test]
fn a_breaker_with_two_sources_is_an_error_with_its_line() {
    let text = "\
[[breaker]]
name = \"ok\"
alarm = \"a\"

[[breaker]]
name = \"payments\"
alarm = \"payments-errors\"
http = \"http://payments/health\"
";
    let err = parse(text).expect_err("two sources");
    let ConfigError::Parse {
        line,
        column,
        message,
        ..
    } = &err
    else {
        panic!("expected a located error, got {err:?}");
    };
    assert_eq!(
        (*line, *column),
        (5, 1),
        "points at the second breaker: {err}"
    );
    assert!(message.contains("payments"), "{message}");
    assert!(message.contains("exactly one source"), "{message}");
}

#[test]
fn a_breaker_with_no_source_is_an_error_with_its_line() {
    let (_, message) = error_at("[[breaker]]\nname = \"lonely\"\n", 1);
    assert!(message.contains("exactly one source"), "{message}");
}

#[test]
fn bad_intervals_are_errors_with_their_line_and_column() {
    for (field, value, range) in [
        ("attributes_secs", "0.0", "0.2 to 3600 seconds"),
        ("metrics_secs", "-60.0", "1 to 3600 seconds"),
        ("breakers_secs", "0.1", "0.2 to 3600 seconds"),
        ("discovery_secs", "nan", "1 to 86400 seconds"),
        ("attributes_secs", "inf", "0.2 to 3600 seconds"),
        // Once passed validation, then panicked the dashboard at start.
        ("attributes_secs", "1e20", "0.2 to 3600 seconds"),
    ] {
        let text = format!("[refresh]\nmax_concurrency = 2\n{field} = {value}\n");
        let (column, message) = error_at(&text, 3);
        assert_eq!(column, field.len() + 4, "points at the value of {field}");
        assert!(
            message.contains(&format!("refresh.{field} must be {range}")),
            "{field} = {value}: {message}"
        );
    }
}

#[test]
fn other_out_of_range_numbers_are_errors_with_their_line() {
    for (text, line, expected) in [
        (
            "[refresh]\nmax_concurrency = 0\n",
            2,
            "refresh.max_concurrency must be 1 to 256",
        ),
        (
            "[refresh]\nmax_concurrency = 100000\n",
            2,
            "refresh.max_concurrency must be 1 to 256",
        ),
        (
            "[refresh]\nmax_requests_per_second = 0\n",
            2,
            "refresh.max_requests_per_second must be 0.5 to 10000 requests a second, not 0",
        ),
        (
            "[thresholds]\ngrowing_samples = 0\n",
            2,
            "thresholds.growing_samples must be 1 to 1000",
        ),
        (
            "[thresholds]\nmax_age_secs = 0\n",
            2,
            "thresholds.max_age_secs must be 1 to 1209600",
        ),
        ("[browser]\ncap = 0\n", 2, "browser.cap must be 1 to 10000"),
        (
            "[redrive]\nrate = 0\n",
            2,
            "redrive.rate must be 1 to 10000",
        ),
        (
            "[redrive]\nauto_rate = 20000\n",
            2,
            "redrive.auto_rate must be 1 to 10000",
        ),
        ("[demo]\n\nspeed = 0.0\n", 3, "above 0"),
        ("[demo]\n\nspeed = 1e9\n", 3, "at most 1000"),
        (
            "[[breaker]]\nname = \"x\"\nhttp = \"http://h/\"\ntimeout_ms = 0\n",
            1,
            "breaker x: timeout_ms must be 100 to 60000",
        ),
        (
            "[[breaker]]\nname = \"y\"\ndlq = \"d\"\nwindow_minutes = 0\n",
            1,
            "breaker y: window_minutes must be 1 to 1440",
        ),
        (
            "[[breaker]]\nname = \"z\"\nhttp = \"ftp://h/\"\n",
            1,
            "breaker z: http must be an http:// or https:// URL",
        ),
    ] {
        let (_, message) = error_at(text, line);
        assert!(message.contains(expected), "{text}: {message}");
    }
}

// ---------------------------------------------------------------- config.example.toml

fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml")
}

#[test]
fn config_example_parses() {
    let path = example_path();
    let text = std::fs::read_to_string(&path).expect("config.example.toml at the repo root");
    let c = Config::parse(&text, &path).unwrap_or_else(|e| panic!("{e}"));
    // It documents the defaults.
    let d = RefreshConfig::default();
    assert_eq!(c.refresh.attributes_secs, d.attributes_secs);
    assert_eq!(c.refresh.metrics_secs, d.metrics_secs);
    assert_eq!(c.refresh.breakers_secs, d.breakers_secs);
    assert_eq!(c.refresh.discovery_secs, d.discovery_secs);
    assert_eq!(c.refresh.max_concurrency, d.max_concurrency);
    assert_eq!(c.thresholds, Thresholds::default());
}

/// The commented-out lines of a `[section]` of the example, uncommented.
fn commented(text: &str, section: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with('[') {
            inside = line.trim() == section;
            continue;
        }
        if inside
            && let Some(rest) = line.strip_prefix("# ")
            && rest.contains(" = ")
        {
            out.push_str(rest);
            out.push('\n');
        }
    }
    out
}

#[test]
fn config_example_documents_the_default_keys() {
    let text = std::fs::read_to_string(example_path()).expect("config.example.toml");
    let keys = commented(&text, "[keys]");
    assert!(!keys.is_empty(), "the [keys] section lists the bindings");
    let c = parse(&format!("[keys]\n{keys}")).unwrap_or_else(|e| panic!("{e}\n{keys}"));
    let defaults = Keymap::default();
    // Every action is documented, in the config example and the README.
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let names: Vec<&str> = readme
        .split("The names to rebind in `[keys]`")
        .nth(1)
        .and_then(|rest| rest.split("    [keys]").next())
        .expect("the README lists the action names")
        .lines()
        .filter(|l| l.starts_with("    "))
        .flat_map(str::split_whitespace)
        .collect();
    for &action in Action::ALL {
        assert!(
            c.keys.contains_key(&action),
            "config.example.toml documents keys.{action}"
        );
        assert!(
            names.contains(&action.to_string().as_str()),
            "the README names the action {action}: {names:?}"
        );
    }
    for action in c.keys.keys() {
        assert_eq!(
            c.keymap().expect("keymap").label(*action),
            defaults.label(*action),
            "config.example.toml documents {action} with its default keys"
        );
    }
}

#[test]
fn config_example_commented_options_parse() {
    let text = std::fs::read_to_string(example_path()).expect("config.example.toml");
    for section in ["[aws]", "[display]", "[demo]"] {
        let body = commented(&text, section);
        parse(&format!("{section}\n{body}"))
            .unwrap_or_else(|e| panic!("{section} as documented:\n{body}\n{e}"));
    }
}

#[test]
fn an_unknown_field_in_a_later_breaker_points_at_it() {
    let text = "\
[[breaker]]
name = \"ok\"
alarm = \"a\"

[[breaker]]
name = \"payments\"
alarm = \"payments-errors\"
treshold = 3
";
    let (column, message) = error_at(text, 8);
    assert_eq!(column, 1);
    assert!(message.contains("unknown field `treshold`"), "{message}");
}

#[test]
fn a_breaker_needs_a_name() {
    let (_, message) = error_at("[[breaker]]\nalarm = \"a\"\n", 1);
    assert!(message.contains("name"), "{message}");
    let (_, message) = error_at("\n[[breaker]]\nname = \" \"\nalarm = \"a\"\n", 2);
    assert!(message.contains("needs a name"), "{message}");
}

// ---------------------------------------------------------------- regions and profiles

#[test]
fn several_regions_and_profiles_parse_and_a_bad_region_names_its_line() {
    let c = parse(
        "[aws]\nprofiles = [\"prod\", \"staging\"]\nregions = [\"us-east-1\", \"eu-west-1\"]\n",
    )
    .expect("valid");
    assert_eq!(c.aws.profiles, ["prod", "staging"]);
    assert_eq!(c.aws.regions, ["us-east-1", "eu-west-1"]);

    let (_, message) = error_at("[aws]\nregions = [\"us-east-1\", \"EU West\"]\n", 2);
    assert!(
        message.contains("\"EU West\" is not a region name"),
        "{message}"
    );
    let (_, message) = error_at("[aws]\n\nregion = \"\"\n", 3);
    assert!(message.contains("aws.region"), "{message}");
}

#[test]
fn others_secs_is_read_and_range_checked() {
    let c = parse("[refresh]\nothers_secs = 60\n").expect("valid");
    assert_eq!(c.refresh.others_secs, 60.0);
    assert_eq!(parse("").expect("empty").refresh.others_secs, 30.0);
    let (_, message) = error_at("[refresh]\nothers_secs = 0.5\n", 2);
    assert!(
        message.contains("refresh.others_secs must be 1 to 86400"),
        "{message}"
    );
}

#[test]
fn a_declared_dlq_is_read_and_checked_with_its_line() {
    let c = parse(
        "[[dlq]]\nqueue = \"signups-dlq\"\nsource = \"signups\"\n\n[[dlq]]\nqueue = \"mail-dlq\"\nsource = \"mail\"\n",
    )
    .expect("two declared DLQs");
    assert_eq!(c.dlqs.len(), 2);
    assert_eq!(c.dlqs[0].queue, "signups-dlq");
    assert_eq!(c.dlqs[0].source, "signups");
    assert_eq!(c.dlqs[1].source, "mail");

    let ok = "[[dlq]]\nqueue = \"a-dlq\"\nsource = \"a\"\n\n";
    let (_, message) = error_at(
        &format!("{ok}[[dlq]]\nqueue = \"b-dlq\"\nsource = \"b\"\nmax_receive = 3\n"),
        8,
    );
    assert!(message.contains("max_receive"), "{message}");
    let (_, message) = error_at(&format!("{ok}[[dlq]]\nqueue = \"\"\nsource = \"b\"\n"), 5);
    assert!(message.contains("dlq.queue"), "{message}");
    let (_, message) = error_at(
        &format!("{ok}[[dlq]]\nqueue = \"b-dlq\"\nsource = \" \"\n"),
        5,
    );
    assert!(message.contains("dlq.source"), "{message}");
    let (_, message) = error_at(&format!("{ok}[[dlq]]\nqueue = \"b-dlq\"\n"), 5);
    assert!(message.contains("source"), "{message}");
    let (_, message) = error_at("[[dlq]]\nqueue = \"same\"\nsource = \"same\"\n", 1);
    assert!(message.contains("itself"), "{message}");
}
