//! Read models for the work-order pages (issue 5, R-WO-01/03/07/13): which actions the
//! user may take on an order now and what each asks for, the controlled vocabulary of
//! the step fields, and the names behind the ids of an order. Pure reads: every
//! transition still goes through `Services::order_act`, which decides again. (The crew a
//! dispatcher chooses from are `Services::dispatch_suggestions`.)

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use waterdesk_domain::permissions::perm;
use waterdesk_domain::workflow::{Action, State, Step, Workflow};
use waterdesk_store::orders::{self as repo, Order};
use waterdesk_store::{dicts, units, users};

use crate::orders::{crew_only, may_take_crew_step};
use crate::{Principal, ServiceError, ServiceResult, Services};

/// A value a step field may take, with its labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChoice {
    pub code: String,
    pub zh: String,
    pub en: String,
    /// Disabled dictionary items still label stored values but are not offered.
    pub enabled: bool,
}

/// How a step field is filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// One of `choices`.
    Select,
    /// A meter reading or another quantity.
    Number,
    /// A reply or a result: free text over several lines.
    LongText,
    Text,
}

/// A field a step requires.
#[derive(Debug, Clone, Serialize)]
pub struct FieldSpec {
    pub name: String,
    pub kind: FieldKind,
    /// For `Select`: the enabled choices.
    pub choices: Vec<FieldChoice>,
}

/// An action the user may take on an order now.
#[derive(Debug, Clone, Serialize)]
pub struct AvailableAction {
    pub action: Action,
    /// The fields the step requires, the note aside.
    pub fields: Vec<FieldSpec>,
    /// The step requires a note (a reason: reject, hand back, suspend, cancel …).
    pub note_required: bool,
    /// `dispatch` and `reassign` name the crew member.
    pub needs_assignee: bool,
}

/// The fields a step asks for: those it requires, and the reply to the customer when it
/// concludes an order of a type that must answer the customer and nobody has yet.
fn step_fields(step: &Step, workflow: &Workflow, order: &Order) -> Vec<String> {
    let mut out = step.required.clone();
    let concludes = step.to == State::Concluded
        && !step.action.keeps_state()
        && !matches!(step.action, Action::Resume | Action::Suspend);
    if concludes && workflow.customer_reply && order.replied_at.is_none() && !out.iter().any(|f| f == "reply") {
        out.push("reply".to_string());
    }
    out
}

/// The names behind the ids an order page shows (users, units).
#[derive(Debug, Clone, Default)]
pub struct Directory {
    pub users: BTreeMap<i64, String>,
    /// id → (Chinese name, English name).
    pub units: BTreeMap<i64, (String, String)>,
}

impl Directory {
    pub fn user(&self, id: Option<i64>) -> String {
        id.and_then(|i| self.users.get(&i).cloned()).unwrap_or_default()
    }

    /// A unit's name in the page's language (Chinese when there is no English name).
    pub fn unit(&self, id: i64, english: bool) -> String {
        match self.units.get(&id) {
            Some((_, en)) if english && !en.is_empty() => en.clone(),
            Some((zh, _)) => zh.clone(),
            None => String::new(),
        }
    }
}

/// Satisfaction of a return visit, as the campaigns record it too.
pub const SATISFACTION: [(&str, &str, &str); 3] = [
    ("satisfied", "满意", "Satisfied"),
    ("basically_satisfied", "基本满意", "Basically satisfied"),
    ("unsatisfied", "不满意", "Unsatisfied"),
];

/// Step fields whose values come from a managed dictionary (R-WO-13), by dictionary code.
const DICT_FIELDS: [&str; 2] = ["cause", "solution"];

/// The vocabulary of orders: step fields and the order's category, field → choices.
pub type Vocabulary = BTreeMap<String, Vec<FieldChoice>>;

fn kind_of(field: &str, vocabulary: &Vocabulary) -> FieldKind {
    match field {
        _ if vocabulary.get(field).is_some_and(|c| c.iter().any(|c| c.enabled)) => FieldKind::Select,
        f if f.ends_with("_reading") => FieldKind::Number,
        "reply" | "result" => FieldKind::LongText,
        _ => FieldKind::Text,
    }
}

impl Services {
    /// The controlled vocabulary of order fields: causes and solutions from their
    /// dictionaries, the contact categories, the satisfaction of a return visit. Anyone
    /// who can see orders can read the labels of what is on them.
    pub async fn order_vocabulary(&self, p: &Principal) -> ServiceResult<Vocabulary> {
        p.require(perm::ORDER_READ)?;
        let mut c = self.db.read().await?;
        let mut out = Vocabulary::new();
        for dict in DICT_FIELDS.into_iter().chain(["category"]) {
            let items = dicts::items(&mut c, dict, true).await?;
            let choices = items
                .into_iter()
                .map(|i| FieldChoice { code: i.code, zh: i.label_zh, en: i.label_en, enabled: i.enabled })
                .collect();
            out.insert(dict.to_string(), choices);
        }
        let sat = SATISFACTION
            .iter()
            .map(|(code, zh, en)| FieldChoice {
                code: code.to_string(),
                zh: zh.to_string(),
                en: en.to_string(),
                enabled: true,
            })
            .collect();
        out.insert("satisfaction".into(), sat);
        Ok(out)
    }

    /// What the user may do to `order` now: each step of its type's workflow from the
    /// current state whose permission the user holds — the crew's own steps only for the
    /// assignee, `resume` only when the state to resume to is known — with the fields
    /// the step asks for (the reply too when it concludes an order that still owes the
    /// customer one). The order is one the caller was allowed to read.
    pub async fn order_available_actions(&self, p: &Principal, order: &Order) -> ServiceResult<Vec<AvailableAction>> {
        p.require(perm::ORDER_READ)?;
        let workflow = {
            let mut c = self.db.read().await?;
            let t = repo::get_type(&mut c, &order.type_code)
                .await?
                .ok_or_else(|| ServiceError::Internal(format!("order type {}", order.type_code)))?;
            serde_json::from_str::<Workflow>(&t.workflow).map_err(|e| ServiceError::Internal(e.to_string()))?
        };
        let state =
            State::parse(&order.state).ok_or_else(|| ServiceError::Internal(format!("state {}", order.state)))?;
        let steps: Vec<_> = workflow
            .steps_from(state)
            .filter(|s| p.has(&s.permission))
            .filter(|s| !crew_only(s.action) || may_take_crew_step(p, order, s.action))
            .filter(|s| s.action != Action::Resume || order.suspended_from.as_deref().and_then(State::parse).is_some())
            .map(|s| (s.action, step_fields(s, &workflow, order)))
            .collect();
        let wants_vocabulary =
            steps.iter().flat_map(|(_, f)| f).any(|f| f == "satisfaction" || DICT_FIELDS.contains(&f.as_str()));
        let vocabulary = if wants_vocabulary { self.order_vocabulary(p).await? } else { Vocabulary::new() };
        Ok(steps
            .into_iter()
            .map(|(action, required)| AvailableAction {
                action,
                note_required: required.iter().any(|f| f == "note"),
                needs_assignee: matches!(action, Action::Dispatch | Action::Reassign),
                fields: required
                    .iter()
                    .filter(|f| *f != "note")
                    .map(|f| {
                        let kind = kind_of(f, &vocabulary);
                        let choices = match kind {
                            FieldKind::Select => vocabulary[f.as_str()].iter().filter(|c| c.enabled).cloned().collect(),
                            _ => vec![],
                        };
                        FieldSpec { name: f.clone(), kind, choices }
                    })
                    .collect(),
            })
            .collect())
    }

    /// The display names of the given users and of every unit.
    pub async fn order_directory(
        &self,
        p: &Principal,
        user_ids: impl IntoIterator<Item = i64>,
    ) -> ServiceResult<Directory> {
        p.require(perm::ORDER_READ)?;
        let mut c = self.db.read().await?;
        let mut d = Directory::default();
        for id in user_ids.into_iter().collect::<BTreeSet<_>>() {
            if let Some(u) = users::get(&mut c, id).await? {
                d.users.insert(id, u.display_name);
            }
        }
        d.units = units::list(&mut c).await?.into_iter().map(|u| (u.id, (u.name, u.name_en))).collect();
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> Vocabulary {
        let c = |code: &str, enabled| FieldChoice { code: code.into(), zh: code.into(), en: code.into(), enabled };
        [("cause".to_string(), vec![c("pipe_burst", true)]), ("solution".to_string(), vec![c("old", false)])]
            .into_iter()
            .collect()
    }

    #[test]
    fn field_kinds() {
        let v = vocab();
        assert_eq!(kind_of("cause", &v), FieldKind::Select);
        // A dictionary without enabled items cannot be chosen from: typed instead.
        assert_eq!(kind_of("solution", &v), FieldKind::Text);
        assert_eq!(kind_of("old_reading", &v), FieldKind::Number);
        assert_eq!(kind_of("reply", &v), FieldKind::LongText);
        assert_eq!(kind_of("new_serial", &v), FieldKind::Text);
    }

    #[test]
    fn crew_steps() {
        assert!(crew_only(Action::Acknowledge) && crew_only(Action::Complete));
        assert!(!crew_only(Action::Dispatch) && !crew_only(Action::Urge));
    }
}
