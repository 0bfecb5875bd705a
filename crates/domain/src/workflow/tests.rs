//! Workflow engine tests (R-WO-02/03/08): the standard set is sound, the checker finds
//! unsound workflows, and no sequence of actions leaves an order in an undefined state.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

fn all(_: &str) -> bool {
    true
}

fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn repair() -> Workflow {
    standard_types().into_iter().find(|t| t.code == "repair").unwrap().workflow
}

// R-WO-02: every shipped type is sound, and each is reachable end to end.
#[test]
fn standard_types_are_sound() {
    let types = standard_types();
    assert_eq!(types.len(), 12);
    for t in &types {
        assert_eq!(t.workflow.check(), vec![], "{} is unsound", t.code);
        assert!(t.workflow.reachable().contains(&State::Concluded), "{}", t.code);
    }
    let codes: BTreeSet<_> = types.iter().map(|t| t.code).collect();
    assert_eq!(codes.len(), types.len(), "type codes are unique");
}

// R-WO-03: the full closed loop of a repair, with who needs which permission and field.
#[test]
fn repair_closed_loop() {
    let w = repair();
    let mut state = State::Registered;
    let mut susp = None;
    let loop_ = [
        (Action::Accept, vec![], State::Accepted),
        (Action::Dispatch, vec![], State::Dispatched),
        (Action::Acknowledge, vec![], State::Acknowledged),
        (Action::Start, vec![], State::InProgress),
        (Action::Suspend, vec![("note", "等待配件")], State::Suspended),
        (Action::Resume, vec![], State::InProgress),
        (Action::Complete, vec![("cause", "pipe_burst"), ("solution", "replace_pipe")], State::Resolved),
        (Action::SendBack, vec![("note", "现场未恢复")], State::InProgress),
        (Action::Complete, vec![("cause", "pipe_burst"), ("solution", "replace_pipe")], State::Resolved),
        (Action::Verify, vec![], State::Verified),
        (Action::Urge, vec![], State::Verified),
        (Action::Visit, vec![("satisfaction", "satisfied")], State::Concluded),
    ];
    for (action, f, expected) in loop_ {
        let m = w.next(state, susp, action, all, &fields(&f)).unwrap_or_else(|e| panic!("{action:?}: {e}"));
        assert_eq!(m.to, expected, "{action:?}");
        state = m.to;
        susp = m.suspended_from;
    }
    for a in Action::ALL {
        assert!(w.next(state, susp, a, all, &fields(&[])).is_err(), "{a:?} leaves concluded");
    }
}

#[test]
fn refusals_are_precise() {
    let w = repair();
    let none = fields(&[]);
    assert_eq!(
        w.next(State::Registered, None, Action::Complete, all, &none),
        Err(Refusal::NotAllowed { action: "complete", state: "registered" })
    );
    let worker = |p: &str| p == perm::ORDER_HANDLE || p == perm::ORDER_READ;
    assert_eq!(
        w.next(State::Accepted, None, Action::Dispatch, worker, &none),
        Err(Refusal::Forbidden { action: "dispatch", permission: perm::ORDER_DISPATCH.into() })
    );
    assert_eq!(
        w.next(State::InProgress, None, Action::Complete, worker, &fields(&[("cause", "x"), ("solution", "  ")])),
        Err(Refusal::MissingField { action: "complete", field: "solution".into() })
    );
    assert_eq!(w.next(State::Suspended, None, Action::Resume, all, &none), Err(Refusal::NoResumeState));
}

// R-WO-08: a meter replacement waits for approval; denial ends it.
#[test]
fn meter_replacement_needs_approval_and_readings() {
    let w = standard_types().into_iter().find(|t| t.code == "meter_replace").unwrap().workflow;
    let m = w.next(State::Registered, None, Action::Accept, all, &fields(&[])).unwrap();
    assert_eq!(m.to, State::PendingApproval);
    assert!(w.next(State::PendingApproval, None, Action::Dispatch, all, &fields(&[])).is_err());
    let approver = |p: &str| p == perm::ORDER_APPROVE;
    assert_eq!(
        w.next(State::PendingApproval, None, Action::Approve, approver, &fields(&[])).unwrap().to,
        State::Accepted
    );
    assert_eq!(
        w.next(State::PendingApproval, None, Action::Deny, approver, &fields(&[("note", "表况正常")])).unwrap().to,
        State::Rejected
    );
    let r = w.next(State::InProgress, None, Action::Complete, all, &fields(&[("old_reading", "1203")]));
    assert_eq!(r, Err(Refusal::MissingField { action: "complete", field: "new_reading".into() }));
}

#[test]
fn consultation_is_concluded_by_the_agent() {
    let w = standard_types().into_iter().find(|t| t.code == "consultation").unwrap().workflow;
    let m = w.next(State::Registered, None, Action::Conclude, all, &fields(&[("reply", "已告知缴费方式")])).unwrap();
    assert_eq!(m.to, State::Concluded);
    assert!(w.next(State::Registered, None, Action::Dispatch, all, &fields(&[])).is_err());
}

#[test]
fn checker_finds_unsound_workflows() {
    use Action as A;
    use State as S;
    let s = |a, from: &[State], to, p: &str| step(a, from, to, p, &[]);
    // Dead end: dispatched leads nowhere.
    let w = Workflow {
        steps: vec![
            s(A::Accept, &[S::Registered], S::Accepted, perm::ORDER_ACCEPT),
            s(A::Dispatch, &[S::Accepted], S::Dispatched, perm::ORDER_DISPATCH),
            s(A::Conclude, &[S::Accepted], S::Concluded, perm::ORDER_VERIFY),
        ],
        return_visit: false,
        customer_reply: false,
    };
    assert_eq!(w.check(), vec![Problem::DeadEnd { state: "dispatched" }]);
    // Unreachable state, terminal exits, ambiguity, unknown permission, bad fields, no visit.
    let w = Workflow {
        steps: vec![
            s(A::Accept, &[S::Registered], S::Accepted, perm::ORDER_ACCEPT),
            s(A::Accept, &[S::Registered], S::Rejected, perm::ORDER_ACCEPT),
            s(A::Conclude, &[S::Accepted], S::Concluded, "order.fly"),
            s(A::Start, &[S::Acknowledged], S::InProgress, perm::ORDER_HANDLE),
            s(A::Resume, &[S::Concluded], S::Registered, perm::ORDER_DISPATCH),
            step(A::Complete, &[S::InProgress], S::Resolved, perm::ORDER_HANDLE, &["a", "a"]),
            s(A::Dispatch, &[S::Accepted], S::Suspended, perm::ORDER_DISPATCH),
        ],
        return_visit: true,
        customer_reply: false,
    };
    let p = w.check();
    for expected in [
        Problem::Ambiguous { action: "accept", state: "registered" },
        Problem::UnknownPermission { step: 2, action: "conclude", permission: "order.fly".into() },
        Problem::Unreachable { state: "acknowledged" },
        Problem::LeavesTerminal { step: 4, action: "resume", state: "concluded" },
        Problem::BadSpecial { step: 4, action: "resume", rule: "start from `suspended` only" },
        Problem::BadField { step: 5, action: "complete" },
        Problem::BadSpecial { step: 6, action: "dispatch", rule: "not lead to `suspended` (only `suspend` does)" },
        Problem::NoVisit,
    ] {
        assert!(p.contains(&expected), "{expected:?} not found in {p:?}");
    }
    let empty = Workflow { steps: vec![], return_visit: false, customer_reply: false };
    assert!(empty.check().contains(&Problem::NoStart) && empty.check().contains(&Problem::NeverConcludes));
}

// Workflows are stored as JSON (the admin edits them): they read back identical.
#[test]
fn workflows_round_trip_as_json() {
    for t in standard_types() {
        let json = serde_json::to_string(&t.workflow).unwrap();
        assert!(json.contains("\"action\":\"accept\""), "{json}");
        let back: Workflow = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t.workflow);
    }
    let bad = r#"{"steps":[{"action":"fly","from":["registered"],"to":"concluded","permission":"order.accept"}]}"#;
    assert!(serde_json::from_str::<Workflow>(bad).is_err(), "unknown actions are refused");
    assert_eq!(State::parse("in_progress"), Some(State::InProgress));
    assert_eq!(Action::parse("send_back"), Some(Action::SendBack));
    assert_eq!(State::parse("flying"), None);
    assert!(State::ALL.iter().all(|s| State::parse(s.code()) == Some(*s)));
    assert!(Action::ALL.iter().all(|a| Action::parse(a.code()) == Some(*a)));
}

#[test]
fn priority_matrix() {
    use Level::*;
    // DESIGN §4: rows urgency, columns impact.
    let table = [
        (Low, [(Low, 4), (Medium, 4), (High, 3)]),
        (Medium, [(Low, 4), (Medium, 3), (High, 2)]),
        (High, [(Low, 3), (Medium, 2), (High, 1)]),
    ];
    for (urgency, row) in table {
        for (impact, level) in row {
            assert_eq!(priority(impact, urgency), level, "urgency {urgency:?} impact {impact:?}");
        }
    }
}

proptest! {
    // No sequence of actions, by actors with any permissions and any fields filled in,
    // leaves an order in a state its workflow cannot reach, leaves a terminal state, or
    // loses where a suspended order resumes; a refused action changes nothing.
    #[test]
    fn no_action_sequence_leaves_an_undefined_state(
        type_index in 0usize..12,
        script in proptest::collection::vec((0usize..19, any::<u32>(), any::<bool>()), 0..80),
    ) {
        let t = &standard_types()[type_index];
        let w = &t.workflow;
        let reachable = w.reachable();
        let perms: Vec<&str> = ALL_PERMISSIONS.iter().map(|p| p.code).collect();
        let mut state = State::Registered;
        let mut susp: Option<State> = None;
        let all_fields: BTreeMap<String, String> = w
            .steps
            .iter()
            .flat_map(|s| s.required.iter().map(|f| (f.clone(), "x".to_string())))
            .collect();
        for (action_index, perm_mask, with_fields) in script {
            let action = Action::ALL[action_index];
            let has = |p: &str| perms.iter().position(|q| *q == p).is_some_and(|i| perm_mask & (1 << (i % 32)) != 0);
            let f = if with_fields { all_fields.clone() } else { BTreeMap::new() };
            // A refused action changes nothing: state and susp stay as they were.
            if let Ok(m) = w.next(state, susp, action, has, &f) {
                    prop_assert!(!state.is_terminal(), "{} left terminal {:?} by {:?}", t.code, state, action);
                    prop_assert_eq!(m.from, state);
                    prop_assert!(reachable.contains(&m.to), "{}: {:?} unreachable", t.code, m.to);
                    prop_assert_eq!(m.to == State::Suspended, m.suspended_from.is_some());
                    if action == Action::Resume {
                        prop_assert_eq!(Some(m.to), susp);
                    }
                    if action.keeps_state() {
                        prop_assert_eq!(m.to, state);
                    }
                    state = m.to;
                    susp = m.suspended_from;
            }
            prop_assert!(state != State::Suspended || susp.is_some_and(|s| s != State::Suspended));
        }
    }
}
