//! Work orders (issue 5). This part: the standard order types and the checks on edited
//! definitions (R-WO-02/04/08/13).

use waterdesk_domain::permissions::perm;
use waterdesk_domain::workflow::{Action, State, Workflow};
use waterdesk_services::ServiceError;
use waterdesk_services::audit::AuditCtx;
use waterdesk_services::orders::{OrderTypeInput, default_targets_by_level};

use crate::backend_test;
use crate::helpers::TestApp;

fn input(workflow: Workflow) -> OrderTypeInput {
    OrderTypeInput {
        name_zh: "报修单".into(),
        name_en: "Repair".into(),
        workflow,
        targets: default_targets_by_level(),
        calendar: None,
        enabled: true,
        sort_order: 10,
    }
}

fn code_of(e: ServiceError) -> String {
    match e {
        ServiceError::Validation { code, .. } => code.to_string(),
        other => format!("{other:?}"),
    }
}

// R-WO-02: the twelve standard types are there on first start, sound, and editable; an
// unsound definition is refused and the stored one stays.
backend_test!(standard_order_types_and_their_checks, |backend| async move {
    let app = TestApp::spawn(backend).await;
    let s = app.services();
    let sys = waterdesk_services::Principal::system();
    let ctx = AuditCtx::cli("test");
    let types = s.order_types(&sys).await.unwrap();
    assert_eq!(types.len(), 12);
    for t in &types {
        let w: Workflow = serde_json::from_str(&t.workflow).unwrap();
        assert!(w.check().is_empty(), "{}", t.code);
    }
    let repair = types.iter().find(|t| t.code == "repair").unwrap();
    assert_eq!(repair.name_zh, "报修单");
    let original: Workflow = serde_json::from_str(&repair.workflow).unwrap();

    // A dead end: dispatched orders can no longer be acknowledged (nor cancelled).
    let mut broken = original.clone();
    broken.steps.retain(|st| {
        !(st.from.contains(&State::Dispatched)
            && matches!(st.action, Action::Acknowledge | Action::Decline | Action::Reassign | Action::Cancel))
    });
    let e = s.order_type_update(&sys, "repair", &input(broken), &ctx).await.unwrap_err();
    assert_eq!(code_of(e), "unsound_workflow");
    // Missing SLA level, zero target, bad calendar, empty name.
    let mut i = input(original.clone());
    i.targets.remove("2");
    assert_eq!(code_of(s.order_type_update(&sys, "repair", &i, &ctx).await.unwrap_err()), "missing_level");
    let mut i = input(original.clone());
    i.targets.get_mut("1").unwrap().complete = Some(0);
    assert_eq!(code_of(s.order_type_update(&sys, "repair", &i, &ctx).await.unwrap_err()), "invalid_target");
    let mut i = input(original.clone());
    i.calendar = Some(waterdesk_domain::sla::Calendar::office(1000, 900));
    assert_eq!(code_of(s.order_type_update(&sys, "repair", &i, &ctx).await.unwrap_err()), "invalid_calendar");
    let mut i = input(original.clone());
    i.name_zh = "  ".into();
    assert_eq!(code_of(s.order_type_update(&sys, "repair", &i, &ctx).await.unwrap_err()), "invalid_name");
    let unchanged = s.order_types(&sys).await.unwrap().into_iter().find(|t| t.code == "repair").unwrap();
    assert_eq!(unchanged.workflow, repair.workflow, "refused edits change nothing");

    // A sound edit: office-hours calendar, repair renamed; audited.
    let mut i = input(original.clone());
    i.name_zh = "报修工单".into();
    i.calendar = Some(waterdesk_domain::sla::Calendar::office(510, 1050));
    let t = s.order_type_update(&sys, "repair", &i, &ctx).await.unwrap();
    assert_eq!(t.name_zh, "报修工单");
    assert!(t.calendar.contains("510"));
    let audit =
        s.audit_search(&sys, &waterdesk_store::audit::AuditFilter { limit: 5, ..Default::default() }).await.unwrap();
    assert!(audit.iter().any(|e| e.event_type == "order_type.update"));

    // Unknown type; a role without the permission.
    let e = s.order_type_update(&sys, "teleport", &input(original.clone()), &ctx).await.unwrap_err();
    assert!(matches!(e, ServiceError::NotFound { .. }), "{e:?}");
    let mut agent = sys.clone();
    agent.permissions = [perm::ORDER_READ.to_string()].into_iter().collect();
    let e = s.order_type_update(&agent, "repair", &input(original), &ctx).await.unwrap_err();
    assert!(matches!(e, ServiceError::Forbidden { .. }), "{e:?}");
    app.stop().await;
});
