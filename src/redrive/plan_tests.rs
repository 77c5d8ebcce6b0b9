//! Tests of the mode choice in [`super`].

use super::*;

fn facts() -> ModeFacts {
    ModeFacts {
        preference: ModePreference::Auto,
        filtered: false,
        max: None,
        rate: Some(50),
        source_is_dlq: true,
        chosen_destination: None,
        support: TaskSupport::Yes,
        running_task: false,
        fifo: false,
    }
}

#[test]
fn a_move_task_by_default_where_it_can_serve() {
    assert_eq!(choose_mode(&facts()).map(|m| m.0), Ok(Mode::MoveTask));
    let to_queue = ModeFacts {
        chosen_destination: Some(Ok(())),
        ..facts()
    };
    assert_eq!(choose_mode(&to_queue).map(|m| m.0), Ok(Mode::MoveTask));
}

#[test]
fn client_side_where_a_move_task_cannot_serve() {
    let cases = [
        (
            ModeFacts {
                filtered: true,
                ..facts()
            },
            "filter",
        ),
        (
            ModeFacts {
                max: Some(10),
                ..facts()
            },
            "after N",
        ),
        (
            ModeFacts {
                rate: Some(800),
                ..facts()
            },
            "at most 500",
        ),
        (
            ModeFacts {
                source_is_dlq: false,
                ..facts()
            },
            "dead-letter queue",
        ),
        (
            ModeFacts {
                chosen_destination: Some(Err("same account".into())),
                ..facts()
            },
            "same account",
        ),
        (
            ModeFacts {
                support: TaskSupport::No("not supported".into()),
                ..facts()
            },
            "no move tasks",
        ),
    ];
    for (f, why) in cases {
        let (mode, reason) = choose_mode(&f).expect("a mode");
        assert_eq!(mode, Mode::ClientSide, "{f:?}");
        assert!(reason.contains(why), "{reason} should say {why}");
        let forced = ModeFacts {
            preference: ModePreference::MoveTask,
            ..f
        };
        let err = choose_mode(&forced).expect_err("a move task cannot serve");
        assert!(err.contains(why), "{err}");
    }
}

#[test]
fn a_fifo_dlq_moves_client_side_unless_a_move_task_is_asked_for() {
    let fifo = ModeFacts {
        fifo: true,
        ..facts()
    };
    let (mode, why) = choose_mode(&fifo).expect("a mode");
    assert_eq!(mode, Mode::ClientSide);
    assert!(why.contains("fresh deduplication ids"), "{why}");
    let asked = ModeFacts {
        preference: ModePreference::MoveTask,
        ..fifo
    };
    assert_eq!(choose_mode(&asked).map(|m| m.0), Ok(Mode::MoveTask));
}

#[test]
fn client_side_when_asked_and_one_task_at_a_time() {
    let asked = ModeFacts {
        preference: ModePreference::ClientSide,
        ..facts()
    };
    assert_eq!(choose_mode(&asked).map(|m| m.0), Ok(Mode::ClientSide));
    let running = ModeFacts {
        running_task: true,
        ..facts()
    };
    assert!(
        choose_mode(&running)
            .expect_err("busy")
            .contains("already running")
    );
    let running_client = ModeFacts {
        preference: ModePreference::ClientSide,
        running_task: true,
        ..facts()
    };
    assert_eq!(
        choose_mode(&running_client).map(|m| m.0),
        Ok(Mode::ClientSide)
    );
}
